"""Phase 4: the quality pass (reference "Phase 4: Quality Scoring"): score every cluster, merge the
ones that belong together, split the ones that hold two playlists; up to ``max_iterations`` rounds.

Each iteration:

1. Scoring: clusters in batches (``score_clusters``, mechanical tier) -> a 1-10 score each (nested
   dicts and junk normalised; unreadable -> 5), merge and split suggestions (ids the batch did not
   offer dropped). Seed profile: the reference's batches of 15 compact summaries (id, title,
   description[:200], track_count), one call after another. Default profile: batches of about 40
   (``wave_batches``: evenly filled, growing up to ``max_batch_size`` so a round is one wave of
   ``workers`` calls) sorted by genre then scene lineage (clusters that might merge share a batch),
   each summary carrying the genre/scene context and track-level features (``core.features``: year
   spread and modes, era spread, filter agreement, other frequent tags, bpm / key / energy when
   present); batches run in parallel (they are independent).
2. Stop when every cluster scored >= ``stop_score`` and there is no suggestion (seed: any
   suggestion counts, as the reference; default: only suggestions that can be acted on). A failed
   scoring batch (``LLMError``) leaves its clusters' scores as they were and blocks this stop.
3. Merges (at most ``max_merges``): a suggestion keeps its ids that still exist and are not already
   part of another merge this iteration; with >= 2 left, all tracks go to the first cluster (deduped,
   sorted; filters: union of values, hull of ranges), which is renamed by ``rename_merged_cluster``
   (creative tier) from ``rename_sample`` sampled tracks; on ``LLMError`` the first cluster keeps its
   title and description. ``origin="merged"``; the sources are removed.
4. Splits (at most ``max_splits`` attempts): only clusters with more than ``min_split_size`` tracks
   that no merge touched this iteration. ``define_subclusters`` (mechanical tier) gets the cluster
   and the mini landscape of its tracks and answers 2-4 sub-clusters with filters (validated against
   the landscape). Tracks go to their best sub-cluster by ``assign_tracks_to_branches(min_score=
   0.01)``. Decisions (the reference leaves them open; exactly-once must hold):
   * a sub-cluster under ``min_leaf_tracks`` (5) tracks, or empty, is folded back: it is removed
     and the tracks are placed again among the remaining sub-clusters (smallest first, repeatedly);
   * tracks that match no sub-cluster (score below min_score) stay in the parent, which keeps its
     id, title and context as the remainder, when they are at least ``min_leaf_tracks``;
     fewer go to the largest sub-cluster;
   * fewer than two groups left (sub-clusters plus a kept remainder): the split is void and the
     cluster stays as it was; so does a failed call (``LLMError``).
   Sub-clusters inherit the parent's genre/scene context, take its filters overridden by their own,
   get ids ``<parent>~1``, ``<parent>~2`` ... and ``origin="split"``. Parts of one split are never
   merged back together in a later iteration (that would undo it). Default profile: a cluster whose
   split failed or was void is not tried again (the same input gives the same answer).
   Default profile: the renames and split calls of one iteration run in parallel (independent).
5. Default profile: stop when an iteration changed nothing (re-scoring the same clusters would
   repeat the same answers). After the last iteration, the clusters left without a score are scored
   once more, suggestions ignored, so every cluster leaves with a ``quality_score`` (phase 7 tiers by
   it); the seed profile leaves them unscored, as the reference.

Default profile, overlapped rounds (``overlap_rounds``; the steps above in a shorter chain, see
:func:`overlapped_rounds`): round 1 scores every cluster; each of the ``max_iterations`` later rounds is
one wave of calls holding the merges and splits the standing suggestions ask for (the limits above,
and no more than the wave's ``workers`` calls leave room for after its scoring batches) and the scoring
of the clusters the previous round created, whose suggestions serve the next round. A cluster no merge
or split touched is not scored again: its score and its suggestions stand until acted on or until a
cluster they name changes. With ``score_in_answers`` the rename and the split definition also score
the clusters they create (unreadable: 5), and a split's remainder keeps its parent's score, so the
final scoring above is left only with the clusters of a failed rename or scoring batch (and the bounds
pass's parts). The chain: 1 + ``max_iterations`` waves instead of 2 per iteration plus a final one.

The lineage guard (``core.lineage``): a merge keeps only the clusters of the first one's genre lineage
(fewer than two left: refused), and, with bounds on, none whose result would exceed ``max_leaf_tracks``;
a member found in a cluster of none of its lineages on the way in (an input from an older build) is
moved to its most similar cluster of its own lineage first. Splits keep tracks within their parent.

Bounded leaves (default profile; ``max_leaf_tracks`` 0 turns it off, as the reference): after the
iterations, clusters under ``min_leaf_tracks`` are folded into their tracks' most similar cluster of
their lineage (same-lineage leftovers merged, what still cannot make a playlist unplaced with a
reason), then every cluster over ``max_leaf_tracks`` is split by the similarity model, recursively
(``phases.placement``), so every leaf ends with ``min_leaf_tracks``..``max_leaf_tracks`` tracks.

Every track stays in exactly one cluster (or, from the bounds, in ``unplaced`` with a reason);
``all_track_ids`` passes through unchanged. ``report`` holds one row per iteration (per round when
overlapped: clusters scored, mean/min score, suggestions, merges, splits, calls, serial calls), the
final count, ``converged``, ``stop_reason``, the guard's and the bounds' figures.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from collection_tree.core.clusters import Cluster, ClusterSet
from collection_tree.core.features import TrackFeatures
from collection_tree.core.lineage import GenreLineages
from collection_tree.core.report import PhaseReport, figure
from collection_tree.core.search import FacetIndex, assign_tracks_to_branches
from collection_tree.core.similarity import TrackSimilarity
from collection_tree.llm.interface import LLMError, LLMRequest
from collection_tree.phases.common import (
    LLMPhaseParams,
    Progress,
    TrackBriefs,
    briefs,
    call_batches,
    no_progress,
    param,
    run_batches,
    sample_ids,
    track_lookup,
)
from collection_tree.phases.placement import Guard, bound_leaves, no_cluster_reason, size_figures
from collection_tree.tasks import define_subclusters, rename_merged_cluster, score_clusters

log = logging.getLogger(__name__)

SCORE_SHARE = 0.7  # of an iteration's progress band: scoring; the rest: merges and splits
ITERATIONS_SHARE = 0.9  # of the phase's progress: the iterations; the rest: the bounds pass
ITERATION_COLUMNS = ("iteration", "clusters_in", "clusters_scored", "mean_score", "min_score", "below_stop_score",
                     "merge_suggestions", "split_suggestions", "merges", "splits", "split_attempts", "calls",
                     "serial_calls", "clusters_out")
ITERATION_COUNTS = ("merges", "rename_failures", "split_attempts", "splits", "split_failures", "splits_void")


@dataclass(frozen=True)
class RefineParams(LLMPhaseParams):
    batch_size: int = param(40, "Clusters per scoring call")
    wave_batches: bool = param(True, "Scoring batches fill whole waves of `workers` parallel calls, growing up to "
                                     "max_batch_size (common.wave_chunks) rather than adding a wave")
    max_batch_size: int = param(80, "Clusters per scoring call at most when batches grow to fill a wave")
    max_iterations: int = param(3, "Score/merge/split rounds at most")
    max_merges: int = param(5, "Merges per iteration at most")
    max_splits: int = param(3, "Split attempts per iteration at most")
    min_split_size: int = param(30, "Only clusters with more tracks than this are split")
    stop_score: float = param(7.0, "Stop when every score reaches this and nothing is suggested")
    rename_sample: int = param(20, "Sampled tracks a merged cluster's new name is written from")
    # A merged cluster's name is a working title (phase 6 writes the public one on the creative tier).
    rename_tier: str = param("mechanical", "Model tier of merged clusters' names: mechanical or creative")
    workers: int = param(8, "Parallel calls (1: serial)")
    features: bool = param(True, "Genre/scene context and track-level features in the scoring payload")
    group_batches: bool = param(True, "Scoring batches cut from clusters sorted by genre, then scene lineage")
    prioritise: bool = param(True, "Merges: smallest groups first; splits: largest clusters first")
    stop_when_unchanged: bool = param(True, "Stop when an iteration neither merges nor splits (overlapped rounds "
                                            "always stop when a round has nothing to score, merge or split)")
    retry_failed_splits: bool = param(False, "Offer a cluster whose split failed again in the next iteration")
    actionable_suggestions_only: bool = param(True, "The stop rule counts only suggestions that can be acted on "
                                                    "(always so with overlapped rounds)")
    score_new_clusters: bool = param(True, "After the last iteration, score the clusters left without a score (no "
                                           "suggestions)")
    overlap_rounds: bool = param(True, "Score every cluster once, then only the clusters a merge or split created, "
                                       "in the same wave as the merges and splits the standing suggestions ask for")
    score_in_answers: bool = param(True, "Renames and split definitions also score the clusters they create (a "
                                         "split's remainder keeps its parent's score)")
    # Leaf size bounds holding after this phase: a playlist a DJ can still play through, and no playlist
    # of 1-4 tracks.
    max_leaf_tracks: int = param(150, "Leaves above this are split by similarity after the iterations, and "
                                      "merges may not exceed it (0: no bounds pass, no limit, as the reference)")
    min_leaf_tracks: int = param(5, "Leaves below this are folded into their tracks' best other leaves; also "
                                    "the smallest sub-playlist a split may leave")
    max_subclusters: int = param(4, "Sub-playlists per split at most")
    assign_min_score: float = param(0.01, "Filter score a track needs to join a sub-playlist")
    description_chars: int = param(200, "Characters of each cluster description in the scoring payload")
    context_chars: int = param(300, "Characters of the genre/scene context in the payloads")
    comment_chars: int = param(150, "Comment characters per sampled track")

    PHASE: ClassVar[str] = "refinement"
    # The reference: 15 per call, serial, compact summaries only.
    SEED: ClassVar[dict[str, Any]] = {"batch_size": 15, "workers": 1, "features": False, "group_batches": False,
                                      "prioritise": False, "stop_when_unchanged": False, "retry_failed_splits": True,
                                      "actionable_suggestions_only": False, "score_new_clusters": False,
                                      "max_leaf_tracks": 0, "rename_tier": "creative", "wave_batches": False,
                                      "overlap_rounds": False, "score_in_answers": False}

    def validate(self) -> None:
        self.require_at_least(1, "batch_size", "workers", "rename_sample", "min_leaf_tracks")
        if self.wave_batches and self.max_batch_size < self.batch_size:
            raise ValueError("max_batch_size must be at least batch_size")
        self.require_tier("rename_tier")
        self.require_at_least(0, "max_iterations", "max_merges", "max_splits", "min_split_size", "max_leaf_tracks")
        if self.max_leaf_tracks and self.max_leaf_tracks < 2 * self.min_leaf_tracks:
            raise ValueError("max_leaf_tracks must be 0 (no bound) or at least twice min_leaf_tracks")
        if not 2 <= self.max_subclusters <= define_subclusters.MAX_SUBCLUSTERS:
            raise ValueError(f"max_subclusters must be 2-{define_subclusters.MAX_SUBCLUSTERS}")


@dataclass(frozen=True)
class RefineReport(PhaseReport):
    clusters_in: int
    clusters_out: int
    iterations: list[dict[str, Any]] = figure(table=ITERATION_COLUMNS)  # one row per iteration
    iterations_run: int
    converged: bool
    stop_reason: str  # converged | unchanged | max_iterations
    merges: int
    splits: int
    final_scoring_calls: int
    calls: int
    serial_calls: int
    score_distribution: dict[str, int]  # final score (or "unscored") -> clusters
    merged: list[dict[str, Any]] = figure(table=("iteration", "into", "from", "tracks", "title", "renamed"))
    split: list[dict[str, Any]] = figure(table=("iteration", "parent", "tracks", "into"))
    lineage_guard: dict[str, Any]  # refused proposals and re-placed tracks by source
    bounds: dict[str, Any]  # the bounds pass: leaves split and folded, tracks moved
    bound_splits: list[dict[str, Any]] = figure(table=("parent", "tracks", "into"))
    leaves_over_max: int
    leaves_under_min: int
    largest_leaf: int
    unplaced: int
    params: dict[str, Any] = figure(hidden=True)  # the run's parameters, kept with the stored output


def answer_source(llm: Any) -> str:
    """``named_by`` for an answered rename/split: "offline" when the deterministic provider answered."""
    provider = getattr(getattr(getattr(llm, "client", None), "provider", None), "name", "")
    return "offline" if provider == "offline" else "llm"


# ------------------------------------------------------------------------------------ filters
def hull_filters(*filter_sets: dict[str, Any]) -> dict[str, Any]:
    """A merged cluster's filters: union of value lists (first-seen order), hull of ranges (it covers
    every source; ``merge_filters`` would intersect them)."""
    out: dict[str, Any] = {}
    for filters in filter_sets:
        for key, value in (filters or {}).items():
            if key.endswith("_range"):
                if not isinstance(value, list | tuple) or len(value) != 2:
                    continue
                lo, hi = min(value), max(value)
                out[key] = [min(out[key][0], lo), max(out[key][1], hi)] if key in out else [lo, hi]
            else:
                bucket = out.setdefault(key, [])
                for v in value if isinstance(value, list | tuple) else [value]:
                    if v not in bucket:
                        bucket.append(v)
    return out


# ------------------------------------------------------------------------------------ scoring
@dataclass
class ScoringRound:
    scores: dict[str, int]
    merges: list[list[str]]
    splits: list[str]
    batches: int
    failures: int


def scoring_order(clusters: Sequence[Cluster], params: RefineParams) -> list[Cluster]:
    if not params.group_batches:
        return list(clusters)
    return sorted(clusters, key=lambda c: (c.genre_lineage.casefold(), c.genre_title.casefold(),
                                           c.scene_lineage.casefold(), c.scene_title.casefold(), c.id))


def score_item(cluster: Cluster, features: TrackFeatures, params: RefineParams) -> dict[str, Any]:
    item: dict[str, Any] = {
        "cluster_id": cluster.id,
        "title": cluster.title or cluster.fallback_title,
        "description": cluster.description[: params.description_chars],
        "track_count": cluster.track_count,
    }
    if params.features:
        item.update(genre_context=cluster.genre_title, scene_context=cluster.scene_title,
                    scene_lineage=cluster.scene_lineage, features=features.summary(cluster.track_ids, cluster.filters))
    return item


def scoring_batches(clusters: Sequence[Cluster], params: RefineParams) -> list[list[Cluster]]:
    """The scoring batches of ``clusters`` (in :func:`scoring_order`): ``batch_size`` each, or with
    ``wave_batches`` evenly filled batches that grow up to ``max_batch_size`` to fill whole waves."""
    return call_batches(scoring_order(clusters, params), params.batch_size, max(1, params.workers),
                        params.max_batch_size if params.wave_batches else 0)


def score_request(batch: Sequence[Cluster], features: TrackFeatures, params: RefineParams) -> LLMRequest:
    payload = {"clusters": [score_item(c, features, params) for c in batch]}
    return score_clusters.TASK.request(payload, schema=score_clusters.schema_for(payload))


def score_batch(batch: Sequence[Cluster], features: TrackFeatures, llm: Any, params: RefineParams
                ) -> dict[str, Any] | None:
    """One scoring call's answer, or None when it failed (the batch's scores stay as they were)."""
    return call_scoring(llm, score_request(batch, features, params))


def call_scoring(llm: Any, request: LLMRequest) -> dict[str, Any] | None:
    try:
        return llm.call(request)
    except LLMError as exc:
        log.warning("scoring batch of %d clusters failed; their scores stay as they were: %s",
                    len(request.payload["clusters"]), exc)
        return None


def score_clusters_round(clusters: Sequence[Cluster], features: TrackFeatures, llm: Any, params: RefineParams,
                         stop_event: threading.Event | None, progress: Progress) -> ScoringRound:
    batches = scoring_batches(clusters, params)
    answers = run_batches(batches, lambda batch: score_batch(batch, features, llm, params), workers=params.workers,
                          stop_event=stop_event, progress=progress, label="scoring batch")
    return collect_scores(answers)


def collect_scores(answers: Sequence[dict[str, Any] | None]) -> ScoringRound:
    """The scores and suggestions of a round's answers (None: a failed batch)."""
    scores: dict[str, int] = {}
    merges: list[list[str]] = []
    splits: list[str] = []
    for answer in answers:
        if answer is None:
            continue
        for item in answer["scores"]:
            scores.setdefault(item["cluster_id"], int(item["score"]))
        merges.extend(list(m["cluster_ids"]) for m in answer["merge_suggestions"])
        splits.extend(s["cluster_id"] for s in answer["split_suggestions"])
    return ScoringRound(scores, merges, splits, len(answers), sum(a is None for a in answers))


