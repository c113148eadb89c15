"""Phase 6: final titles, rich descriptions and seven exemplar tracks for every leaf.

Reference: clusters flattened in category order, batches of 5, 4 workers; per cluster the valid
track ids, ``scored_search`` top 50 with the cluster's filters over its own tracks, up to 30
candidates and a 7-track shortlist; a failed batch keeps its descriptions and takes the shortlist.
The default profile sends bigger batches (10) on more workers (8): the same work in fewer, shorter
serial rounds. Exemplars are always members of their leaf: the LLM may only pick candidates, and
missing picks are refilled from the shortlist (centrality with artist diversity).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from collection_tree.core.clusters import Cluster, ClusterSet
from collection_tree.core.report import PhaseReport, figure
from collection_tree.core.search import FacetIndex, scored_search
from collection_tree.llm.interface import LLM, LLMError
from collection_tree.phases.common import PhaseParams, Progress, chunks, no_progress, param, run_batches
from collection_tree.tasks.describe_leaves import DESCRIBE_LEAVES, offline_description, pick_exemplars

PROFILE_FACETS = ("genre", "scene_tags", "descriptors")


@dataclass(frozen=True)
class LeafParams(PhaseParams):
    batch_size: int = param(20, "Leaves per LLM call")
    workers: int = param(8, "Parallel LLM calls")
    search_top_n: int = param(50, "Best-matching members ranked per leaf")
    max_candidates: int = param(20, "Candidate tracks shown per leaf (the exemplars are picked from these)")
    examples: int = param(7, "Exemplar tracks per leaf")

    PHASE: ClassVar[str] = "leaves"
    SEED: ClassVar[dict[str, Any]] = {"batch_size": 5, "workers": 4, "max_candidates": 30}  # the reference's values


@dataclass(frozen=True)
class LeafReport(PhaseReport):
    leaves: int
    batches: int
    llm_calls: int = figure(hidden=True)  # the asset shows the client's own count
    serial_calls: int
    failed_batches: int
    fallback_leaves: int  # leaves on the shortlist fallback (their batch failed or left them out)
    examples_refilled: int  # leaves whose picks were topped up from the shortlist
    batch_size: int = figure(hidden=True)
    workers: int = figure(hidden=True)
    tracks_in_leaves: int
    unplaced: int


# ------------------------------------------------------------------------------- track records
class TrackTable:
    """Per-track records (title, artist, year, facets, comment) by id, plus the facet index,
    built once per phase from the tracks frame."""

    def __init__(self, tracks: pd.DataFrame):
        self.index = FacetIndex(tracks)
        ids = tracks["track_id"].astype("int64").tolist()
        years = [None if pd.isna(y) else int(y) for y in tracks["year"].tolist()]
        columns = {c: tracks[c].tolist() if c in tracks.columns else [None] * len(ids)
                   for c in ("title", "artist", "era", "comment", *PROFILE_FACETS)}
        self.records: dict[int, dict[str, Any]] = {}
        for i, track_id in enumerate(ids):
            self.records[track_id] = {
                "track_id": track_id, "title": str(columns["title"][i] or ""),
                "artist": str(columns["artist"][i] or ""), "year": years[i],
                "era": str(columns["era"][i] or ""), "comment": str(columns["comment"][i] or ""),
                **{f: list(columns[f][i]) if isinstance(columns[f][i], list | tuple | np.ndarray) else []
                   for f in PROFILE_FACETS},
            }

    def __contains__(self, track_id: int) -> bool:
        return track_id in self.records

    def valid(self, track_ids: Iterable[int]) -> list[int]:
        return [int(t) for t in track_ids if int(t) in self.records]

    def brief(self, track_id: int) -> dict[str, Any]:
        r = self.records[track_id]
        return {"track_id": track_id, "title": r["title"], "artist": r["artist"], "year": r["year"]}


def cluster_profile(records: list[dict[str, Any]], top: int = 8, min_share: float = 0.2,
                    with_artists: bool = True) -> dict[str, Any]:
    """Facet shares across a cluster's tracks, most common first: genre entries are
    [value, share, mean 1-based depth in the broad-to-specific list]; other facets [value, share]."""
    n = max(len(records), 1)
    out: dict[str, Any] = {}
    for facet in PROFILE_FACETS:
        counts: Counter[str] = Counter()
        depth: dict[str, float] = {}
        shown: dict[str, str] = {}
        for record in records:
            seen: set[str] = set()
            for pos, value in enumerate(record.get(facet) or []):
                key = str(value).strip().casefold()
                if not key or key in seen:
                    continue
                seen.add(key)
                shown.setdefault(key, str(value).strip())
                counts[key] += 1
                depth[key] = depth.get(key, 0.0) + pos + 1
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        entries = []
        for key, count in ranked[:top]:
            share = round(count / n, 2)
            if share < min_share:
                break
            entries.append([shown[key], share, round(depth[key] / count, 2)] if facet == "genre"
                           else [shown[key], share])
        out[facet] = entries
    eras = Counter(r["era"].strip() for r in records if r.get("era", "").strip())
    out["era"] = [[e, round(c / n, 2)] for e, c in sorted(eras.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
                  if c / n >= min_share]
    if with_artists:
        years = [r["year"] for r in records if r.get("year") is not None]
        out["years"] = [min(years), max(years)] if years else []
        artists = Counter(r["artist"] for r in records if r.get("artist"))
        out["artists"] = [[a, c] for a, c in sorted(artists.items(), key=lambda kv: (-kv[1], kv[0]))[:5]]
    return out


# ------------------------------------------------------------------------------------ the phase
@dataclass
class _Prepared:
    cluster: Cluster
    entry: dict[str, Any]  # the payload entry
    shortlist: list[int]


def order_by_categories(clusters: ClusterSet, categories: dict[str, Any]) -> ClusterSet:
    """The leaves in category order (the reference flattens categories), only those some category
    holds (first category wins); tracks of clusters no category holds become ``unplaced``."""
    by_id = {c.id: c for c in clusters.clusters}
    ordered: list[Cluster] = []
    taken: set[str] = set()
    for category in categories.get("categories", []):
        for cluster_id in category.get("cluster_ids", []):
            if cluster_id in by_id and cluster_id not in taken:
                taken.add(cluster_id)
                ordered.append(by_id[cluster_id])
    unplaced = list(clusters.unplaced)
    for cluster in clusters.clusters:
        if cluster.id not in taken:
            unplaced += [{"track_id": t, "reason": f"its cluster {cluster.id} is in no category"}
                         for t in cluster.track_ids]
    return ClusterSet(clusters=ordered, all_track_ids=list(clusters.all_track_ids), unplaced=unplaced,
                      report=clusters.report)


def prepare_leaf(cluster: Cluster, table: TrackTable, params: LeafParams) -> _Prepared:
    """Valid ids, candidates ranked by ``scored_search`` over the cluster's own tracks, shortlist."""
    valid = table.valid(cluster.track_ids)
    ranked = scored_search(table.index, cluster.filters, params.search_top_n, candidate_ids=valid)
    scores = dict(zip(ranked["track_id"].astype(int).tolist(), ranked["score"].tolist(), strict=True))
    ids = list(scores)[: params.max_candidates]
    if len(ids) < params.max_candidates:  # members matching no filter still qualify (score 0)
        ids += [t for t in valid if t not in scores][: params.max_candidates - len(ids)]
    candidates = [{**table.brief(t), "score": round(float(scores.get(t, 0.0)), 3)} for t in ids]
    entry = {
        "cluster_id": cluster.id, "title": cluster.title or cluster.fallback_title,
        "description": cluster.description, "genre_context": cluster.genre_title,
        "scene_context": cluster.scene_title, "genre_lineage": cluster.genre_lineage,
        "scene_lineage": cluster.scene_lineage, "track_count": len(valid),
        "profile": cluster_profile([table.records[t] for t in valid]), "candidates": candidates,
    }
    return _Prepared(cluster, entry, pick_exemplars(candidates, params.examples))


