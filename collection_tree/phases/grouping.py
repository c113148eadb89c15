"""Phase 5: the refined clusters grouped into 8-12 top-level categories, each cluster in exactly one.

Default profile: Clio's hierarchy (Anthropic, "Clio", 2024, hierarchical clustering appendix) over a
lineage-aware geometry (``neighbourhoods``):

1. Each cluster becomes a vector of its tracks' facets with the genre lineage as the strongest
   signal. Lineages are gathered into lineage groups (a lineage too small for a category of its own,
   or more lineages than categories, joins the lineage it shares most scenes and sound with), and a
   structural partition cuts each group by bisecting k-means (the heaviest part halved by weighted
   2-means, scikit-learn) into its share of the categories.
2. The structural categories are the neighbourhoods (one above twice ``neighbourhood_size`` is cut);
   while there are more than ``workers``, the smallest joins its nearest of the same lineage group,
   so the proposals take one wave. The prompts name clusters by short references ("c17"), not their
   long ids: fewer output tokens wherever an answer lists clusters.
3. ``propose_categories`` (creative, one wave): a few candidate categories per neighbourhood, with
   its nearest outside clusters as contrast.
4. ``consolidate_categories`` (creative, one call): all candidates -> 8-12 distinct names. Out of
   range: asked once more, then the nearest names are merged (too many) or, after assignment, the
   largest categories split (too few).
5. ``assign_categories`` (mechanical, one wave): each name belongs to the lineage group holding most
   of its candidates' clusters' tracks; a lineage group no name belongs to gets a category of its own
   (while there is room). Each cluster is offered only its own group's categories (the per-request
   schema ``enum``), in seeded-shuffled batches of about ``assign_batch_size`` (growing up to
   ``assign_max_batch`` to fit one wave of ``workers`` calls, at least one call per group). A cluster
   left out, or given a name not offered, goes to the offered category whose vector (its assigned
   clusters' centroid) it is most similar to; never to "the largest".
6. The lineage guard: a category belongs to the lineage group holding most of its tracks; a cluster
   of another group breaks the guard (only possible where a call offered more than one group's
   categories: more groups than calls, a group without a category and no room). It is repaired
   without another call: the most similar category of the cluster's group, or a new category for a
   group that has none (while there is room), else it stays where it is and is counted.
7. Count fix (split the largest / merge the smallest into its nearest of the same group, to land in
   [min, max]) and the balance rule: no category above ``balance_cap`` (35%) of the clusters or of the
   tracks; an over-full category gives up the clusters with the smallest similarity margin over their
   next-best category of the same group, while the receiver stays under the cap.
8. ``describe_categories`` (creative, one wave of calls, about ``describe_batch_size`` categories
   each): each category renamed and described from the clusters it actually holds, with the facts of
   its tracks: their commonest tags, years and artists, and a suggested title naming what all of them
   (``title_coverage``) share (``core.facet_titles``); titles made unique. A category of more than
   ``section_min_leaves`` clusters gets sections (bisecting k-means over its clusters), each titled by
   what most of its tracks share.

Every step is retried once on :class:`LLMError` (the client already re-asks once on an invalid
answer). Fallbacks: a failed consolidation keeps the candidates themselves (merged to range); a failed
assignment batch goes by vector; a category whose description failed or was left out keeps the
suggested title with a deterministic description. If no proposal succeeds (the LLM path failed
entirely) the structural partition is the grouping, named deterministically: never one category.
Fewer clusters than ``min_categories``: one category each, without LLM calls.

Seed profile: the reference's single ``group_clusters`` call; unassigned clusters join the largest
category; on failure a single "All Collections" category (kept only to reproduce the reference).
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from collection_tree.core.clusters import Cluster, ClusterSet
from collection_tree.core.facet_titles import shelf_title
from collection_tree.core.neighbourhoods import (
    ClusterSpace,
    home_of_group,
    lineage_groups,
    neighbourhoods,
    packed,
    sections_of,
    structural_partition,
)
from collection_tree.core.partition import balance, centroid, fit_count, nearest_group, nearest_outside
from collection_tree.core.report import PhaseReport, figure, size_stats
from collection_tree.core.track_facets import TrackFacets
from collection_tree.core.vectors import context_parts
from collection_tree.llm.interface import LLMError, LLMRequest
from collection_tree.llm.normalise import kebab_case
from collection_tree.phases.common import (
    LLMPhaseParams,
    Progress,
    even_split,
    no_progress,
    param,
    run_batches,
    wave_chunks,
)
from collection_tree.tasks import (
    assign_categories,
    consolidate_categories,
    describe_categories,
    describe_category,
    group_clusters,
    propose_categories,
)

log = logging.getLogger(__name__)

SECTION_SHARED = 0.8  # a value on this share of a category's tracks does not name one of its sections
ALL_COLLECTIONS = {"id": "all-collections", "title": "All Collections",
                   "description": "Every playlist of the collection, in one category (the reference's fallback)."}


@dataclass(frozen=True)
class GroupingParams(LLMPhaseParams):
    profile: str = param("default", "The profile (the seed profile runs the reference's single call)")
    min_categories: int = param(8, "Fewest categories")
    max_categories: int = param(12, "Most categories")
    target_categories: int = param(10, "Count the consolidation and the lineage fallback aim at")
    neighbourhood_size: int = param(40, "Clusters per neighbourhood")
    contrast_clusters: int = param(5, "Nearby clusters of other neighbourhoods shown as contrast")
    candidates_per_category: float = param(2.0, "Candidate categories proposed overall, per wanted category")
    assign_batch_size: int = param(40, "Clusters per assignment call, about")
    assign_max_batch: int = param(80, "Most clusters per assignment call when the batches grow to fit one wave")
    workers: int = param(8, "Parallel calls per wave (the client's concurrency bound still holds)")
    balance_cap: float = param(0.35, "Largest share of clusters or tracks per category")
    step_retries: int = param(1, "Retries of a failed step")
    seed: int = param(5, "Seed of the neighbourhood k-means and the assignment shuffle")
    description_chars: int = param(150, "Characters of each cluster description in the prompts")
    describe_sample: int = param(30, "Clusters shown when a category is described")
    describe_batch_size: int = param(2, "Categories described per call, about")
    describe_max_batch: int = param(6, "Most categories per description call when the batches grow to fit one wave")
    min_lineage_share: float = param(0.3, "Share of one category's tracks a genre lineage needs for a category of "
                                          "its own (smaller ones join their nearest lineage group)")
    title_coverage: float = param(1.0, "Share of a category's tracks its title should fit")
    keep_previous: bool = param(True, "Keep the previous build's categories: a cluster most of whose tracks sat "
                                      "in one previous category goes back to it without a call; only the others "
                                      "are assigned (no proposal or consolidation)")
    keep_previous_min_share: float = param(0.5, "Share of the tracks whose clusters have a previous category "
                                                "needed to keep the previous categories (else regroup)")
    own_lineage_first: bool = param(True, "After assignment, a cluster in a category of another genre lineage "
                                          "moves to the most similar category of its own lineage, when its "
                                          "lineage group has one")
    section_min_leaves: int = param(30, "A category of more leaves than this gets sections")
    section_size: int = param(12, "Leaves per section, about")

    PHASE: ClassVar[str] = "grouping"
    # The seed profile uses only the reference's values: 8-12 categories, descriptions cut at 150.
    SEED: ClassVar[dict[str, Any]] = {"profile": "seed", "keep_previous": False}

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if not 1 <= self.min_categories <= self.max_categories:
            raise ValueError("GroupingParams: need 1 <= min_categories <= max_categories")
        if self.neighbourhood_size < 2 or self.assign_batch_size < 1 or self.workers < 1 or self.step_retries < 0:
            raise ValueError("GroupingParams: neighbourhood_size >= 2, assign_batch_size >= 1, workers >= 1, "
                             "step_retries >= 0")
        if (self.assign_max_batch < self.assign_batch_size
                or not 1 <= self.describe_batch_size <= self.describe_max_batch):
            raise ValueError("GroupingParams: assign_max_batch >= assign_batch_size, "
                             "1 <= describe_batch_size <= describe_max_batch")
        if not 0.0 < self.balance_cap <= 1.0:
            raise ValueError("GroupingParams: balance_cap must be in (0, 1]")
        if not 0.0 <= self.min_lineage_share <= 1.0 or not 0.0 < self.title_coverage <= 1.0:
            raise ValueError("GroupingParams: min_lineage_share in [0, 1], title_coverage in (0, 1]")
        if self.section_min_leaves < 2 or self.section_size < 2:
            raise ValueError("GroupingParams: section_min_leaves >= 2 and section_size >= 2")


@dataclass(frozen=True)
class PreviousGrouping:
    """The previous build's categories (``keep_previous``): their texts, and which one held each track."""

    categories: list[dict[str, str]]  # {"id", "title", "description"}
    category_of: dict[int, int]  # track id -> position in ``categories``

    @classmethod
    def from_tree(cls, tree: Mapping[str, Any] | None) -> PreviousGrouping | None:
        """From a stored collection tree; None without one (or without categories)."""
        categories, category_of = [], {}
        for k, category in enumerate((tree or {}).get("categories") or []):
            categories.append({key: str(category.get(key, "")) for key in ("id", "title", "description")})
            for leaf in category.get("leaves") or []:
                for t in leaf.get("track_ids") or []:
                    category_of[int(t)] = k
        return cls(categories, category_of) if categories else None

    def home_of(self, cluster: Cluster) -> int | None:
        """The previous category holding more than half of the cluster's tracks, if one does."""
        votes = Counter(self.category_of[int(t)] for t in cluster.track_ids if int(t) in self.category_of)
        if not votes:
            return None
        k, n = min(votes.items(), key=lambda kv: (-kv[1], kv[0]))
        return k if 2 * n > len(cluster.track_ids) else None