# ------------------------------------------------------------------------------------- plans
@dataclass
class MergePlan:
    groups: list[list[str]]
    refused_cross_lineage: int = 0  # suggestions that named clusters of another lineage than their first
    refused_too_big: int = 0  # groups whose merge would exceed max_leaf_tracks
    deferred: list[list[str]] = field(default_factory=list)  # groups left for later by the max_merges limit


def plan_merges(suggestions: Sequence[Sequence[str]], by_id: dict[str, Cluster], params: RefineParams,
                split_from: dict[str, str] | None = None, lineage_of: dict[str, str | None] | None = None
                ) -> MergePlan:
    """Up to ``max_merges`` groups of >= 2 existing clusters, each cluster in at most one group. Parts
    of one split made in this run (``split_from``: part id -> parent id) are never merged back
    together: that would undo the split and oscillate. The guard: only clusters of the first one's
    lineage (``lineage_of``: cluster id -> root, None unknown) stay in a group; with bounds on, a
    group whose merge would exceed ``max_leaf_tracks`` is refused (a later bound split would undo it)."""
    split_from = split_from or {}
    lineage_of = lineage_of or {}
    plan = MergePlan([])
    candidates = []
    for ids in suggestions:
        kept: list[str] = []
        families: set[str] = set()
        crossed = False
        for i in dict.fromkeys(ids):
            if i not in by_id or (i in split_from and split_from[i] in families):
                continue
            if kept and lineage_of.get(i) != lineage_of.get(kept[0]):
                crossed = True
                continue
            kept.append(i)
            if i in split_from:
                families.add(split_from[i])
        plan.refused_cross_lineage += crossed
        if len(kept) >= 2:
            candidates.append(kept)
    if params.prioritise:  # the smallest playlists gain most from a merge
        candidates.sort(key=lambda ids: sum(by_id[i].track_count for i in ids))
    used: set[str] = set()
    for ids in candidates:
        if len(plan.groups) >= params.max_merges:
            plan.deferred.append(ids)
            continue
        free = [i for i in ids if i not in used]
        if len(free) < 2:
            continue
        if params.max_leaf_tracks and sum(by_id[i].track_count for i in free) > params.max_leaf_tracks:
            plan.refused_too_big += 1
            continue
        plan.groups.append(free)
        used.update(free)
    return plan


