"""Phase 3: every in-scope track in exactly one cluster (or explained in ``unplaced``).

Steps (reference, "Phase 3: Reassignment"):

1. Greedy dedup: clusters by coherence, highest first (unmeasured coherence, a naming fallback,
   counts as a neutral 5; ties: larger cluster, then id); each track stays in the first cluster
   holding it; emptied clusters are removed.
2. ``to_reassign`` = orphans (in scope, in no cluster) ∪ poor fits. Our reading of the reference: a
   poor fit is flagged by the cluster it sits in, so it leaves that cluster first and is placed like
   an orphan (it may well come back); a flag raised by a cluster that lost the track in the dedup
   is moot. Clusters emptied by this stay available as targets until the end.
3. LLM passes (at most ``max_passes``), each sending the tracks still unplaced; stop early when fewer
   than ``stop_below`` of a pass's tracks moved.
   * seed profile (the reference): serial batches of 80, each with the compact summary of ALL
     clusters (id, title, current track_count), tracks as title/artist/year/comment[:100].
   * default profile: tracks whose best cluster wins clearly on filter score (``preassign_min_score``,
     ``preassign_margin``) are placed without the LLM; the rest go out with only their top
     ``candidates`` clusters each, so every batch is independent and all run in parallel
     (``workers``); batches are cut from tracks sorted by genre lineage, so a batch shares few
     clusters. A track the model rejected ("unassigned") is offered its next candidates next pass.
4. Fallback: every remaining track goes to its best cluster by affinity, in tiers: (3) filter score
   (``scored_search`` over the cluster's merged filters) when some cluster's genre/scene values
   match; else (2) the deepest match of the track's genre tags in a cluster's genre lineage; else
   (1) its scene tags in a cluster's scene lineage; else (0) the nearest year range. Within a tier
   ties go to the dedup order. Only a track with no usable facet stays unplaced, with a reason.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from collection_tree.core.clusters import Cluster, ClusterSet
from collection_tree.core.report import PhaseReport, figure
from collection_tree.core.search import FacetIndex, score_matrix
from collection_tree.llm.interface import LLM, LLMError
from collection_tree.phases.common import (
    PhaseParams,
    Progress,
    briefs,
    chunks,
    no_progress,
    param,
    run_batches,
    track_lookup,
)
from collection_tree.tasks.reassign_tracks import TASK, UNASSIGNED

log = logging.getLogger(__name__)

NEUTRAL_COHERENCE = 5.0
TIER_METHODS = {3: "filters", 2: "genre_lineage", 1: "scene_lineage", 0: "year"}
COLUMN_CHUNK = 256  # clusters scored at a time: bounds the temporary matrices


@dataclass(frozen=True)
class ReassignParams(PhaseParams):
    batch_size: int = param(150, "Tracks per LLM call")
    max_passes: int = param(3, "LLM passes at most")
    stop_below: float = param(0.05, "Stop when a pass moves fewer than this share of its tracks")
    workers: int = param(8, "Parallel calls per pass (1: serial)")
    preassign: bool = param(True, "Place clear cases by filter score, without the LLM")
    preassign_min_score: float = param(0.5, "Filter score in [0, 1] the best cluster needs to be placed without "
                                            "the LLM")
    preassign_margin: float = param(0.05, "Lead over the runner-up it needs (ties: ambiguous, the LLM decides)")
    candidates: int = param(8, "Clusters offered per track (0: the compact summary of every cluster, as the "
                               "reference)")
    include_context: bool = param(True, "Genre/scene titles in the cluster summaries")
    comment_chars: int = param(100, "Comment characters per track")
    max_tokens: int = param(8192, "Answer token limit per call")
    # A playlist of 1-4 tracks is not a playlist; 0 keeps them, as the reference did.
    min_cluster_size: int = param(5, "Fold clusters left smaller than this into their tracks' best other "
                                     "clusters (0: keep them)")

    PHASE: ClassVar[str] = "reassignment"
    # The reference: serial, 80 per call, every cluster, no pre-assignment.
    SEED: ClassVar[dict[str, Any]] = {"batch_size": 80, "workers": 1, "preassign": False, "candidates": 0,
                                      "include_context": False, "min_cluster_size": 0}

    def validate(self) -> None:
        self.require_at_least(1, "batch_size", "workers", "max_tokens")
        if self.max_passes < 0 or self.candidates < 0 or self.min_cluster_size < 0:
            raise ValueError("max_passes, candidates and min_cluster_size must be >= 0")


@dataclass(frozen=True)
class ReassignReport(PhaseReport):
    clusters_in: int
    clusters_after_dedup: int
    clusters_out: int
    emptied_removed: int
    memberships_dropped_by_dedup: int
    orphans: int
    poor_fits: int
    to_reassign: int
    preassigned: int
    # One row per LLM pass: the convergence table.
    passes: list[dict[str, Any]] = figure(table=("pass", "tracks_sent", "moved", "pct_moved", "calls", "serial_calls",
                                                 "failed_batches"))
    llm_assigned: int
    fallback_assigned: int
    fallback_by: dict[str, int]  # tier method -> tracks
    unplaced: int
    small_clusters_folded: int
    tracks_moved_by_fold: int
    calls: int
    serial_calls: int
    params: dict[str, Any] = figure(hidden=True)  # the run's parameters, kept with the stored output


# ----------------------------------------------------------------------------------- step 1
def dedup_order(clusters: Sequence[Cluster]) -> list[Cluster]:
    """Highest coherence first; ties: larger cluster, then id (deterministic)."""
    def key(c: Cluster) -> tuple[float, int, str]:
        coherence = c.coherence if c.coherence is not None else NEUTRAL_COHERENCE
        return (-coherence, -len(set(c.track_ids)), c.id)

    return sorted(clusters, key=key)


def greedy_dedup(clusters: Sequence[Cluster], scope: set[int]) -> tuple[list[Cluster], dict[int, str]]:
    """Each in-scope track kept by the first cluster (in dedup order) holding it; empties removed."""
    owner: dict[int, str] = {}
    ordered = dedup_order(clusters)
    for cluster in ordered:
        for t in cluster.track_ids:
            t = int(t)
            if t in scope and t not in owner:
                owner[t] = cluster.id
    kept = []
    for cluster in ordered:
        mine = sorted({int(t) for t in cluster.track_ids if owner.get(int(t)) == cluster.id})
        if mine:
            kept.append(replace(cluster, track_ids=mine))
    return kept, owner


# ------------------------------------------------------------------------------ affinities
def _value_filters(filters: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in filters.items() if not k.endswith("_range")}


def _segments(lineage: str, fallback: str) -> list[str]:
    parts = [p.strip() for p in (lineage or fallback or "").split(">")]
    return [p for p in parts if p]


def _scene_keys(segment: str) -> set[str]:
    """A scene lineage segment as tags could name it: "UK & Ireland 2000-2004" -> uk, ireland, ..."""
    bare = re.sub(r"\b\d{4}(\s*[-–]\s*\d{4})?\b", "", segment).strip()
    keys = {segment.casefold(), bare.casefold()}
    keys.update(p.strip().casefold() for p in re.split(r"\s*(?:&|,|/)\s*", bare))
    return {k for k in keys if k}


def _rows_by_value(values: pd.Series) -> dict[str, np.ndarray]:
    out: dict[str, list[int]] = {}
    for row, items in enumerate(values.tolist()):
        for item in items if isinstance(items, list | tuple | np.ndarray) else []:
            out.setdefault(str(item).strip().casefold(), []).append(row)
    return {k: np.asarray(v, dtype=np.int64) for k, v in out.items()}


def _lineage_depth(rows_by_value: dict[str, np.ndarray], segment_keys: list[set[str]], n: int) -> np.ndarray:
    """Per track: how deep its tags reach into this lineage, as a fraction of the lineage (0 = none)."""
    depth = np.zeros(n, dtype=np.float32)
    for i, keys in enumerate(segment_keys):
        level = (i + 1) / len(segment_keys)
        for key in keys:
            rows = rows_by_value.get(key)
            if rows is not None:
                depth[rows] = np.maximum(depth[rows], level)
    return depth


@dataclass
class Affinity:
    """Tiered affinity of tracks (rows) to clusters (columns): 3 + filter score when a value facet
    matches, else 2 + (genre lineage), 1 + (scene lineage), or year proximity below 1. 0: nothing."""

    track_ids: np.ndarray
    row: dict[int, int]
    value: np.ndarray  # float32, tracks x clusters

    def tier(self, row: int, col: int) -> int:
        return min(int(self.value[row, col]), 3) if self.value[row, col] > 0 else -1


def affinity(index: FacetIndex, clusters: Sequence[Cluster], track_ids: Sequence[int]) -> Affinity:
    rows = index.rows_of(track_ids)
    ids = index.track_ids[rows]
    subset = index.tracks.iloc[rows].reset_index(drop=True)
    n, m = len(ids), len(clusters)
    value = np.zeros((n, m), dtype=np.float32)
    if n == 0 or m == 0:
        return Affinity(ids, {int(t): i for i, t in enumerate(ids.tolist())}, value)
    genre_rows = _rows_by_value(subset["genre"]) if "genre" in subset else {}
    scene_rows = _rows_by_value(subset["scene_tags"]) if "scene_tags" in subset else {}
    years = pd.to_numeric(subset["year"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    year_of = dict(zip(index.track_ids.tolist(),
                       pd.to_numeric(index.tracks["year"], errors="coerce").tolist(), strict=True))
    for start in range(0, m, COLUMN_CHUNK):
        chunk = clusters[start: start + COLUMN_CHUNK]
        full, _ = score_matrix(index, [c.filters for c in chunk], ids)
        facet, _ = score_matrix(index, [_value_filters(c.filters) for c in chunk], ids)
        for j, cluster in enumerate(chunk):
            genre = _lineage_depth(genre_rows, [{s.casefold()} for s in
                                                _segments(cluster.genre_lineage, cluster.genre_title)], n)
            scene = _lineage_depth(scene_rows, [_scene_keys(s) for s in
                                                _segments(cluster.scene_lineage, cluster.scene_title)], n)
            near = _year_proximity(cluster, years, year_of)
            value[:, start + j] = np.where(
                facet[:, j] > 0, 3.0 + full[:, j],
                np.where(genre > 0, 2.0 + 0.5 * genre + 0.49 * near,
                         np.where(scene > 0, 1.0 + 0.5 * scene + 0.49 * near, 0.99 * near)))
    return Affinity(ids, {int(t): i for i, t in enumerate(ids.tolist())}, value)


def _year_proximity(cluster: Cluster, years: np.ndarray, year_of: dict[int, float]) -> np.ndarray:
    """1 inside the cluster's year range (its filter, else its members' years), 1/(1+gap) outside."""
    span = cluster.filters.get("year_range")
    if not (isinstance(span, list | tuple) and len(span) == 2):
        member_years = [year_of[t] for t in cluster.track_ids if t in year_of and not math.isnan(year_of[t])]
        span = (min(member_years), max(member_years)) if member_years else None
    if span is None:
        return np.zeros(len(years), dtype=np.float32)
    lo, hi = float(span[0]), float(span[1])
    gap = np.where(years < lo, lo - years, np.where(years > hi, years - hi, 0.0))
    return np.where(np.isnan(years), 0.0, 1.0 / (1.0 + gap)).astype(np.float32)


def unplaced_reason(track: pd.Series | None) -> str:
    if track is None:
        return "not in the tracks table: no facets to place it by"
    genre = list(track.get("genre") or [])
    scene = list(track.get("scene_tags") or [])
    has_year = not pd.isna(track.get("year"))
    if not genre and not scene and not has_year:
        return "no genre, scene tag or year to place it by"
    said = []
    if genre:
        said.append(f"genre tags ({', '.join(genre[:3])})")
    if scene:
        said.append(f"scene tags ({', '.join(scene[:3])})")
    tail = "" if has_year else ", and it has no year"
    return f"its {' and '.join(said) or 'facets'} match no cluster's filters or lineages{tail}"


# ------------------------------------------------------------------------------------ state
class _Placement:
    """Who holds which track, plus counts for the summaries."""

    def __init__(self, clusters: list[Cluster], owner: dict[int, str]):
        self.clusters = clusters
        self.column = {c.id: j for j, c in enumerate(clusters)}
        self.owner = dict(owner)
        self.lock = threading.Lock()

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(self.column, 0)
        for cid in self.owner.values():
            out[cid] += 1
        return out

    def place(self, track_id: int, cluster_id: str) -> bool:
        with self.lock:
            if track_id in self.owner:
                return False
            self.owner[track_id] = cluster_id
            return True

    def result(self) -> list[Cluster]:
        members: dict[str, list[int]] = {c.id: [] for c in self.clusters}
        for t, cid in self.owner.items():
            members[cid].append(t)
        out = []
        for cluster in self.clusters:
            mine = sorted(members[cluster.id])
            if mine:
                keep = set(mine)
                out.append(replace(cluster, track_ids=mine,
                                   poor_fit_track_ids=[t for t in cluster.poor_fit_track_ids if t in keep]))
        return out


# --------------------------------------------------------------------------------- the phase
def reassign_tracks(
    named: ClusterSet,
    tracks: pd.DataFrame,
    llm: LLM,
    params: ReassignParams | None = None,
    progress: Progress = no_progress,
) -> ClusterSet:
    params = params or ReassignParams.for_profile("default")
    scope_ids = list(dict.fromkeys(int(t) for t in named.all_track_ids))
    scope = set(scope_ids)
    lookup = track_lookup(tracks)

    # Step 1: greedy dedup.
    memberships_in = sum(len(c.track_ids) for c in named.clusters)
    clusters, owner = greedy_dedup(named.clusters, scope)
    kept_memberships = len(owner)

    # Step 2: orphans and poor fits (only the flag of the cluster that holds the track counts).
    poor = sorted({int(t) for c in clusters for t in c.poor_fit_track_ids if owner.get(int(t)) == c.id})
    for t in poor:
        del owner[t]
    poor_set = set(poor)
    orphans = [t for t in scope_ids if t not in owner and t not in poor_set]
    to_reassign = sorted(set(orphans) | set(poor))
    unknown = [t for t in to_reassign if t not in lookup.index]
    placeable = [t for t in to_reassign if t in lookup.index]
    state = _Placement(clusters, owner)
    progress(0.02, f"dedup: {len(named.clusters)} -> {len(clusters)} clusters; {len(orphans)} orphans + "
                   f"{len(poor)} poor fits to place")

    index = FacetIndex(tracks)
    aff = affinity(index, clusters, placeable)
    progress(0.08, f"affinities of {len(placeable)} tracks to {len(clusters)} clusters")

    # Step 3a (default): clear cases by score.
    preassigned = _preassign(aff, state, params) if params.preassign and clusters else []
    pending = [t for t in placeable if t not in state.owner]

    # Step 3b: LLM passes.
    passes, llm_placed = _Passes(aff, state, lookup, llm, params, progress).run(pending)

    # Step 4: fallback by affinity tiers; unplaced only without any usable facet.
    fallback_by: dict[str, int] = {}
    unplaced: list[dict[str, Any]] = [{"track_id": t, "reason": unplaced_reason(None)} for t in unknown]
    for t in placeable:
        if t in state.owner:
            continue
        row = aff.row[t]
        col = int(np.argmax(aff.value[row])) if clusters else 0
        if not clusters or aff.value[row, col] <= 0:
            reason = unplaced_reason(lookup.loc[t]) if clusters else "no clusters to place it into"
            unplaced.append({"track_id": t, "reason": reason})
            continue
        state.place(t, clusters[col].id)
        method = TIER_METHODS[aff.tier(row, col)]
        fallback_by[method] = fallback_by.get(method, 0) + 1

    final = state.result()
    final, folded = fold_small_clusters(final, index, params.min_cluster_size)
    report = ReassignReport(
        clusters_in=len(named.clusters),
        clusters_after_dedup=len(clusters),
        clusters_out=len(final),
        emptied_removed=len(clusters) - len(final),
        memberships_dropped_by_dedup=memberships_in - kept_memberships,
        orphans=len(orphans),
        poor_fits=len(poor),
        to_reassign=len(to_reassign),
        preassigned=len(preassigned),
        passes=passes,
        llm_assigned=llm_placed,
        fallback_assigned=sum(fallback_by.values()),
        fallback_by=fallback_by,
        unplaced=len(unplaced),
        small_clusters_folded=folded["clusters"],
        tracks_moved_by_fold=folded["tracks"],
        calls=sum(p["calls"] for p in passes),
        serial_calls=sum(p["serial_calls"] for p in passes),
        params={f.name: getattr(params, f.name) for f in fields(params)},
    )
    progress(1.0, f"{len(final)} clusters; preassigned {len(preassigned)}, by LLM {llm_placed}, "
                  f"fallback {report.fallback_assigned}, unplaced {len(unplaced)}")
    return ClusterSet(clusters=final, all_track_ids=scope_ids, unplaced=unplaced, report=report)


def fold_small_clusters(clusters: list[Cluster], index: FacetIndex,
                        min_size: int) -> tuple[list[Cluster], dict[str, int]]:
    """Move the tracks of clusters under ``min_size`` to their best cluster of at least that size
    (by the same tiered affinity as the fallback, but only on a facet or lineage match: year
    proximity alone does not make a track belong). A track with no such match stays where it is,
    so its small cluster survives rather than a track landing somewhere it does not fit."""
    small = [c for c in clusters if len(c.track_ids) < min_size]
    big = [c for c in clusters if len(c.track_ids) >= min_size]
    if min_size <= 1 or not small or not big:
        return clusters, {"clusters": 0, "tracks": 0}
    moving = sorted(t for c in small for t in c.track_ids)
    aff = affinity(index, big, moving)
    gained: dict[int, list[int]] = {}
    moved: set[int] = set()
    for t in moving:
        row = aff.row.get(t)
        if row is None:
            continue
        col = int(np.argmax(aff.value[row]))
        if aff.value[row, col] >= 1.0:  # tiers 1-3: scene lineage, genre lineage, filters
            gained.setdefault(col, []).append(t)
            moved.add(t)
    out = [replace(c, track_ids=sorted(c.track_ids + gained.get(j, []))) for j, c in enumerate(big)]
    kept_small = []
    for c in small:
        rest = [t for t in c.track_ids if t not in moved]
        if rest:
            kept_small.append(replace(c, track_ids=rest,
                                      poor_fit_track_ids=[t for t in c.poor_fit_track_ids if t in set(rest)]))
    folded = len(small) - len(kept_small)
    return out + kept_small, {"clusters": folded, "tracks": len(moved)}


def _preassign(aff: Affinity, state: _Placement, params: ReassignParams) -> list[int]:
    """Tracks whose best cluster matches on filters (tier 3) with at least ``preassign_min_score``
    and beats the runner-up by ``preassign_margin``."""
    value = aff.value
    if value.shape[0] == 0 or value.shape[1] == 0:
        return []
    best_col = np.argmax(value, axis=1)
    best = value[np.arange(len(value)), best_col]
    second = np.partition(value, -2, axis=1)[:, -2] if value.shape[1] > 1 else np.zeros(len(value))
    clear = (best >= 3.0 + params.preassign_min_score) & (best - second >= params.preassign_margin)
    placed = []
    for row in np.flatnonzero(clear).tolist():
        t = int(aff.track_ids[row])
        if state.place(t, state.clusters[int(best_col[row])].id):
            placed.append(t)
    return placed


def _ranked_columns(aff: Affinity, row: int, limit: int) -> list[int]:
    values = aff.value[row]
    positive = np.flatnonzero(values > 0)
    # Best first; ties keep the dedup order (column index breaks them).
    return [int(c) for c in positive[np.lexsort((positive, -values[positive]))][:limit]]


@dataclass
class _BatchOutcome:
    answers: dict[int, str]
    placed: int = 0
    error: str = ""
    called: bool = True


class _Passes:
    """Step 3's LLM passes over the tracks left after pre-assignment."""

    def __init__(self, aff: Affinity, state: _Placement, lookup: pd.DataFrame, llm: LLM,
                 params: ReassignParams, progress: Progress):
        self.aff, self.state, self.lookup, self.llm = aff, state, lookup, llm
        self.params, self.progress = params, progress
        self.clusters = state.clusters
        self.serial = params.workers <= 1
        self.fatal = threading.Event()  # a bad key fails every call the same way: stop asking
        self.offset: dict[int, int] = {}
        self.ranked: dict[int, list[int]] = {}

    def run(self, pending: list[int]) -> tuple[list[dict[str, Any]], int]:
        params, k = self.params, self.params.candidates
        self.offset = dict.fromkeys(pending, 0)
        if k:
            depth = k * max(params.max_passes, 1)
            self.ranked = {t: _ranked_columns(self.aff, self.aff.row[t], depth) for t in pending}
        passes: list[dict[str, Any]] = []
        todo = list(pending)
        for number in range(1, params.max_passes + 1):
            if k:
                todo = [t for t in todo if self.offset[t] < len(self.ranked[t])]
                # Grouped by the genre lineage of the best remaining candidate: a batch shares few clusters.
                todo.sort(key=self._group_key)
            if not todo or not self.clusters:
                break
            record, rejected = self._one_pass(number, todo)
            passes.append(record)
            todo = [t for t in todo if t not in self.state.owner]
            for t in todo:
                if k and t in rejected:  # the model turned these candidates down: offer the next ones
                    self.offset[t] += k
            if record["moved"] < params.stop_below * record["tracks_sent"]:
                break
        return passes, sum(p["moved"] for p in passes)

    def _group_key(self, t: int) -> tuple[str, int, int]:
        col = self.ranked[t][self.offset[t]]
        return (self.clusters[col].genre_lineage.split(">")[0].strip(), col, t)

    def _one_pass(self, number: int, todo: list[int]) -> tuple[dict[str, Any], set[int]]:
        params = self.params
        batches = chunks(todo, params.batch_size)
        # Parallel batches all see the counts at the start of the pass (deterministic payloads);
        # serial ones (the reference) see the counts left by the previous batch.
        snapshot = None if self.serial else self.state.counts()
        lo, width = 0.1 + 0.85 * (number - 1) / params.max_passes, 0.85 / params.max_passes

        def work(batch: list[int]) -> _BatchOutcome:
            return self._batch(batch, snapshot)

        def batch_progress(fraction: float, message: str) -> None:
            self.progress(lo + width * fraction, f"pass {number}: {message}")

        outcomes = run_batches(batches, work, workers=params.workers, stop_event=self.llm.stop_event,
                               progress=batch_progress, label="reassignment batch")
        rejected: set[int] = set()
        moved = 0
        for outcome in outcomes:
            moved += outcome.placed if self.serial else _apply(outcome.answers, self.state)
            rejected.update(t for t, cid in outcome.answers.items() if cid == UNASSIGNED)
        calls = sum(o.called for o in outcomes)
        record = {
            "pass": number, "tracks_sent": len(todo), "moved": moved,
            "pct_moved": round(100.0 * moved / len(todo), 1), "calls": calls,
            "serial_calls": calls if self.serial else math.ceil(calls / params.workers),
            "failed_batches": sum(1 for o in outcomes if o.error),
        }
        return record, rejected

    def _batch(self, batch: list[int], snapshot: dict[str, int] | None) -> _BatchOutcome:
        if self.fatal.is_set():
            return _BatchOutcome({}, error="skipped after a fatal LLM error", called=False)
        payload = self._payload(batch, snapshot if snapshot is not None else self.state.counts())
        request = replace(TASK.request(payload), max_tokens=self.params.max_tokens)
        try:
            answer = self.llm.call(request)
        except LLMError as exc:  # StopRequested is not an LLMError: it propagates
            if getattr(exc, "fatal", False):
                self.fatal.set()
            log.warning("reassignment batch of %d tracks failed: %s", len(batch), exc)
            return _BatchOutcome({}, error=str(exc))
        # The client normalised the answer; a bare LLM object might not have: keep only this batch's
        # tracks and known clusters, so nothing unknown can enter the membership.
        sent = set(batch)
        answers = {int(a["track_id"]): str(a["cluster_id"]) for a in answer["assignments"]
                   if a.get("track_id") in sent and (a.get("cluster_id") == UNASSIGNED
                                                     or a.get("cluster_id") in self.state.column)}
        return _BatchOutcome(answers, placed=_apply(answers, self.state) if self.serial else 0)

    def _payload(self, batch: list[int], counts: dict[str, int]) -> dict[str, Any]:
        k = self.params.candidates
        items = briefs(self.lookup, batch, self.params.comment_chars)
        if k:
            cols_of = {t: self.ranked[t][self.offset[t]: self.offset[t] + k] for t in batch}
            for item in items:
                item["candidates"] = [self.clusters[c].id for c in cols_of[item["track_id"]]]
            used = sorted({c for cols in cols_of.values() for c in cols})
        else:
            used = list(range(len(self.clusters)))
        summaries = []
        for c in used:
            cluster = self.clusters[c]
            summary: dict[str, Any] = {"cluster_id": cluster.id, "title": cluster.title,
                                       "track_count": counts[cluster.id]}
            if self.params.include_context:
                summary["genre"], summary["scene"] = cluster.genre_title, cluster.scene_title
            summaries.append(summary)
        return {"clusters": summaries, "tracks": items}


def _apply(answers: dict[int, str], state: _Placement) -> int:
    """Place answered tracks (each at most once); returns how many were placed."""
    return sum(1 for t, cid in answers.items() if cid != UNASSIGNED and state.place(t, cid))