@dataclass(frozen=True)
class GroupingReport(PhaseReport):
    profile: str = figure(hidden=True)
    clusters: int
    tracks: int
    categories: int
    # Calls per step (the ledger): propose, consolidate, assign, describe ...
    steps: list[dict[str, Any]] = figure(table=("step", "units", "calls", "retries", "failed_units", "serial_calls"))
    calls: int
    serial_calls: int
    retries: int
    failed_calls: int
    fallback_used: bool
    fallbacks: dict[str, Any]
    category_sizes: list[dict[str, Any]] = figure(table=("title", "clusters", "tracks"))
    seconds: float = figure(hidden=True)
    # The hierarchy's own figures (absent when it did not run: the seed profile, too few clusters).
    neighbourhood_sizes: list[int] = figure(default_factory=list)
    candidates: int = 0
    count_fix: dict[str, Any] = figure(default_factory=dict)
    consolidation_counts: Any = None
    names_merged: int = 0
    empty_names_dropped: int = 0
    balance_moves: int = 0
    lineage_groups: list[dict[str, Any]] = figure(table=("group", "lineages"), default_factory=list)
    lineage_merges: list[Any] = figure(default_factory=list)
    guard: dict[str, Any] = figure(default_factory=dict)  # lineage-scoped assignment; clusters breaking it: repaired
    categories_mixing_lineage_groups: int = 0
    sections: int = 0
    # keep_previous: clusters pinned to their previous category, their share of the tracks, whether kept
    kept_previous: dict[str, Any] = figure(default_factory=dict)

    def to_metadata(self) -> dict[str, Any]:
        sizes = self.category_sizes
        return {**super().to_metadata(), **size_stats([s["clusters"] for s in sizes], "category_clusters"),
                **size_stats([s["tracks"] for s in sizes], "category_tracks")}


def cluster_summary(cluster: Cluster, description_chars: int | None) -> dict[str, Any]:
    """What the prompts see of a cluster (the reference's compact summary)."""
    description = cluster.description or ""
    return {
        "id": cluster.id,
        "title": cluster.title or cluster.fallback_title,
        "description": description[:description_chars] if description_chars else description,
        "track_count": cluster.track_count,
        "genre_context": cluster.genre_lineage or cluster.genre_title,
        "scene_context": cluster.scene_lineage or cluster.scene_title,
    }