def split_candidates(suggestions: Sequence[str], by_id: dict[str, Cluster], merging: set[str],
                     unsplittable: set[str], params: RefineParams) -> list[str]:
    """Existing clusters over ``min_split_size`` tracks that no merge touches, in the order they are tried."""
    candidates = [cid for cid in dict.fromkeys(suggestions)
                  if cid in by_id and cid not in merging and by_id[cid].track_count > params.min_split_size
                  and (params.retry_failed_splits or cid not in unsplittable)]
    if params.prioritise:
        candidates.sort(key=lambda cid: -by_id[cid].track_count)  # stable: ties keep suggestion order
    return candidates


def plan_splits(suggestions: Sequence[str], by_id: dict[str, Cluster], merging: set[str],
                unsplittable: set[str], params: RefineParams) -> list[str]:
    """Up to ``max_splits`` of the :func:`split_candidates`."""
    return split_candidates(suggestions, by_id, merging, unsplittable, params)[: params.max_splits]


# --------------------------------------------------------------------------------- merge/split
def rename_payload(members: Sequence[Cluster], combined: Sequence[int], lookup: TrackBriefs,
                   params: RefineParams, features: TrackFeatures | None = None) -> dict[str, Any]:
    """With ``score_in_answers`` (and ``features``): the merged cluster's features and ``with_score``."""
    payload: dict[str, Any] = {
        "clusters": [{"cluster_id": c.id, "title": c.title or c.fallback_title,
                      "description": c.description[: params.context_chars],
                      "genre_context": c.genre_title, "scene_context": c.scene_title} for c in members],
        "track_count": len(combined),
        "sample_tracks": briefs(lookup, sample_ids(list(combined), params.rename_sample), params.comment_chars),
    }
    if params.score_in_answers and features is not None:
        payload["with_score"] = True
        payload["features"] = features.summary(combined, hull_filters(*(c.filters for c in members)))
    return payload