def describe_leaves(
    clusters: ClusterSet,
    tracks: pd.DataFrame | TrackTable,
    llm: LLM,
    params: LeafParams,
    progress: Progress = no_progress,
) -> ClusterSet:
    """Every cluster with its final title, description and exemplars ([{track_id, title, artist,
    year}], all members of the cluster). ``unplaced`` is carried through; ``report`` has the phase's
    figures (calls, serial rounds, fallbacks, refills)."""
    table = tracks if isinstance(tracks, TrackTable) else TrackTable(tracks)
    prepared = [prepare_leaf(c, table, params) for c in clusters.clusters]
    progress(0.02, f"{len(prepared)} leaves prepared")
    batches = chunks(prepared, params.batch_size) if prepared else []

    def work(batch: list[_Prepared]) -> tuple[dict[str, dict[str, Any]], bool]:
        payload = {"examples_per_leaf": params.examples, "clusters": [p.entry for p in batch]}
        try:
            answer = llm.call(DESCRIBE_LEAVES.request(payload))
        except LLMError:
            return {}, False
        return {item["cluster_id"]: item for item in answer["leaves"]}, True

    results = run_batches(batches, work, workers=params.workers, stop_event=llm.stop_event,
                          progress=lambda f, m: progress(0.02 + 0.98 * f, m), label="leaf batch")
    out: list[Cluster] = []
    failed_batches = fallback_leaves = refilled = 0
    for batch, (answers, ok) in zip(batches, results, strict=True):
        failed_batches += not ok
        for prep in batch:
            item = answers.get(prep.cluster.id)
            if item is None:
                fallback_leaves += 1
            elif len(item["examples"]) < min(params.examples, len(prep.entry["candidates"])):
                refilled += 1
            out.append(finish_leaf(prep, item, table, params))
    report = LeafReport(
        leaves=len(out), batches=len(batches), llm_calls=len(batches),
        serial_calls=math.ceil(len(batches) / params.workers) if batches else 0,
        failed_batches=failed_batches, fallback_leaves=fallback_leaves,
        examples_refilled=refilled, batch_size=params.batch_size, workers=params.workers,
        tracks_in_leaves=sum(c.track_count for c in out), unplaced=len(clusters.unplaced),
    )
    progress(1.0, f"{len(out)} leaves described; {fallback_leaves} on the shortlist fallback")
    return ClusterSet(clusters=out, all_track_ids=list(clusters.all_track_ids),
                      unplaced=list(clusters.unplaced), report=report)


def finish_leaf(prep: _Prepared, item: dict[str, Any] | None, table: TrackTable,
                params: LeafParams) -> Cluster:
    """Apply an answer (or the fallback when ``item`` is None): picks first, then the shortlist."""
    want = min(params.examples, len(prep.entry["candidates"]))
    chosen = list(item["examples"]) if item else []
    for track_id in prep.shortlist:
        if len(chosen) >= want:
            break
        if track_id not in chosen:
            chosen.append(track_id)
    cluster = prep.cluster
    if item:
        title, description = item["title"] or prep.entry["title"], item["description"] or cluster.description
    else:  # reference fallback: keep phase 2/4's text; a blank one gets the deterministic card
        title = prep.entry["title"]
        description = cluster.description or offline_description(prep.entry, chosen)
    return dataclasses.replace(cluster, title=title, description=description,
                               examples=[table.brief(t) for t in chosen[:want]])