def category_problems(categories: Sequence[Mapping[str, Any]], cluster_ids: Iterable[str],
                      min_categories: int = GroupingParams.min_categories,
                      max_categories: int = GroupingParams.max_categories) -> dict[str, Any]:
    """What breaks the phase's contract: the count (``min_categories``-``max_categories``, or one per
    cluster below ``min_categories`` clusters),
    clusters held twice, held by none, unknown, empty categories and bad or repeated category ids."""
    ids = list(dict.fromkeys(cluster_ids))
    held = Counter(cid for c in categories for cid in c.get("cluster_ids", []))
    lo, hi = (min_categories, max_categories) if len(ids) >= min_categories else (len(ids), len(ids))
    cat_ids = Counter(str(c.get("id", "")) for c in categories)
    return {
        "count": len(categories),
        "count_out_of_range": not lo <= len(categories) <= hi,
        "duplicated": sorted(cid for cid, n in held.items() if n > 1),
        "missing": sorted(set(ids) - set(held)),
        "unknown": sorted(set(held) - set(ids)),
        "empty_categories": [str(c.get("id")) for c in categories if not c.get("cluster_ids")],
        "duplicate_category_ids": sorted(cid for cid, n in cat_ids.items() if n > 1),
        "bad_category_ids": sorted(cid for cid in cat_ids if not cid or cid != kebab_case(cid, "")),
    }


def has_problems(problems: Mapping[str, Any]) -> bool:
    return any(bool(v) for k, v in problems.items() if k != "count")


# ------------------------------------------------------------------------------------ accounting
def makespan(attempts: Sequence[int], workers: int) -> int:
    """Serial calls of a wave: units run in order on ``workers`` threads, each attempt one time unit."""
    free = [0] * max(1, min(workers, len(attempts) or 1))
    for n in attempts:
        i = free.index(min(free))
        free[i] += n
    return max(free) if attempts else 0


class _Ledger:
    """Calls with a step-level retry on LLMError, counted per step (thread-safe)."""

    def __init__(self, llm: Any, retries: int):
        self.llm = llm
        self.retries = retries
        self.successes = 0
        self._lock = threading.Lock()
        self.steps: dict[str, dict[str, Any]] = {}
        self._attempts: dict[str, dict[int, int]] = {}

    def call(self, step: str, request: LLMRequest, unit: int) -> dict[str, Any] | None:
        """The answer, or None when every attempt failed (the caller applies its fallback).
        StopRequested and other exceptions propagate."""
        attempts, answer = 0, None
        for _ in range(1 + self.retries):
            attempts += 1
            try:
                answer = self.llm.call(request)
                break
            except LLMError as exc:
                log.warning("phase 5 %s unit %d failed (attempt %d): %s", step, unit, attempts, exc)
                if getattr(exc, "fatal", False):
                    break
        with self._lock:
            s = self.steps.setdefault(step, {"step": step, "units": 0, "calls": 0, "retries": 0,
                                             "failed_calls": 0, "failed_units": 0, "serial_calls": 0})
            s["units"] += 1
            s["calls"] += attempts
            s["retries"] += attempts - 1
            s["failed_calls"] += attempts - (answer is not None)
            s["failed_units"] += answer is None
            self._attempts.setdefault(step, {})[unit] = self._attempts.get(step, {}).get(unit, 0) + attempts
            self.successes += answer is not None
        return answer

    def close_wave(self, step: str, workers: int) -> None:
        if step in self.steps:
            per_unit = self._attempts[step]
            self.steps[step]["serial_calls"] = makespan([per_unit[u] for u in sorted(per_unit)], workers)

    def totals(self) -> dict[str, Any]:
        steps = list(self.steps.values())
        return {"steps": steps, "calls": sum(s["calls"] for s in steps),
                "serial_calls": sum(s["serial_calls"] for s in steps),
                "retries": sum(s["retries"] for s in steps), "failed_calls": sum(s["failed_calls"] for s in steps)}


def _band(progress: Progress, lo: float, hi: float) -> Progress:
    return lambda fraction, message: progress(lo + (hi - lo) * fraction, message)


# ------------------------------------------------------------------------------------- the phase
@dataclass
class _Outcome:
    groups: list[list[int]]  # positions in the phase's cluster list
    texts: list[dict[str, str]]  # title and description per group
    ledger: _Ledger
    fallbacks: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)


def group_into_categories(clusters: ClusterSet, llm: Any, params: GroupingParams,
                          progress: Progress = no_progress,
                          tracks: pd.DataFrame | TrackFacets | None = None,
                          previous: PreviousGrouping | None = None) -> dict[str, Any]:
    """``{"categories": [{"id", "title", "description", "cluster_ids", "sections"?}], "report":
    GroupingReport}``. ``tracks`` (the collection's tracks) give the vectors, titles and descriptions
    their facts; without them each track is taken to carry its cluster's filter values. ``sections``
    (``[{"title", "leaf_ids"}]``, every cluster of the category in exactly one) only on big categories."""
    started = time.monotonic()
    items: list[Cluster] = []
    seen: set[str] = set()
    for cluster in clusters.clusters:  # a repeated id counts once (its first record)
        if cluster.id not in seen:
            seen.add(cluster.id)
            items.append(cluster)
    if params.profile == "seed":
        outcome = _seed(items, llm, params)
    elif len(items) < params.min_categories:  # too few to group: one category each, no LLM call
        texts = [{"title": c.title or c.fallback_title,
                  "description": describe_category.describe_group([cluster_summary(c, None)])["description"]}
                 for c in items]
        outcome = _Outcome([[i] for i in range(len(items))], texts, _Ledger(llm, 0),
                           {"one_category_per_cluster": bool(items)})
    else:
        facets = tracks if isinstance(tracks, TrackFacets) else TrackFacets(tracks) if tracks is not None \
            else facets_from_filters(items)
        # The geometry's many small scikit-learn fits run fastest on one BLAS/OpenMP thread (the LLM
        # calls run on the phase's own threads); on a busy machine many threads each cost 40x.
        with threadpool_limits(limits=1):
            outcome = _Hierarchy(items, llm, params, progress, facets,
                                 previous if params.keep_previous else None).run()
    categories = _assemble(items, outcome.groups, outcome.texts)
    progress(1.0, f"{len(categories)} categories")
    tracks = {c.id: c.track_count for c in items}
    report = GroupingReport(
        profile=params.profile,
        clusters=len(items),
        tracks=sum(tracks.values()),
        categories=len(categories),
        **outcome.ledger.totals(),
        fallback_used=bool(outcome.fallbacks.get("lineage_grouping") or outcome.fallbacks.get("all_collections")),
        fallbacks=outcome.fallbacks,
        **outcome.figures,
        category_sizes=[{"id": c["id"], "title": c["title"], "clusters": len(c["cluster_ids"]),
                         "tracks": sum(tracks[cid] for cid in c["cluster_ids"])} for c in categories],
        seconds=round(time.monotonic() - started, 3),
    )
    return {"categories": categories, "report": report}