def merge_members(members: Sequence[Cluster], title: str, description: str, named_by: str,
                  score: float | None = None) -> Cluster:
    first = members[0]
    combined = sorted({int(t) for c in members for t in c.track_ids})
    held = set(combined)
    return replace(
        first, track_ids=combined, title=title, description=description, named_by=named_by,
        filters=hull_filters(*(c.filters for c in members)), origin="merged", quality_score=score,
        coherence=None, poor_fit_track_ids=sorted({int(t) for c in members for t in c.poor_fit_track_ids} & held),
    )


def split_payload(cluster: Cluster, features: TrackFeatures, params: RefineParams) -> dict[str, Any]:
    """With ``score_in_answers``: the cluster's current score and ``with_score``."""
    payload: dict[str, Any] = {
        "cluster": {"cluster_id": cluster.id, "title": cluster.title or cluster.fallback_title,
                    "description": cluster.description[: params.context_chars],
                    "genre_context": cluster.genre_title, "scene_context": cluster.scene_title,
                    "track_count": cluster.track_count, "filters": cluster.filters},
        "landscape": features.landscape(cluster.track_ids),
        "max_subclusters": params.max_subclusters,
    }
    if params.score_in_answers:
        payload["with_score"] = True
        payload["cluster"]["quality_score"] = cluster.quality_score
    return payload


