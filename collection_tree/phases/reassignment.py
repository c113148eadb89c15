"""Phase 3: every in-scope track in exactly one cluster (or explained in ``unplaced``).

Steps (reference, "Phase 3: Reassignment"), every placement scored by the track similarity model
(``core.similarity``: cosine of a track to a cluster's centroid) and checked by the lineage guard
(``core.lineage``: a track with genre lineages never enters a cluster of another lineage, whoever
proposes it):

1. Greedy dedup: clusters by coherence, highest first (unmeasured coherence, a naming fallback,
   counts as a neutral 5; ties: larger cluster, then id); each track stays in the first cluster
   holding it; emptied clusters are removed.
2. ``to_reassign`` = orphans (in scope, in no cluster) ∪ poor fits. A poor fit is flagged by the
   cluster it sits in (the LLM's flag; a flag raised by a cluster that lost the track in the dedup
   is moot) or, in the default profile, by similarity: a member whose best other allowed cluster
   beats its own by ``poor_fit_margin``. It leaves its cluster first and is placed like an orphan (it
   may well come back). Clusters emptied by this stay available as targets until the end. Cluster
   centroids are taken once, from the members after the dedup.
3. LLM passes (at most ``max_passes``), each sending the tracks still unplaced; stop early when fewer
   than ``stop_below`` of a pass's tracks moved, or (``stop_below_batch``, the default profile) before a
   pass after the first that would send fewer tracks than one batch: the fallback (step 4) places them.
   * seed profile (the reference): serial batches of 80, each with the compact summary of ALL
     clusters (id, title, current track_count), tracks as title/artist/year/comment[:100]; an answer
     naming a cluster of another lineage is refused (the track stays for the next pass).
   * default profile: tracks whose best allowed cluster scores at least ``preassign_min_score`` and
     beats the runner-up by ``preassign_margin`` are placed without the LLM; the rest go out with only
     their top ``candidates`` allowed clusters each, so every batch is independent and all run in
     parallel (``workers``); batches are cut from tracks sorted by genre lineage, so a batch shares
     few clusters, and evenly filled, growing up to ``max_batch_size`` so a pass is one wave of calls
     (``common.wave_chunks``). Clusters go out as short handles (``c12``: the cluster's column; ``short_ids``),
     mapped back and checked against the handles offered. A track the model rejected ("unassigned") is
     offered its next candidates next pass.
4. Fallback: every remaining track goes to its best allowed cluster by similarity (a track with a
   lineage goes to the best cluster of its lineage even when they share nothing else); with
   ``fallback_skips_rejected`` (the default profile), a track the model answered "unassigned" goes to
   its best candidate after those it turned down (when it has one), not back into a rejected one. Unplaced, with
   a reason: tracks whose lineage has no cluster, and tracks without a lineage that share nothing
   with any cluster.
5. Clusters left under ``min_cluster_size`` are folded into their tracks' best allowed cluster.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from collection_tree.core.clusters import Cluster, ClusterSet
from collection_tree.core.lineage import GenreLineages
from collection_tree.core.report import PhaseReport, figure
from collection_tree.core.similarity import Ranked, TrackSimilarity
from collection_tree.llm.interface import LLM, LLMError
from collection_tree.phases.common import (
    LLMPhaseParams,
    Progress,
    TrackBriefs,
    briefs,
    call_batches,
    no_progress,
    param,
    run_batches,
    track_lookup,
)
from collection_tree.phases.placement import Guard, fold_small_clusters, no_cluster_reason
from collection_tree.tasks.reassign_tracks import TASK, UNASSIGNED

log = logging.getLogger(__name__)

NEUTRAL_COHERENCE = 5.0


@dataclass(frozen=True)
class ReassignParams(LLMPhaseParams):
    # A big pass grows its batches (max_batch_size) rather than take a second wave. Measured offline
    # (benchmarks.quality): demo AMI 0.9128 at 80 (8 calls), 0.9136 at 100 (6), 0.9131 at 150 (4).
    batch_size: int = param(100, "Tracks per LLM call")
    max_passes: int = param(3, "LLM passes at most")
    stop_below: float = param(0.05, "Stop when a pass moves fewer than this share of its tracks")
    # Off, the few tracks left after pass 1 cost one more round-trip (two on genius-2000s) each. On alone, it
    # cost genius-2000s category lineage purity 0.9916 -> 0.9910 (offline), because the fallback then put
    # tracks the model turned down into the cluster it rejected; with fallback_skips_rejected: 0.9916, leaf
    # title fit 0.9673 -> 0.9719 (demo: 0.9930 -> 0.9919, AMI 0.9133 -> 0.9136).
    stop_below_batch: bool = param(True, "No further pass (after the first) for fewer tracks than one batch; "
                                         "they are placed by similarity")
    fallback_skips_rejected: bool = param(True, "The fallback places a track the model answered \"unassigned\" in "
                                                "its best candidate after those it turned down (false: its best "
                                                "allowed cluster, as the reference)")
    # One wave is one round-trip: a pass of more than workers x batch_size tracks grows its batches instead.
    max_batch_size: int = param(400, "Tracks per call at most when a pass's batches grow to fit one wave of "
                                     "workers, evenly filled (0: fixed batches of batch_size, the last one short)")
    # A cluster id ("rock-nu-metal__usa-metal-2000-2004") is ~10 output tokens echoed per track.
    short_ids: bool = param(True, "Clusters go out as short handles (c12) mapped back to their ids (false: their "
                                  "ids, as the reference)")
    workers: int = param(8, "Parallel calls per pass (1: serial)")
    preassign: bool = param(True, "Place clear cases by similarity, without the LLM")
    preassign_min_score: float = param(0.5, "Similarity in [0, 1] the best allowed cluster needs for a track to be "
                                            "placed without the LLM")
    preassign_margin: float = param(0.05, "Lead over the runner-up it needs (less: ambiguous, the LLM decides)")
    candidates: int = param(8, "Clusters offered per track (0: the compact summary of every cluster, as the "
                               "reference)")
    include_context: bool = param(True, "Genre/scene titles in the cluster summaries")
    comment_chars: int = param(100, "Comment characters per track")
    max_tokens: int = param(8192, "Answer token limit per call")
    similarity_poor_fits: bool = param(True, "Also re-place members whose best other allowed cluster is more "
                                             "similar than their own by poor_fit_margin")
    poor_fit_margin: float = param(0.1, "Similarity lead that makes a member a poor fit")
    # A playlist of 1-4 tracks is not a playlist; 0 keeps them, as the reference did.
    min_cluster_size: int = param(5, "Fold clusters left smaller than this into their tracks' best other "
                                     "clusters (0: keep them)")
    # Measured (benchmarks/identity.py, 6,000 genius tracks, 5% replaced): leaves keeping their id
    # 74.8% -> 93%; an unchanged rebuild stays identical (the previous placement is a fixed point).
    keep_previous: bool = param(True, "A track keeps the seed cluster the previous build's dedup gave it, and a "
                                      "track to place the cluster the previous build placed it in, while that "
                                      "cluster still holds it or is among its candidates (playlists stay stable "
                                      "as the collection changes; off: every build from scratch)")

    PHASE: ClassVar[str] = "reassignment"
    # The reference: serial, 80 per call, every cluster, no pre-assignment.
    SEED: ClassVar[dict[str, Any]] = {"batch_size": 80, "workers": 1, "preassign": False, "candidates": 0,
                                      "include_context": False, "min_cluster_size": 0,
                                      "similarity_poor_fits": False, "keep_previous": False,
                                      "stop_below_batch": False, "fallback_skips_rejected": False,
                                      "max_batch_size": 0, "short_ids": False}

    def validate(self) -> None:
        self.require_at_least(1, "batch_size", "workers", "max_tokens")
        if self.max_passes < 0 or self.candidates < 0 or self.min_cluster_size < 0:
            raise ValueError("max_passes, candidates and min_cluster_size must be >= 0")
        if self.poor_fit_margin < 0:
            raise ValueError("poor_fit_margin must be >= 0")
        self.require_batch_growth()


@dataclass(frozen=True)
class ReassignReport(PhaseReport):
    clusters_in: int
    clusters_after_dedup: int
    clusters_out: int
    emptied_removed: int
    memberships_dropped_by_dedup: int
    orphans: int
    poor_fits: int
    similarity_poor_fits: int  # of poor_fits: found by the similarity model, not the LLM
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
    # lineages, refused proposals by source, tracks left unplaced for want of a cluster of their lineage,
    # violations left (0).
    lineage_guard: dict[str, Any]
    calls: int
    serial_calls: int
    params: dict[str, Any] = figure(hidden=True)  # the run's parameters, kept with the stored output
    # Tracks the previous build's placement decided: kept in their dedup cluster / placed where it placed them.
    kept_previous: dict[str, int] = figure(default_factory=dict)
    # What the next build keeps (PreviousPlacement): track id -> cluster id, stored, not shown.
    dedup_owners: dict[str, str] = figure(hidden=True, default_factory=dict)
    placed_owners: dict[str, str] = figure(hidden=True, default_factory=dict)


@dataclass(frozen=True)
class PreviousPlacement:
    """The previous build's phase-3 decisions: the seed cluster dedup kept each multi-cluster track in,
    and the cluster each track to place was placed in (before folding). Given back to an unchanged
    collection they reproduce the previous result exactly; on a changed one they keep tracks where they
    were unless their cluster is gone or no longer a candidate."""

    dedup: Mapping[int, str]
    placed: Mapping[int, str]

    @classmethod
    def from_report(cls, report: Mapping[str, Any]) -> PreviousPlacement:
        return cls(dedup={int(t): str(c) for t, c in (report.get("dedup_owners") or {}).items()},
                   placed={int(t): str(c) for t, c in (report.get("placed_owners") or {}).items()})


# ----------------------------------------------------------------------------------- step 1
def dedup_order(clusters: Sequence[Cluster]) -> list[Cluster]:
    """Highest coherence first; ties: larger cluster, then id (deterministic)."""
    def key(c: Cluster) -> tuple[float, int, str]:
        coherence = c.coherence if c.coherence is not None else NEUTRAL_COHERENCE
        return (-coherence, -len(set(c.track_ids)), c.id)

    return sorted(clusters, key=key)


def greedy_dedup(clusters: Sequence[Cluster], scope: set[int],
                 ranked_as: Sequence[Cluster] | None = None) -> tuple[list[Cluster], dict[int, str]]:
    """Each in-scope track kept by the first cluster (in dedup order) holding it; empties removed.
    ``ranked_as``: the clusters whose dedup order to follow (the seeds before ``keep_previous_dedup``
    took tracks out, so the order, which later phases see, does not change with it)."""
    owner: dict[int, str] = {}
    rank = {c.id: i for i, c in enumerate(dedup_order(ranked_as if ranked_as is not None else clusters))}
    ordered = sorted(clusters, key=lambda c: rank[c.id])
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


def holders_of(clusters: Sequence[Cluster]) -> dict[int, set[str]]:
    """Track id -> the ids of the clusters holding it."""
    holders: dict[int, set[str]] = {}
    for c in clusters:
        for t in c.track_ids:
            holders.setdefault(int(t), set()).add(c.id)
    return holders


def keep_previous_dedup(clusters: Sequence[Cluster], previous: Mapping[int, str],
                        holders: Mapping[int, set[str]]) -> tuple[list[Cluster], int]:
    """A track several seed clusters hold (``holders``: ``holders_of(clusters)``) stays only in the one
    the previous build's dedup kept it in, when that cluster holds it again; returns the clusters and
    how many tracks that decided."""
    if not previous:
        return list(clusters), 0
    home = {t: previous[t] for t, ids in holders.items() if len(ids) > 1 and previous.get(t) in ids}
    out = []
    for c in clusters:
        keep = [t for t in c.track_ids if home.get(int(t), c.id) == c.id]
        out.append(replace(c, track_ids=keep) if len(keep) != len(c.track_ids) else c)
    return out, len(home)


# ------------------------------------------------------------------------------- reasons
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
    return f"its {' and '.join(said) or 'facets'} share nothing with any cluster{tail}"


# ------------------------------------------------------------------------------------ state
class _Placement:
    """Who holds which track, plus counts for the summaries. Every placement passes the guard."""

    def __init__(self, clusters: list[Cluster], owner: dict[int, str], guard: Guard):
        self.clusters = clusters
        self.column = {c.id: j for j, c in enumerate(clusters)}
        self.owner = dict(owner)
        self.guard = guard
        self.refused: dict[str, int] = {}  # proposer -> placements the guard refused
        self.lock = threading.Lock()

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(self.column, 0)
        for cid in self.owner.values():
            out[cid] += 1
        return out

    def place(self, track_id: int, cluster_id: str, proposer: str, *, allowed: bool = False) -> bool:
        """Place a track unless it is placed already or the guard refuses; ``allowed``: the cluster came
        from the guarded ranking (pre-assignment, fallback), no need to check again."""
        if not allowed and not self.guard.allows(track_id, self.column[cluster_id]):
            with self.lock:
                self.refused[proposer] = self.refused.get(proposer, 0) + 1
            return False
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


def similarity_poor_fits(clusters: list[Cluster], owner: dict[int, str], model: TrackSimilarity, centroids: Any,
                         guard: Guard, margin: float) -> list[int]:
    """Members whose best other allowed cluster scores ``margin`` above their own cluster."""
    column = {c.id: j for j, c in enumerate(clusters)}
    members = np.array(sorted(owner), dtype=np.int64)
    if len(members) == 0 or len(clusters) < 2:
        return []
    own_col = np.array([column[owner[int(t)]] for t in members], dtype=np.int64)
    own = model.scores_at(members, centroids, own_col)
    # Only members some allowed cluster could score ``margin`` above their own are ranked (at 300K tracks
    # nine in ten cannot): ranking every member against every allowed cluster grew as tracks x clusters.
    open_question = np.flatnonzero(guard.score_bounds(model, members, centroids) >= own + margin)
    ranked = guard.ranked(model, members[open_question], centroids, 2)
    mine = own_col[open_question]
    other = np.where(ranked.columns[:, 0] != mine, ranked.scores[:, 0], ranked.scores[:, 1])
    poor = np.isfinite(other) & (other - own[open_question] >= margin)
    return sorted(members[open_question][poor].tolist())


# --------------------------------------------------------------------------------- the phase
def reassign_tracks(
    named: ClusterSet,
    tracks: pd.DataFrame,
    llm: LLM,
    params: ReassignParams | None = None,
    progress: Progress = no_progress,
    genre_tree: dict[str, Any] | None = None,
    previous: PreviousPlacement | None = None,
    model: TrackSimilarity | None = None,
    lineages: GenreLineages | None = None,
) -> ClusterSet:
    """Phase 3 (see the module docstring). ``genre_tree`` gives the lineages the guard enforces
    (without it, nothing is guarded: tests of the mechanics). ``previous``: the last build's placement,
    kept where it still fits (``keep_previous``). ``model`` and ``lineages``: the similarity model of
    ``tracks`` and the lineages of ``genre_tree`` when the caller has them (an update shares its own)."""
    params = params or ReassignParams.for_profile("default")
    scope_ids = list(dict.fromkeys(int(t) for t in named.all_track_ids))
    scope = set(scope_ids)
    lookup = track_lookup(tracks)
    if lineages is None and genre_tree:
        lineages = GenreLineages.from_tree(genre_tree)

    # Step 1: greedy dedup.
    memberships_in = sum(len(c.track_ids) for c in named.clusters)
    previous = previous if params.keep_previous and previous is not None else PreviousPlacement({}, {})
    holders = holders_of(named.clusters)
    seeds, kept_in_dedup = keep_previous_dedup(named.clusters, previous.dedup, holders)
    clusters, owner = greedy_dedup(seeds, scope, ranked_as=named.clusters)
    dedup_owners = {str(t): owner[t] for t in sorted(holders) if len(holders[t]) > 1 and t in owner}
    kept_memberships = len(owner)
    model = model if model is not None else TrackSimilarity(tracks)
    centroids = model.centroids([c.track_ids for c in clusters])
    guard = Guard(lineages, clusters)

    # Step 2: orphans and poor fits (the LLM's flag counts only from the cluster that holds the track).
    poor = sorted({int(t) for c in clusters for t in c.poor_fit_track_ids if owner.get(int(t)) == c.id})
    for t in poor:
        del owner[t]
    by_similarity = (similarity_poor_fits(clusters, owner, model, centroids, guard, params.poor_fit_margin)
                     if params.similarity_poor_fits else [])
    for t in by_similarity:
        del owner[t]
    poor_set = set(poor) | set(by_similarity)
    orphans = [t for t in scope_ids if t not in owner and t not in poor_set]
    to_reassign = sorted(set(orphans) | poor_set)
    unknown = [t for t in to_reassign if t not in lookup]
    placeable = [t for t in to_reassign if t in lookup]
    state = _Placement(clusters, owner, guard)
    progress(0.02, f"dedup: {len(named.clusters)} -> {len(clusters)} clusters; {len(orphans)} orphans + "
                   f"{len(poor)} flagged and {len(by_similarity)} similarity poor fits to place")

    depth = max(2, params.candidates * max(params.max_passes, 1))
    # Pre-assignment reads each track's best two clusters, and places most tracks (1M tracks: 330K of
    # 402K): the deeper candidate lists are ranked afterwards for the tracks left. A previous placement
    # is kept only when it is among a track's candidates, so then every track is ranked deep at once.
    shallow = bool(params.preassign and clusters and not previous.placed and depth > 2)
    ranked = guard.ranked(model, np.array(placeable, dtype=np.int64), centroids, 2 if shallow else depth)
    progress(0.08, f"similarity of {len(placeable)} tracks to {len(clusters)} clusters")

    # Step 3a: the previous build's placements that still fit; then (default) clear cases by similarity.
    placed_as_before = _keep_previous(ranked, state, previous.placed)
    preassigned = _preassign(ranked, state, params) if params.preassign and clusters else []
    pending = [t for t in placeable if t not in state.owner]
    if shallow:  # the same rows as ranking every track deep (a track's ranking is its own)
        ranked = guard.ranked(model, np.array(pending, dtype=np.int64), centroids, depth)

    # Step 3b: LLM passes.
    llm_passes = _Passes(ranked, state, lookup, llm, params, progress)
    passes, llm_placed = llm_passes.run(pending)
    turned_down = llm_passes.turned_down() if params.fallback_skips_rejected else {}

    # Step 4: fallback to the best allowed cluster; unplaced only with a reason.
    fallback_by: dict[str, int] = {}
    unplaced: list[dict[str, Any]] = [{"track_id": t, "reason": unplaced_reason(None)} for t in unknown]
    no_lineage_cluster = 0
    for i, t in enumerate(ranked.track_ids.tolist()):
        if t in state.owner:
            continue
        best = ranked.row(i)
        best = best[turned_down.get(t, 0):] or best  # past the candidates the model turned down, when any are left
        if best and (best[0][1] > 0 or guard.has_lineage(t)):
            state.place(t, clusters[best[0][0]].id, "fallback", allowed=True)
            method = "similarity" if best[0][1] > 0 else "lineage"
            fallback_by[method] = fallback_by.get(method, 0) + 1
        elif not clusters:
            unplaced.append({"track_id": t, "reason": "no clusters to place it into"})
        elif guard.has_lineage(t):
            no_lineage_cluster += 1
            unplaced.append({"track_id": t, "reason": no_cluster_reason(lineages, t)})
        else:
            unplaced.append({"track_id": t, "reason": unplaced_reason(lookup.row(t))})

    placed_owners = {str(t): state.owner[t] for t in placeable if t in state.owner}
    fold = fold_small_clusters(state.result(), model, lineages, params.min_cluster_size)
    final = fold.clusters
    violations = len(lineages.violations(final)) if lineages else 0
    report = ReassignReport(
        clusters_in=len(named.clusters),
        clusters_after_dedup=len(clusters),
        clusters_out=len(final),
        emptied_removed=len(clusters) - len(final),
        memberships_dropped_by_dedup=memberships_in - kept_memberships,
        orphans=len(orphans),
        poor_fits=len(poor),
        similarity_poor_fits=len(by_similarity),
        to_reassign=len(to_reassign),
        preassigned=len(preassigned),
        passes=passes,
        llm_assigned=llm_placed,
        fallback_assigned=sum(fallback_by.values()),
        fallback_by=fallback_by,
        unplaced=len(unplaced),
        small_clusters_folded=fold.folded_clusters,
        tracks_moved_by_fold=fold.moved_tracks,
        lineage_guard={"lineages": len(lineages.roots) if lineages else 0,
                       "refused": dict(sorted(state.refused.items())),
                       "unplaced_no_cluster_of_lineage": no_lineage_cluster,
                       "violations": violations},
        calls=sum(p["calls"] for p in passes),
        serial_calls=sum(p["serial_calls"] for p in passes),
        params={f.name: getattr(params, f.name) for f in fields(params)},
        kept_previous={"dedup": kept_in_dedup, "placed": len(placed_as_before)},
        dedup_owners=dedup_owners,
        placed_owners=placed_owners,
    )
    progress(1.0, f"{len(final)} clusters; preassigned {len(preassigned)}, by LLM {llm_placed}, "
                  f"fallback {report.fallback_assigned}, unplaced {len(unplaced)}")
    return ClusterSet(clusters=final, all_track_ids=scope_ids, unplaced=unplaced, report=report)


def _keep_previous(ranked: Ranked, state: _Placement, previous: Mapping[int, str]) -> list[int]:
    """Tracks to place go back to the cluster the previous build placed them in, when it is still
    one of their (guarded) candidates."""
    kept: list[int] = []
    if not previous:
        return kept
    for i, t in enumerate(ranked.track_ids.tolist()):
        col = state.column.get(previous.get(int(t), ""))
        if col is not None and col in ranked.columns[i] and state.place(int(t), state.clusters[col].id,
                                                                        "previous", allowed=True):
            kept.append(int(t))
    return kept


def _preassign(ranked: Ranked, state: _Placement, params: ReassignParams) -> list[int]:
    """Tracks whose best allowed cluster scores at least ``preassign_min_score`` and beats the
    runner-up (when there is one) by ``preassign_margin``."""
    if ranked.scores.shape[0] == 0 or ranked.scores.shape[1] == 0:
        return []
    best = ranked.scores[:, 0]
    second = ranked.scores[:, 1] if ranked.scores.shape[1] > 1 else np.full(len(best), -np.inf)
    with np.errstate(invalid="ignore"):  # -inf - -inf: a track with no allowed cluster is never clear
        clear = (best >= params.preassign_min_score) & (best - second >= params.preassign_margin)
    placed = []
    for i in np.flatnonzero(clear).tolist():
        t = int(ranked.track_ids[i])
        if state.place(t, state.clusters[int(ranked.columns[i, 0])].id, "preassign", allowed=True):
            placed.append(t)
    return placed


@dataclass
class _BatchOutcome:
    answers: dict[int, str]
    placed: int = 0
    error: str = ""
    called: bool = True


class _Passes:
    """Step 3's LLM passes over the tracks left after pre-assignment."""

    def __init__(self, ranked: Ranked, state: _Placement, lookup: TrackBriefs, llm: LLM,
                 params: ReassignParams, progress: Progress):
        self.similar = ranked
        self.row = {int(t): i for i, t in enumerate(ranked.track_ids.tolist())}
        self.state, self.lookup, self.llm = state, lookup, llm
        self.params, self.progress = params, progress
        self.clusters = state.clusters
        # What the payloads call each cluster -> its id, once: an answer may name only these.
        self.handles = {self._handle(c): c.id for c in self.clusters}
        self.serial = params.workers <= 1
        self.fatal = threading.Event()  # a bad key fails every call the same way: stop asking
        self.offset: dict[int, int] = {}
        self.ranked: dict[int, list[int]] = {}

    def run(self, pending: list[int]) -> tuple[list[dict[str, Any]], int]:
        params, k = self.params, self.params.candidates
        self.offset = dict.fromkeys(pending, 0)
        if k:
            # Best first, allowed clusters only (the guard filtered them); ties keep the dedup order.
            at = np.array([self.row[t] for t in pending], dtype=np.int64)
            best = self.similar.columns[at].tolist() if len(at) else []  # one conversion, not one per track
            self.ranked = {t: [c for c in columns if c >= 0] for t, columns in zip(pending, best, strict=True)}
        passes: list[dict[str, Any]] = []
        todo = list(pending)
        for number in range(1, params.max_passes + 1):
            if k:
                todo = [t for t in todo if self.offset[t] < len(self.ranked[t])]
                # Grouped by the genre lineage of the best remaining candidate: a batch shares few clusters.
                todo.sort(key=self._group_key)
            if not todo or not self.clusters:
                break
            if number > 1 and params.stop_below_batch and len(todo) < params.batch_size:
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

    def turned_down(self) -> dict[int, int]:
        """Track -> how many of its best candidates the model answered "unassigned" to (offered and
        turned down), for the tracks with any."""
        return {t: n for t, n in self.offset.items() if n}

    def _group_key(self, t: int) -> tuple[str, int, int]:
        col = self.ranked[t][self.offset[t]]
        return (self.clusters[col].genre_lineage.split(">")[0].strip(), col, t)

    def _one_pass(self, number: int, todo: list[int]) -> tuple[dict[str, Any], set[int]]:
        params = self.params
        batches = call_batches(todo, params.batch_size, params.workers, params.max_batch_size)
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
        handles = self.handles
        answers = {int(a["track_id"]): (UNASSIGNED if a.get("cluster_id") == UNASSIGNED
                                        else handles[str(a.get("cluster_id"))])
                   for a in answer["assignments"]
                   if a.get("track_id") in sent and (a.get("cluster_id") == UNASSIGNED
                                                     or str(a.get("cluster_id")) in handles)}
        return _BatchOutcome(answers, placed=_apply(answers, self.state) if self.serial else 0)

    def _payload(self, batch: list[int], counts: dict[str, int]) -> dict[str, Any]:
        k = self.params.candidates
        items = briefs(self.lookup, batch, self.params.comment_chars)
        if k:
            cols_of = {t: self.ranked[t][self.offset[t]: self.offset[t] + k] for t in batch}
            for item in items:
                item["candidates"] = [self._handle(self.clusters[c]) for c in cols_of[item["track_id"]]]
            used = sorted({c for cols in cols_of.values() for c in cols})
        else:
            used = list(range(len(self.clusters)))
        summaries = []
        for c in used:
            cluster = self.clusters[c]
            summary: dict[str, Any] = {"cluster_id": self._handle(cluster), "title": cluster.title,
                                       "track_count": counts[cluster.id]}
            if self.params.include_context:
                summary["genre"], summary["scene"] = cluster.genre_title, cluster.scene_title
            summaries.append(summary)
        return {"clusters": summaries, "tracks": items}


    def _handle(self, cluster: Cluster) -> str:
        """What the payload calls a cluster: ``c<column>`` (``short_ids``), else its id."""
        return f"c{self.state.column[cluster.id]}" if self.params.short_ids else cluster.id


def _apply(answers: dict[int, str], state: _Placement) -> int:
    """Place answered tracks (each at most once); returns how many were placed."""
    return sum(1 for t, cid in answers.items() if cid != UNASSIGNED and state.place(t, cid, "llm"))