def _assemble(items: list[Cluster], groups: list[list[int]], texts: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Categories ordered by tracks (then title), members in input order, unique kebab-case ids (from
    the text's ``id`` when it has one, as the seed profile's LLM gives, else from the title)."""
    rows = sorted(zip(groups, texts, strict=True),
                  key=lambda gt: (-sum(items[i].track_count for i in gt[0]), gt[1]["title"]))
    out, used = [], set()
    for group, text in rows:
        base = kebab_case(text.get("id") or text["title"], "category")
        cid, n = base, 2
        while cid in used:
            cid, n = f"{base}-{n}", n + 1
        used.add(cid)
        category: dict[str, Any] = {"id": cid, "title": text["title"], "description": text["description"]}
        sections = text.get("sections") or []
        if sections:  # members listed section by section, so the flat leaves follow the sections
            category["cluster_ids"] = [items[i].id for s in sections for i in s["members"]]
            category["sections"] = [{"title": s["title"], "leaf_ids": [items[i].id for i in s["members"]]}
                                    for s in sections]
        else:
            category["cluster_ids"] = [items[i].id for i in sorted(group)]
        out.append(category)
    return out


def facets_from_filters(items: Sequence[Cluster]) -> TrackFacets:
    """Without the tracks table: each track carries its cluster's filter values (first cluster wins)."""
    rows: dict[int, dict[str, Any]] = {}
    for cluster in items:
        values = {k: list(v) for k, v in cluster.filters.items() if k in ("genre", "scene_tags", "descriptors")
                  and isinstance(v, list)}
        for t in cluster.track_ids:
            rows.setdefault(int(t), values)
    return TrackFacets.from_values(rows)


def _seed(items: list[Cluster], llm: Any, params: GroupingParams) -> _Outcome:
    """The reference: one call; unassigned -> the largest category; failure -> "All Collections"."""
    ledger = _Ledger(llm, retries=0)
    if not items:
        return _Outcome([], [], ledger)
    index = {c.id: i for i, c in enumerate(items)}
    payload = {"min_categories": params.min_categories, "max_categories": params.max_categories,
               "clusters": [cluster_summary(c, params.description_chars) for c in items]}
    answer = ledger.call("group_clusters", group_clusters.TASK.request(payload), unit=0)
    ledger.close_wave("group_clusters", 1)
    groups, texts, seen = [], [], set()
    for cat in (answer or {}).get("categories", []):
        members = [index[cid] for cid in cat.get("cluster_ids", []) if cid in index and cid not in seen]
        seen.update(items[i].id for i in members)
        if members:
            groups.append(members)
            texts.append({"id": cat.get("id", ""), "title": cat["title"], "description": cat.get("description", "")})
    if not groups:
        return _Outcome([list(range(len(items)))], [dict(ALL_COLLECTIONS)], ledger, {"all_collections": True})
    unassigned = [i for i, c in enumerate(items) if c.id not in seen]
    largest = max(range(len(groups)), key=lambda j: (len(groups[j]), -j))
    groups[largest].extend(unassigned)
    return _Outcome(groups, texts, ledger, {"unassigned_to_largest": len(unassigned)})


class _Hierarchy:
    def __init__(self, items: list[Cluster], llm: Any, params: GroupingParams, progress: Progress,
                 facets: TrackFacets, previous: PreviousGrouping | None = None):
        self.items, self.p, self.progress, self.facets = items, params, progress, facets
        self.previous = previous
        self.kept_previous = False
        # The prompts name each cluster by a short reference ("c17": its position), not its long id: the
        # answers list clusters by it, so fewer output tokens on every call that names clusters.
        self.summaries = [{**cluster_summary(c, params.description_chars), "id": f"c{i}"} for i, c in enumerate(items)]
        self.lo = params.min_categories
        self.hi = max(params.max_categories, params.min_categories)
        self.target = min(max(params.target_categories, self.lo), self.hi)
        self.space = ClusterSpace.build(items, facets)
        self.vectors, self.weights = self.space.vectors, self.space.weights
        self.lineage = lineage_groups(self.space, self.target, params.min_lineage_share)
        self.home = self.lineage.home
        self.structure = structural_partition(self.space, self.lineage, self.target)
        self.index = {s["id"]: i for i, s in enumerate(self.summaries)}
        self.rows = [facets.rows_of(c.track_ids) for c in items]
        self.ledger = _Ledger(llm, params.step_retries)
        self.stop_event = getattr(llm, "stop_event", None)
        self.fallbacks: dict[str, Any] = {"lineage_grouping": False, "consolidation": "llm",
                                          "assigned_by_vector": 0, "named_deterministically": 0}
        self.figures: dict[str, Any] = {
            "lineage_groups": [{"group": name, "lineages": members} for name, members in self.lineage.members.items()],
            "lineage_merges": self.lineage.merges}

    def run(self) -> _Outcome:
        kept = self.previous_categories()
        if kept is not None:
            return self.finish(*kept)
        hoods = packed(self.space, neighbourhoods(self.space, self.structure, self.p.neighbourhood_size, self.home),
                       self.p.workers, self.home)
        self.figures["neighbourhood_sizes"] = [len(h) for h in hoods]
        self.progress(0.05, f"{len(self.items)} clusters in {len(self.lineage.members)} lineage groups, "
                            f"{len(hoods)} neighbourhoods")
        candidates = self.propose(hoods)
        self.figures["candidates"] = len(candidates)
        if not candidates:  # the LLM path failed entirely: the structural partition, deterministic names
            self.fallbacks["lineage_grouping"] = True
            fitted, moves = fit_count([list(g) for g in self.structure], self.vectors, self.weights, self.lo,
                                      self.hi, home=self.home)
            self.figures["count_fix"] = moves
            groups = self.balanced(fitted)
            return self.outcome(groups, self.deterministic_texts(groups))
        return self.finish(self.consolidate(candidates), {})

    def previous_categories(self) -> tuple[list[dict[str, Any]], dict[int, int]] | None:
        """``keep_previous``: the previous build's categories as the names to assign to, each cluster
        most of whose tracks one of them held pinned to it; None (regroup from scratch) when those
        clusters hold less than ``keep_previous_min_share`` of the tracks."""
        if self.previous is None or not self.lo <= len(self.previous.categories) <= self.hi:
            return None  # none, or not a grouping to keep (the reference's single fallback category, say)
        homes = {i: self.previous.home_of(c) for i, c in enumerate(self.items)}
        pinned = {i: k for i, k in homes.items() if k is not None}
        share = float(self.weights[list(pinned)].sum() / self.weights.sum()) if pinned else 0.0
        kept = share >= self.p.keep_previous_min_share
        self.figures["kept_previous"] = {"clusters_pinned": len(pinned), "clusters": len(self.items),
                                         "tracks_share": round(share, 4), "kept": kept}
        if not kept:
            return None
        used = sorted(set(pinned.values()))
        position = {k: j for j, k in enumerate(used)}
        cats = []
        for k in used:
            members = [i for i, home in pinned.items() if home == k]
            text = self.previous.categories[k]
            cats.append({"name": text["title"] or text["id"], "description": text["description"], "claimed": members,
                         "vector": self.vector_of(members)})
        self.kept_previous = True
        self.progress(0.4, f"kept {len(cats)} previous categories; {len(self.items) - len(pinned)} clusters to assign")
        return cats, {i: position[k] for i, k in pinned.items()}

    def finish(self, cats: list[dict[str, Any]], pinned: dict[int, int]) -> _Outcome:
        """Assignment (``pinned`` clusters keep their category, no call), the lineage rules, the count
        fix and balance, then the texts."""
        groups, cats = self.assign(cats, pinned)
        if self.p.own_lineage_first:
            groups = self.own_lineage_first(groups)
        groups, cats = self.guard(groups, cats)
        fitted, moves = fit_count(groups, self.vectors, self.weights, self.lo, self.hi, home=self.home)
        self.figures["count_fix"] = moves
        cats = _inherit(fitted, groups, cats)
        groups = self.balanced(fitted)
        self.progress(0.8, f"{len(groups)} categories after the guard, count fix and balance")
        return self.outcome(groups, self.describe(groups, cats))

    def outcome(self, groups: list[list[int]], texts: list[dict[str, Any]]) -> _Outcome:
        homes = [home_of_group(g, self.home, self.weights) for g in groups]
        self.figures["categories_mixing_lineage_groups"] = sum(
            any(self.home[i] != h for i in g) for g, h in zip(groups, homes, strict=True))
        for group, text in zip(groups, texts, strict=True):
            text["sections"] = self.sections(group, text["title"])
        self.figures["sections"] = sum(len(t["sections"]) for t in texts)
        return _Outcome(groups, texts, self.ledger, self.fallbacks, self.figures)

    # -- steps ------------------------------------------------------------------------------------
    def _run_wave(self, step: str, units: int, work: Callable[[int], Any], lo: float, hi: float) -> list[Any]:
        out = run_batches(list(range(units)), work, workers=self.p.workers, stop_event=self.stop_event,
                          progress=_band(self.progress, lo, hi), label=step)
        self.ledger.close_wave(step, self.p.workers)
        return out

    def propose(self, hoods: list[list[int]]) -> list[dict[str, Any]]:
        n = len(self.items)

        def work(h: int) -> dict[str, Any] | None:
            members = hoods[h]
            wanted = min(self.hi + 3, max(2, math.ceil(self.p.candidates_per_category * self.target
                                                       * len(members) / n)))
            contrast = nearest_outside(self.vectors, members, self.p.contrast_clusters)
            payload = {"wanted": wanted, "total_categories": [self.lo, self.hi],
                       "clusters": [self.summaries[i] for i in members],
                       "contrast": [self.summaries[i] for i in contrast]}
            return self.ledger.call("propose", propose_categories.TASK.request(payload), unit=h)

        answers = self._run_wave("propose", len(hoods), work, 0.05, 0.3)
        candidates: list[dict[str, Any]] = []
        by_name: dict[str, dict[str, Any]] = {}
        for answer in answers:
            for item in (answer or {}).get("categories", []):
                claimed = [self.index[c] for c in item.get("cluster_ids", []) if c in self.index]
                key = str(item.get("name", "")).strip().casefold()
                if not key:
                    continue
                if key in by_name:
                    by_name[key]["claimed"] = sorted(set(by_name[key]["claimed"]) | set(claimed))
                    continue
                by_name[key] = {"name": item["name"], "description": item.get("description", ""), "claimed": claimed}
                candidates.append(by_name[key])
        for cand in candidates:
            cand["vector"] = self.vector_of(cand["claimed"])
        return candidates

    def consolidate(self, candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        payload = {"min_categories": self.lo, "max_categories": self.hi, "total_clusters": len(self.items),
                   "target_categories": self.target,
                   "candidates": [{"name": c["name"], "description": c["description"],
                                   "cluster_count": len(c["claimed"]), **self.hints(c["claimed"])}
                                  for c in candidates]}
        answer = self.ledger.call("consolidate", consolidate_categories.TASK.request(payload), unit=0)
        counts = [len(answer["categories"])] if answer else []
        if answer and not self.lo <= counts[0] <= self.hi:
            again = self.ledger.call("consolidate", consolidate_categories.TASK.request(
                {**payload, "previous_count": counts[0]}), unit=0)
            if again and again["categories"]:
                counts.append(len(again["categories"]))
                answer = again
        self.ledger.close_wave("consolidate", 1)
        self.figures["consolidation_counts"] = counts
        by_name = {c["name"]: j for j, c in enumerate(candidates)}
        if answer and answer["categories"]:
            cats = [{"name": c["name"], "description": c["description"],
                     "sources": [by_name[s] for s in c.get("merged_from", []) if s in by_name]}
                    for c in answer["categories"]]
            if len(counts) > 1:
                self.fallbacks["consolidation"] = "llm_reasked"
        else:
            self.fallbacks["consolidation"] = "deterministic"
            cats = [{"name": c["name"], "description": c["description"], "sources": [j]}
                    for j, c in enumerate(candidates)]
        for cat in cats:
            claimed = sorted({i for j in cat["sources"] for i in candidates[j]["claimed"]})
            cat["claimed"] = claimed
            cat["vector"] = self.vector_of(claimed)
        merged = 0
        while len(cats) > self.hi:  # still too many names: merge the smallest into its nearest
            vectors = np.stack([c["vector"] for c in cats])
            i = min(range(len(cats)), key=lambda j: (len(cats[j]["claimed"]), j))
            j = nearest_group([[k] for k in range(len(cats))], vectors, i)
            cats[j]["claimed"] = sorted(set(cats[j]["claimed"]) | set(cats[i]["claimed"]))
            cats[j]["vector"] = self.vector_of(cats[j]["claimed"])
            cats.pop(i)
            merged += 1
        self.figures["names_merged"] = merged
        self.progress(0.4, f"consolidated into {len(cats)} names")
        return cats

    def category_payload(self, cats: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"name": c["name"], "description": c["description"], **self.hints(c["claimed"])} for c in cats]

    def assign(self, cats: list[dict[str, Any]],
               pinned: Mapping[int, int] | None = None) -> tuple[list[list[int]], list[dict[str, Any]]]:
        """One wave: each cluster offered only the categories of its own lineage group (a category's
        group: the one holding most of its claimed clusters' tracks; the request's ``enum`` says so).
        A lineage group that no category belongs to gets one of its own while there is room, else its
        clusters are offered every category. Left out or unanswered: the most similar category offered."""
        cat_home: list[str | None] = [home_of_group(c["claimed"], self.home, self.weights) if c["claimed"] else None
                                      for c in cats]
        added = 0
        for home in sorted(set(self.home) - set(cat_home), key=lambda h: (-self.weights[self._of_home(h)].sum(), h)):
            if len(cats) >= self.hi:
                break
            members = self._of_home(home)
            taken = {c["name"].casefold() for c in cats}
            name = home or "Other"
            while name.casefold() in taken:
                name += " +"
            cats.append({"name": name, "description": "", "claimed": members, "vector": self.vector_of(members)})
            cat_home.append(home)
            added += 1
        floating = [k for k, h in enumerate(cat_home) if h is None]  # claims nothing: offered to every group
        units: list[tuple[list[int], list[int]]] = []  # (clusters, categories offered)
        pinned = pinned or {}
        for home in sorted(set(self.home)):
            own = [k for k, h in enumerate(cat_home) if h == home]
            units.append(([i for i in self._of_home(home) if i not in pinned],
                          sorted(own + floating) if own else list(range(len(cats)))))
        batches = self._assign_batches(units)
        self.figures["guard"] = {"lineage_units": len(units), "categories_added": added,
                                 "clusters_offered_all": sum(len(b) for b, allowed in batches
                                                             if len(allowed) == len(cats))}
        cat_payload = self.category_payload(cats)
        name_index = {c["name"]: j for j, c in enumerate(cats)}

        def work(b: int) -> dict[str, Any] | None:
            batch, allowed = batches[b]
            payload = {"categories": [cat_payload[k] for k in allowed], "clusters": [self.summaries[i] for i in batch]}
            return self.ledger.call("assign", assign_categories.request_for(payload), unit=b)

        answers = self._run_wave("assign", len(batches), work, 0.4, 0.7) if batches else []
        chosen: dict[int, int] = dict(pinned)
        for (batch, allowed), answer in zip(batches, answers, strict=True):
            for item in (answer or {}).get("assignments", []):
                j = name_index.get(item.get("category"))
                for cid in item.get("cluster_ids", []) if j in allowed else []:
                    i = self.index.get(cid)
                    if i is not None and i in batch and i not in chosen:
                        chosen[i] = j
        groups: list[list[int]] = [[] for _ in cats]
        for i, j in chosen.items():
            groups[j].append(i)
        centres = np.stack([centroid(self.vectors, g) if g else c["vector"] for g, c in zip(groups, cats, strict=True)])
        missing = 0
        for batch, allowed in batches:  # never "the largest": the most similar category offered
            for i in batch:
                if i not in chosen:
                    groups[allowed[int(np.argmax(centres[allowed] @ self.vectors[i]))]].append(i)
                    missing += 1
        self.fallbacks["assigned_by_vector"] = missing
        kept = [k for k, g in enumerate(groups) if g]
        self.figures["empty_names_dropped"] = len(cats) - len(kept)
        return [sorted(groups[k]) for k in kept], [cats[k] for k in kept]

    def own_lineage_first(self, groups: list[list[int]]) -> list[list[int]]:
        """A lineage group may hold several lineages' categories (House + Jazz); a cluster the answer put
        in a category of another lineage of its group (a jazz-funk playlist under "Deep House") moves to
        the most similar category whose own lineage (the one holding most of its tracks) is the
        cluster's, when there is one. The shelf stays one genre family; the group rule still holds."""
        lineages = self.space.lineages
        owner = [home_of_group(g, lineages, self.weights) if g else "" for g in groups]
        moves = {}
        for k, group in enumerate(groups):
            for i in group:
                targets = [j for j, lin in enumerate(owner) if lin == lineages[i] and j != k]
                if lineages[i] and lineages[i] != owner[k] and targets:
                    moves[i] = self.most_similar(i, targets, groups)
        out = [[i for i in g if i not in moves] for g in groups]
        for i, j in moves.items():
            out[j].append(i)
        self.figures.setdefault("guard", {})["moved_to_own_lineage"] = len(moves)
        return [sorted(g) for g in out]

    def most_similar(self, i: int, among: Sequence[int], groups: Sequence[Sequence[int]]) -> int:
        """Of the categories ``among``, the one whose clusters' centroid cluster ``i`` is most similar
        to (an empty one counts as ``i`` itself; ties: the first)."""
        sims = [float(self.vectors[i] @ centroid(self.vectors, groups[k] or [i])) for k in among]
        return among[int(np.argmax(sims))]

    def _of_home(self, home: str) -> list[int]:
        return [i for i, h in enumerate(self.home) if h == home]

    def _assign_batches(self, units: list[tuple[list[int], list[int]]]) -> list[tuple[list[int], list[int]]]:
        """The assignment calls, one wave: as many as ``wave_chunks`` gives the whole set (at least one
        per lineage group, up to ``workers``; more groups than that: the smallest two share calls,
        offered both groups' categories), shared out so that the largest batch is as small as can be;
        each group's clusters seeded-shuffled (no batch sees them in their phase-4 order) and evenly cut."""
        units = [(list(c), list(a)) for c, a in units if c]  # a group whose clusters are all pinned: no call
        count = len(wave_chunks(range(sum(len(c) for c, _ in units)), self.p.assign_batch_size, self.p.workers,
                                self.p.assign_max_batch))
        budget = max(count, min(len(units), self.p.workers))
        while len(units) > budget:
            units.sort(key=lambda u: (len(u[0]), u[0][0]))
            (a_clusters, a_allowed), (b_clusters, b_allowed) = units.pop(0), units.pop(0)
            units.append((sorted(a_clusters + b_clusters), sorted(set(a_allowed) | set(b_allowed))))
        calls = [1] * len(units)
        for _ in range(budget - len(units)):
            u = max(range(len(units)), key=lambda v: (math.ceil(len(units[v][0]) / calls[v]), -v))
            if len(units[u][0]) <= calls[u]:
                break
            calls[u] += 1
        rng = random.Random(self.p.seed)
        out: list[tuple[list[int], list[int]]] = []
        for (clusters, allowed), n in zip(units, calls, strict=True):
            order = list(clusters)
            rng.shuffle(order)
            out += [(part, allowed) for part in even_split(order, n)]
        return out

    def guard(self, groups: list[list[int]],
              cats: list[dict[str, Any]]) -> tuple[list[list[int]], list[dict[str, Any]]]:
        """No category mixes lineage groups: each category belongs to the group holding most of its
        tracks; a cluster of another group (only possible where the assignment offered more than its
        own group's categories) is repaired without another call (see the module docstring)."""
        homes = [home_of_group(g, self.home, self.weights) for g in groups]
        where = {i: k for k, g in enumerate(groups) for i in g}
        breaking = sorted(i for i, k in where.items() if self.home[i] != homes[k])
        report = {**self.figures.get("guard", {}), "breaking_clusters": len(breaking),
                  "breaking_tracks": int(self.weights[breaking].sum()), "repaired": 0, "new_categories": 0,
                  "left_across": 0}
        self.figures["guard"] = report
        for i in breaking:
            allowed = [k for k, h in enumerate(homes) if h == self.home[i]]
            if allowed:
                k = self.most_similar(i, allowed, groups)
                report["repaired"] += 1
            elif len([g for g in groups if g]) < self.hi:  # a lineage group without a category gets one
                homes.append(self.home[i])
                groups.append([])
                cats.append({"name": self.home[i] or "Other", "description": "", "claimed": [],
                             "vector": self.vectors[i]})
                k = len(groups) - 1
                report["new_categories"] += 1
            else:
                report["left_across"] += 1
                continue
            groups[where[i]].remove(i)
            groups[k].append(i)
            where[i] = k
        kept = [k for k, g in enumerate(groups) if g]
        return [sorted(groups[k]) for k in kept], [cats[k] for k in kept]

    def balanced(self, groups: list[list[int]]) -> list[list[int]]:
        groups, moves = balance(groups, self.vectors, self.weights, self.p.balance_cap, home=self.home)
        self.figures["balance_moves"] = moves
        return [sorted(g) for g in groups]

    # -- texts ------------------------------------------------------------------------------------
    def shelf_titles(self, groups: list[list[int]]) -> list[str]:
        """Suggested titles: what most of each category's tracks share, unique, biggest category first."""
        counts = self.facets.counts("genre")
        roots = {lin for lin in self.space.lineages if lin}
        titles = [""] * len(groups)
        taken: list[str] = []
        for k in sorted(range(len(groups)), key=lambda k: (-self.weights[groups[k]].sum(), k)):
            rows = [r for i in groups[k] for r in self.rows[i]]
            found = shelf_title(self.facets.values("genre", rows), counts, roots=roots, taken=taken,
                                coverage=self.p.title_coverage)
            titles[k] = found.title if found else ""
            taken.append(titles[k])
        return titles

    def facts(self, members: Sequence[int], top: int = 6) -> dict[str, Any]:
        """What a category's tracks carry: commonest tags per facet with their share, years, artists."""
        rows = [r for i in members for r in self.rows[i]]
        n = max(1, len(rows))
        out: dict[str, Any] = {}
        for facet in ("genre", "scene_tags", "descriptors", "country"):
            counts = self.facets.counts(facet, rows)
            out[facet] = [[v, round(c / n, 2)] for v, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
                          if c / n >= 0.05]
        years = self.facets.numbers("year", rows)
        out["years"] = [int(years.min()), int(years.max())] if years.size else []
        artists = self.facets.counts("artist", rows)
        out["artists"] = [a for a, _ in sorted(artists.items(), key=lambda kv: (-kv[1], kv[0]))[:5]]
        return out

    def describe_payload(self, k: int, groups: list[list[int]], working: list[str], suggested: list[str],
                         cats: list[dict[str, Any]] | None) -> dict[str, Any]:
        members = groups[k]
        sample = sorted(members, key=lambda i: (-self.weights[i], i))[: self.p.describe_sample]
        return {"title": working[k], "description": cats[k]["description"] if cats else "",
                "cluster_count": len(members), "track_count": int(sum(self.items[i].track_count for i in members)),
                "suggested_title": suggested[k], "tags": self.facts(members),
                "clusters": [self.summaries[i] for i in sample],
                "other_titles": [t for j, t in enumerate(working) if j != k]}

    def describe(self, groups: list[list[int]], cats: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One wave of ``describe_categories`` calls, a few categories each; a category the answer
        leaves out (or a failed call) keeps its suggested title and a deterministic description."""
        suggested = self.shelf_titles(groups)
        if self.ledger.successes == 0 and not self.kept_previous:  # every call failed: no LLM texts either
            return self.deterministic_texts(groups, suggested)
        working = [c["name"] for c in cats]
        batches = wave_chunks(list(range(len(groups))), self.p.describe_batch_size, self.p.workers,
                              self.p.describe_max_batch)

        def work(b: int) -> dict[str, Any] | None:
            items = [{"id": f"k{k}", **{key: v for key, v in self.describe_payload(k, groups, working, suggested,
                                                                                   cats).items()
                                         if key != "other_titles"}} for k in batches[b]]
            return self.ledger.call("describe", describe_categories.request_for({"titles": working,
                                                                                  "categories": items}), unit=b)

        answers = self._run_wave("describe", len(batches), work, 0.8, 0.98)
        found: dict[int, dict[str, str]] = {}
        for batch, answer in zip(batches, answers, strict=True):
            ids = {f"k{k}": k for k in batch}
            for item in (answer or {}).get("categories", []):
                k = ids.get(item.get("id"))
                if k is not None and k not in found and item.get("title"):
                    found[k] = {"title": item["title"], "description": item.get("description", "")}
        texts = []
        for k in range(len(groups)):
            if k not in found:
                self.fallbacks["named_deterministically"] += 1
                own = describe_category.solve_offline(self.describe_payload(k, groups, suggested, suggested, cats))
                found[k] = {"title": own["title"], "description": own["description"]}
            texts.append(found[k])
        return self.unique_titles(groups, texts, suggested)

    def deterministic_texts(self, groups: list[list[int]], suggested: list[str] | None = None) -> list[dict[str, Any]]:
        suggested = suggested if suggested is not None else self.shelf_titles(groups)
        texts = [describe_category.solve_offline(self.describe_payload(k, groups, suggested, suggested, None))
                 for k in range(len(groups))]
        self.fallbacks["named_deterministically"] = len(groups)
        return self.unique_titles(groups, [{"title": t["title"], "description": t["description"]} for t in texts],
                                  suggested)

    def unique_titles(self, groups: list[list[int]], texts: list[dict[str, Any]],
                      suggested: list[str]) -> list[dict[str, Any]]:
        """A repeated title (case-insensitive) stays with the larger category; the other gets its
        suggested title when that is free, else the deterministic namer's first free title."""
        taken: set[str] = set()
        for k in sorted(range(len(groups)), key=lambda k: (-self.weights[groups[k]].sum(), k)):
            if texts[k]["title"].casefold() in taken:
                others = [t["title"] for t in texts] + list(taken)
                if suggested[k] and suggested[k].casefold() not in {o.casefold() for o in others}:
                    texts[k]["title"] = suggested[k]
                else:
                    texts[k]["title"] = describe_category.describe_group(
                        [self.summaries[i] for i in groups[k]], avoid=others)["title"]
            taken.add(texts[k]["title"].casefold())
        return texts

    def sections(self, members: list[int], category_title: str) -> list[dict[str, Any]]:
        """Sections of a big category, each titled by what most of its tracks share within the category."""
        parts = sections_of(self.space, members, self.p.section_min_leaves, self.p.section_size)
        if not parts:
            return []
        rows = [r for i in members for r in self.rows[i]]
        counts = self.facets.counts("genre", rows)
        # What nearly every track of the category carries tells its sections apart no better than a root.
        shared = {v for v, c in counts.items() if c >= SECTION_SHARED * len(rows)} | set(self.space.lineages)
        taken = [category_title]
        out: list[dict[str, Any]] = []
        for part in sorted(parts, key=lambda s: (-self.weights[s].sum(), s[0])):
            part_rows = [r for i in part for r in self.rows[i]]
            found = shelf_title(self.facets.values("genre", part_rows), counts, roots=shared, taken=taken,
                                coverage=self.p.title_coverage, show_root=False)
            title = found.title if found else f"{category_title}: part {len(out) + 1}"
            taken.append(title)
            out.append({"title": title, "members": sorted(part)})
        return out

    # -- helpers ----------------------------------------------------------------------------------
    def vector_of(self, members: list[int]) -> np.ndarray:
        """A candidate's or category's vector: its clusters' centroid (zero when it claims none)."""
        return centroid(self.vectors, members)

    def hints(self, members: list[int]) -> dict[str, list[str]]:
        """The genre lineages and example titles of a candidate's clusters, for the prompts."""
        branches: Counter[str] = Counter()
        for i in members:
            parts = context_parts(self.summaries[i]["genre_context"])
            if parts:
                branches[" > ".join(parts[:2])] += int(self.weights[i])
        biggest = sorted(members, key=lambda i: (-self.weights[i], i))[:4]
        return {"contexts": [b for b, _ in sorted(branches.items(), key=lambda kv: (-kv[1], kv[0]))[:3]],
                "examples": [self.summaries[i]["title"] for i in biggest]}


def _inherit(new_groups: list[list[int]], old_groups: list[list[int]],
             cats: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """After a split or merge, each new group takes the working name of the old category that gave
    it most of its clusters (both halves of a split share it until ``describe`` renames them)."""
    owner = {i: k for k, g in enumerate(old_groups) for i in g}
    out = []
    for group in new_groups:
        votes = Counter(owner[i] for i in group)
        k = min(votes, key=lambda j: (-votes[j], j))
        out.append(cats[k])
    return out