def place_subclusters(parent: Cluster, subclusters: Sequence[dict[str, Any]], index: FacetIndex,
                      params: RefineParams) -> tuple[list[tuple[int, list[int]]], list[int]]:
    """Tracks of ``parent`` placed into sub-clusters: ``([(sub position, track ids)], rest)``. Small
    sub-clusters are folded back (the smallest dropped and the placement redone) until all hold
    ``min_leaf_tracks``; ``rest`` matched none (below ``assign_min_score``)."""
    filters = [define_subclusters.contract_filters(s["filters"]) for s in subclusters]
    alive = list(range(len(filters)))
    while True:
        if not alive:
            return [], sorted(parent.track_ids)
        branches = [{"id": str(i), "filters": filters[i]} for i in alive]
        placed = assign_tracks_to_branches(index, branches, params.assign_min_score, track_ids=parent.track_ids)
        groups: dict[int, list[int]] = {i: [] for i in alive}
        rest: list[int] = []
        for t in parent.track_ids:
            branch = placed.get(int(t))
            (rest if branch is None else groups[int(branch)]).append(int(t))
        small = [i for i in alive if len(groups[i]) < params.min_leaf_tracks]
        if not small:
            return [(i, sorted(groups[i])) for i in alive], sorted(rest)
        alive.remove(min(small, key=lambda i: (len(groups[i]), -i)))  # the smallest, the last of equals


def split_cluster(parent: Cluster, subclusters: Sequence[dict[str, Any]], index: FacetIndex, params: RefineParams,
                  taken: set[str], named_by: str) -> list[Cluster] | None:
    """The clusters replacing ``parent`` (a kept remainder first, under the parent's id), or ``None``
    when fewer than two groups survive (the split is void)."""
    groups, rest = place_subclusters(parent, subclusters, index, params)
    keep_rest = len(rest) >= params.min_leaf_tracks
    if len(groups) + (1 if keep_rest else 0) < 2:
        return None
    if rest and not keep_rest:  # too few for a playlist of their own: the largest sub-cluster takes them
        largest = max(range(len(groups)), key=lambda k: (len(groups[k][1]), -k))
        groups[largest] = (groups[largest][0], sorted(groups[largest][1] + rest))
        rest = []
    out: list[Cluster] = []
    if rest:
        held = set(rest)
        # With scores in the answers the remainder keeps its parent's score: it is the cluster it was, less
        # the groups that split off.
        out.append(replace(parent, track_ids=rest,
                           quality_score=parent.quality_score if params.score_in_answers else None,
                           poor_fit_track_ids=[t for t in parent.poor_fit_track_ids if t in held]))
    number = 0
    for position, track_ids in groups:
        number += 1
        while f"{parent.id}~{number}" in taken:
            number += 1
        sub_id = f"{parent.id}~{number}"
        taken.add(sub_id)
        sub = subclusters[position]
        held = set(track_ids)
        out.append(replace(
            parent, id=sub_id, track_ids=track_ids, title=sub["title"], description=sub["description"],
            filters={**parent.filters, **define_subclusters.contract_filters(sub["filters"])},
            origin="split", named_by=named_by, quality_score=float(sub["score"]) if "score" in sub else None,
            coherence=None,
            poor_fit_track_ids=[t for t in parent.poor_fit_track_ids if t in held],
        ))
    return out


# ---------------------------------------------------------------------------------- the phase
class _Refiner:
    """What one run shares across iterations: the collection's indexes, the LLM, ids in use, and the
    merge/split logs for the report."""

    def __init__(self, tracks: pd.DataFrame, llm: Any, params: RefineParams):
        self.llm = llm
        self.params = params
        self.stop_event = getattr(llm, "stop_event", None)
        self.features = TrackFeatures(tracks)
        self.index = FacetIndex(tracks)
        self.lookup = track_lookup(tracks)
        self.named_by = answer_source(llm)
        self.workers = max(1, params.workers)
        self.taken: set[str] = set()
        self.unsplittable: set[str] = set()
        self.split_from: dict[str, str] = {}  # part of a split made in this run -> its parent's id
        self.merged_log: list[dict[str, Any]] = []
        self.split_log: list[dict[str, Any]] = []

    def score(self, clusters: list[Cluster], progress: Progress) -> tuple[list[Cluster], ScoringRound]:
        scoring = score_clusters_round(clusters, self.features, self.llm, self.params, self.stop_event, progress)
        scored = [replace(c, quality_score=float(scoring.scores[c.id])) if c.id in scoring.scores else c
                  for c in clusters]
        return scored, scoring

    def job(self, job: tuple[str, Any], by_id: dict[str, Cluster]) -> Any:
        """One merge's rename (-> title, description, named_by, failed, score) or one split's definition
        (-> the answer, or None when the call failed). Independent of every other job."""
        return self.answer(job, self.request(job, by_id), by_id)

    def request(self, job: tuple[str, Any], by_id: dict[str, Cluster]) -> LLMRequest:
        """A job's request: a scoring batch's, a merge's rename or a split's definition."""
        kind, target = job
        if kind == "score":
            return score_request(target, self.features, self.params)
        if kind == "merge":
            members = [by_id[i] for i in target]
            combined = sorted({t for c in members for t in c.track_ids})
            payload = rename_payload(members, combined, self.lookup, self.params, self.features)
            return rename_merged_cluster.request(payload, tier=self.params.rename_tier)
        return define_subclusters.request(split_payload(by_id[target], self.features, self.params))

    def answer(self, job: tuple[str, Any], request: LLMRequest, by_id: dict[str, Cluster]) -> Any:
        """The call of a job's ``request`` and its result, with the job's fallback when it failed
        (a scoring batch: None)."""
        kind, target = job
        if kind == "score":
            return call_scoring(self.llm, request)
        try:
            answer = self.llm.call(request)
        except LLMError as exc:
            if kind == "merge":
                log.warning("renaming merged cluster %s failed; it keeps its title: %s", target[0], exc)
                first = by_id[target[0]]
                return first.title, first.description, first.named_by, True, None
            log.warning("defining sub-clusters of %s failed; it stays as it is: %s", target, exc)
            return None
        if kind == "merge":
            score = float(answer["score"]) if "score" in answer else None
            return answer["title"], answer["description"], self.named_by, False, score
        return answer

    def apply(self, clusters: list[Cluster], jobs: list[tuple[str, Any]], results: list[Any],
              by_id: dict[str, Cluster], iteration: int) -> tuple[list[Cluster], dict[str, int]]:
        """The clusters after this iteration's merges and splits (in place of their originals)."""
        replacement: dict[str, list[Cluster]] = {}
        removed: set[str] = set()
        counts = dict.fromkeys(("rename_failures", "splits", "split_failures", "splits_void"), 0)
        for (kind, target), result in zip(jobs, results, strict=True):
            if kind == "merge":
                title, description, source, failed, score = result
                counts["rename_failures"] += failed
                merged = merge_members([by_id[i] for i in target], title, description, source, score)
                replacement[target[0]] = [merged]
                removed.update(target[1:])
                self.merged_log.append({"iteration": iteration, "into": target[0], "from": list(target[1:]),
                                        "tracks": merged.track_count, "title": title, "renamed": not failed})
                continue
            parent = by_id[target]
            parts = None
            if result is not None:
                parts = split_cluster(parent, result["subclusters"], self.index, self.params, self.taken,
                                      self.named_by)
            if parts is None:
                counts["split_failures" if result is None else "splits_void"] += 1
                self.unsplittable.add(target)
                continue
            counts["splits"] += 1
            replacement[target] = parts
            family = self.split_from.get(target, target)
            self.split_from.update((p.id, family) for p in parts)
            self.split_log.append({"iteration": iteration, "parent": target, "tracks": parent.track_count,
                                   "into": [(p.id, p.track_count) for p in parts]})
        return [part for c in clusters if c.id not in removed for part in replacement.get(c.id, [c])], counts


def rounds_in_turn(run: _Refiner, clusters: list[Cluster], lineages: GenreLineages | None, guard: dict[str, Any],
                   progress: Progress) -> tuple[list[Cluster], list[dict[str, Any]], bool, str]:
    """The reference's iterations: score every cluster, then merge and split; again, up to
    ``max_iterations`` times. Returns the clusters, one row per iteration, ``converged``, the stop reason."""
    iterations: list[dict[str, Any]] = []
    converged, stop_reason = False, "max_iterations"
    params, workers, share = run.params, run.workers, 1.0

    for it in range(params.max_iterations):
        lo, width = share * it / params.max_iterations, share / params.max_iterations

        def band(start: float, share: float, it: int = it, lo: float = lo, width: float = width) -> Progress:
            return lambda f, msg: progress(lo + width * (start + share * f), f"iteration {it + 1}: {msg}")

        row: dict[str, Any] = {"iteration": it + 1, "clusters_in": len(clusters), **dict.fromkeys(ITERATION_COUNTS, 0)}
        clusters, scoring = run.score(clusters, band(0.0, SCORE_SHARE))
        values = list(scoring.scores.values())
        by_id = {c.id: c for c in clusters}
        plan = plan_merges(scoring.merges, by_id, params, run.split_from,
                           {c.id: lineages.of_cluster(c) for c in clusters} if lineages else None)
        merges = plan.groups
        guard["merges_refused_cross_lineage"] += plan.refused_cross_lineage
        guard["merges_refused_too_big"] += plan.refused_too_big
        splits = plan_splits(scoring.splits, by_id, {i for ids in merges for i in ids}, run.unsplittable, params)
        row.update({
            "clusters_scored": len(values),
            "mean_score": round(sum(values) / len(values), 2) if values else None,
            "min_score": min(values) if values else None,
            "below_stop_score": sum(v < params.stop_score for v in values),
            "scoring_batches": scoring.batches, "scoring_failures": scoring.failures,
            "merge_suggestions": len(scoring.merges), "split_suggestions": len(scoring.splits),
        })
        suggested = bool(merges or splits) if params.actionable_suggestions_only else bool(
            scoring.merges or scoring.splits)
        all_good = (not scoring.failures and len(values) == len(clusters)
                    and all(v >= params.stop_score for v in values))
        if all_good and not suggested:
            row.update(calls=scoring.batches, serial_calls=math.ceil(scoring.batches / workers),
                       clusters_out=len(clusters))
            iterations.append(row)
            converged, stop_reason = True, "converged"
            progress(lo + width, f"iteration {it + 1}: every score >= {params.stop_score:g}, no suggestions")
            break

        jobs: list[tuple[str, Any]] = [("merge", ids) for ids in merges] + [("split", cid) for cid in splits]
        results = run_batches(jobs, lambda job, by_id=by_id: run.job(job, by_id), workers=workers,
                              stop_event=run.stop_event, progress=band(SCORE_SHARE, 1.0 - SCORE_SHARE),
                              label="merge/split")
        clusters, counts = run.apply(clusters, jobs, results, by_id, it + 1)
        row.update({
            **counts, "merges": len(merges), "split_attempts": len(splits),
            "calls": scoring.batches + len(jobs),
            "serial_calls": math.ceil(scoring.batches / workers) + math.ceil(len(jobs) / workers),
            "clusters_out": len(clusters),
        })
        iterations.append(row)
        progress(lo + width, f"iteration {it + 1}: {len(merges)} merges, {counts['splits']} splits, "
                             f"{len(clusters)} clusters")
        if params.stop_when_unchanged and not merges and not counts["splits"]:
            stop_reason = "unchanged"
            break

    return clusters, iterations, converged, stop_reason


def overlapped_rounds(run: _Refiner, clusters: list[Cluster], lineages: GenreLineages | None, guard: dict[str, Any],
                      progress: Progress) -> tuple[list[Cluster], list[dict[str, Any]], bool, str]:
    """Overlapped rounds (default profile): one wave of calls per round. Round 1 scores every cluster.
    Each later round acts on the standing suggestions (at most ``max_merges`` merges and ``max_splits``
    splits, and no more than the round's wave of ``workers`` calls leaves room for) and, in the same
    wave, scores the clusters the previous round created (their suggestions serve the next round);
    there are ``max_iterations`` such rounds, the last scoring nothing. A cluster no merge or split
    touched keeps its score, and its suggestions stand until acted on or until a cluster they name
    changes. Stops early when a round would neither score nor act (``converged`` when every score
    then reaches ``stop_score``, else ``unchanged``)."""
    params, workers = run.params, run.workers
    iterations: list[dict[str, Any]] = []
    converged, stop_reason = False, "max_iterations"
    standing_merges: list[list[str]] = []
    standing_splits: list[str] = []
    unscored = {c.id for c in clusters}  # clusters whose suggestions are not known yet
    rounds = params.max_iterations + 1
    for step in range(rounds):
        lo, width = step / rounds, 1.0 / rounds
        by_id = {c.id: c for c in clusters}
        # The last round scores nothing: its suggestions could not be acted on (scores come in the answers
        # or from the final scoring).
        batches = scoring_batches([c for c in clusters if c.id in unscored], params) if step < rounds - 1 else []
        plan = plan_merges([ids for ids in standing_merges if not unscored.intersection(ids)], by_id, params,
                           run.split_from, {c.id: lineages.of_cluster(c) for c in clusters} if lineages else None)
        guard["merges_refused_cross_lineage"] += plan.refused_cross_lineage
        guard["merges_refused_too_big"] += plan.refused_too_big
        candidates = split_candidates([c for c in standing_splits if c not in unscored], by_id,
                                      {i for ids in plan.groups for i in ids}, run.unsplittable, params)
        room = max(workers - len(batches), 1) if workers > 1 else len(plan.groups) + params.max_splits
        merges = plan.groups[:room]
        splits = candidates[: min(params.max_splits, room - len(merges))]
        if not batches and not merges and not splits:
            values = [c.quality_score for c in clusters]
            converged = all(v is not None and v >= params.stop_score for v in values)
            stop_reason = "converged" if converged else "unchanged"
            progress(1.0, f"round {step + 1}: nothing left to score, merge or split ({stop_reason})")
            break

        jobs: list[tuple[str, Any]] = ([("score", b) for b in batches] + [("merge", ids) for ids in merges]
                                       + [("split", cid) for cid in splits])

        # Every request is written before the wave starts, so its calls leave together.
        requests = [(job, run.request(job, by_id)) for job in jobs]

        def work(item: tuple[tuple[str, Any], LLMRequest], by_id: dict[str, Cluster] = by_id) -> Any:
            return run.answer(item[0], item[1], by_id)

        results = run_batches(requests, work, workers=workers, stop_event=run.stop_event,
                              progress=lambda f, msg, lo=lo, width=width, step=step: progress(
                                  lo + width * f, f"round {step + 1}: {msg}"), label="refinement call")
        scoring = collect_scores(results[: len(batches)])
        clusters = [replace(c, quality_score=float(scoring.scores[c.id])) if c.id in scoring.scores else c
                    for c in clusters]
        acted = jobs[len(batches):]
        before = {c.id: c for c in clusters}
        clusters, counts = run.apply(clusters, acted, results[len(batches):], before, step + 1)
        # Acted on, or naming a cluster that changed: a suggestion no longer stands.
        changed = {i for ids in merges for i in ids} | {row["parent"] for row in run.split_log
                                                          if row["iteration"] == step + 1}
        unscored = {c.id for c in clusters if c.id in changed or c.id not in before}
        unscored |= {c.id for b, answer in zip(batches, results[: len(batches)], strict=True) if answer is None
                     for c in b}  # a failed batch: scored again in the next round
        standing_merges = [ids for ids in plan.deferred + plan.groups[room:] + scoring.merges
                           if not changed.intersection(ids)]
        standing_splits = [cid for cid in candidates[len(splits):] + scoring.splits if cid not in changed]
        values = list(scoring.scores.values())
        iterations.append({
            "iteration": step + 1, "clusters_in": len(by_id), **counts,
            "clusters_scored": len(values),
            "mean_score": round(sum(values) / len(values), 2) if values else None,
            "min_score": min(values) if values else None,
            "below_stop_score": sum(v < params.stop_score for v in values),
            "scoring_batches": len(batches), "scoring_failures": scoring.failures,
            "merge_suggestions": len(scoring.merges), "split_suggestions": len(scoring.splits),
            "merges": len(merges), "split_attempts": len(splits), "calls": len(jobs),
            "serial_calls": math.ceil(len(jobs) / workers), "clusters_out": len(clusters),
        })
        progress(lo + width, f"round {step + 1}: {len(values)} scored, {len(merges)} merges, "
                             f"{counts['splits']} splits, {len(clusters)} clusters")
    return clusters, iterations, converged, stop_reason


def refine_clusters(
    assigned: ClusterSet,
    tracks: pd.DataFrame,
    llm: Any,
    params: RefineParams | None = None,
    progress: Progress = no_progress,
    genre_tree: dict[str, Any] | None = None,
) -> ClusterSet:
    """Phase 4 (see the module docstring). ``llm``: anything with ``.call(request) -> dict`` (and
    optionally ``.stop_event``); :class:`StopRequested` propagates. ``genre_tree`` gives the lineages
    the guard enforces (without it, nothing is guarded: tests of the mechanics)."""
    params = params or RefineParams()
    run = _Refiner(tracks, llm, params)
    lineages = GenreLineages.from_tree(genre_tree) if genre_tree else None
    model = TrackSimilarity(tracks)
    clusters = [replace(c, track_ids=list(c.track_ids)) for c in assigned.clusters]
    run.taken = {c.id for c in clusters}
    unplaced = list(assigned.unplaced)
    clusters, repaired, repair_unplaced = repair_lineages(clusters, model, lineages)
    unplaced += repair_unplaced
    guard: dict[str, Any] = {"repaired_on_entry": repaired, "merges_refused_cross_lineage": 0,
                             "merges_refused_too_big": 0}
    workers = run.workers
    share = ITERATIONS_SHARE if params.max_leaf_tracks else 1.0
    rounds = overlapped_rounds if params.overlap_rounds else rounds_in_turn
    clusters, iterations, converged, stop_reason = rounds(
        run, clusters, lineages, guard, lambda f, msg: progress(share * f, msg))

    bounds: dict[str, Any] = {}
    if params.max_leaf_tracks:
        bounded = bound_leaves(clusters, model, lineages, max_size=params.max_leaf_tracks,
                               min_size=params.min_leaf_tracks, taken=run.taken, named_by=run.named_by)
        clusters = bounded.clusters
        unplaced += bounded.fold.unplaced if bounded.fold else []
        bounds = {"similarity_splits": len(bounded.splits), "parts": sum(len(s["into"]) for s in bounded.splits),
                  "small_folded": bounded.fold.folded_clusters if bounded.fold else 0,
                  "tracks_moved_by_fold": bounded.fold.moved_tracks if bounded.fold else 0,
                  "small_merged": bounded.fold.merged_small if bounded.fold else 0,
                  "unplaced_too_few": len(bounded.fold.unplaced) if bounded.fold else 0,
                  "split_log": bounded.splits}
        progress(0.97, f"bounds: {len(bounded.splits)} leaves over {params.max_leaf_tracks} split, "
                       f"{bounds['small_folded']} under {params.min_leaf_tracks} folded")
    guard["violations"] = len(lineages.violations(clusters)) if lineages else 0
    guard["lineages"] = len(lineages.roots) if lineages else 0

    final_calls = 0
    if params.score_new_clusters and iterations and any(c.quality_score is None for c in clusters):
        # Merged and split clusters of the last iteration (and any whose batch failed): scored so every
        # cluster leaves with a score; their suggestions wait for a later build.
        unscored = [c for c in clusters if c.quality_score is None]
        scored, final = run.score(unscored, no_progress)
        new = {c.id: c for c in scored}
        clusters = [new.get(c.id, c) for c in clusters]
        final_calls = final.batches

    final_scores = Counter(str(int(c.quality_score)) if c.quality_score is not None else "unscored"
                           for c in clusters)
    sizes = size_figures(clusters, params.max_leaf_tracks, params.min_leaf_tracks)
    report = RefineReport(
        clusters_in=len(assigned.clusters),
        clusters_out=len(clusters),
        iterations=iterations,
        iterations_run=len(iterations),
        converged=converged,
        stop_reason=stop_reason,
        merges=sum(r["merges"] for r in iterations),
        splits=sum(r["splits"] for r in iterations),
        final_scoring_calls=final_calls,
        calls=sum(r["calls"] for r in iterations) + final_calls,
        serial_calls=sum(r["serial_calls"] for r in iterations) + math.ceil(final_calls / workers),
        score_distribution=dict(sorted(final_scores.items(),
                                       key=lambda kv: (kv[0] == "unscored", int(kv[0]) if kv[0].isdigit() else 0))),
        merged=run.merged_log,
        split=run.split_log,
        lineage_guard=guard,
        bounds={k: v for k, v in bounds.items() if k != "split_log"},
        bound_splits=bounds.get("split_log", []),
        leaves_over_max=sizes["leaves_over_max"],
        leaves_under_min=sizes["leaves_under_min"],
        largest_leaf=sizes["largest_leaf"],
        unplaced=len(unplaced),
        params={f.name: getattr(params, f.name) for f in fields(params)},
    )
    progress(1.0, f"{len(assigned.clusters)} -> {len(clusters)} clusters in {len(iterations)} iteration(s) "
                  f"({stop_reason})")
    return ClusterSet(clusters=clusters, all_track_ids=list(assigned.all_track_ids), unplaced=unplaced,
                      report=report)


def repair_lineages(clusters: list[Cluster], model: TrackSimilarity, lineages: GenreLineages | None
                    ) -> tuple[list[Cluster], int, list[dict[str, Any]]]:
    """Members sitting in a cluster of none of their lineages (possible only in an input from an older
    build) moved to their most similar allowed cluster, else unplaced with a reason."""
    if lineages is None:
        return clusters, 0, []
    wrong = lineages.violations(clusters)
    if not wrong:
        return clusters, 0, []
    moving = {t for t, _ in wrong}
    kept = [replace(c, track_ids=[t for t in c.track_ids if t not in moving]) for c in clusters]
    kept = [c for c in kept if c.track_ids]
    guard = Guard(lineages, kept)
    ids = np.array(sorted(moving), dtype=np.int64)
    ranked = guard.ranked(model, ids, model.centroids([c.track_ids for c in kept]), 1)
    gained: dict[int, list[int]] = {}
    unplaced = []
    for i, t in enumerate(ids.tolist()):
        best = ranked.row(i)
        if best:
            gained.setdefault(best[0][0], []).append(t)
        else:
            unplaced.append({"track_id": t, "reason": no_cluster_reason(lineages, t)})
    out = [replace(c, track_ids=sorted(c.track_ids + gained[j])) if j in gained else c for j, c in enumerate(kept)]
    return out, len(ids) - len(unplaced), unplaced
