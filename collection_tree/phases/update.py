"""The incremental update (issue 15 part 1): the previous build's tree plus the tracks file's change,
without re-running phases 1-5 over the whole collection. Pure; every membership decision goes through
the full build's own phase functions:

1. Tracks the tracks file no longer has leave their leaves.
2. Seeds: phase 1 (``build_seed_clusters``) over the new and previously ungrouped tracks only; a
   genre x scene pair reaching ``min_tracks`` among them is a candidate leaf, unless the previous tree
   already has a leaf of that genre and scene context (its tracks are then placed like the others).
   Candidates are named by phase 2 (``name_clusters``, the LLM or the offline provider).
3. Placement: phase 3 (``reassign_tracks``) over the previous leaves (their members fixed: no poor
   fits among them) and the candidates, in the scope of the previous members plus the new and
   ungrouped tracks: the similarity model places the clear cases, the LLM the ambiguous ones, the
   lineage guard refuses a leaf of another lineage. A candidate's member whose best previous leaf beats
   the candidate by ``poor_fit_margin`` (the phase's own ``similarity_poor_fits``) is placed like an
   orphan, so a candidate that merely repeats a leaf dissolves into it.
4. Leaves that shrank or are new and hold fewer than ``min_leaf_tracks`` are folded
   (``fold_small_clusters``, as phase 4 does); a new leaf joins the category where most of its tracks'
   best previous leaves are (guarded similarity).
5. Leaves that are new or whose membership changed by more than ``refresh_share`` get a new
   description and exemplars (phase 6, ``describe_leaves``) and suggestions (phase 7,
   ``suggest_metadata``); the others keep theirs. Play orders are recomputed for changed leaves only.
6. The tree is assembled by ``assemble_collection_tree``; the caller then carries identity, applies
   overrides and writes the diff exactly as after a full build.

Leaves are never split or merged here (a leaf may grow past ``max_leaf_tracks``: the report counts
them; a full build re-balances).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from collection_tree.core.clusters import Cluster, ClusterSet, clusters_from_seeds
from collection_tree.core.inputs import collect_leaves
from collection_tree.core.lineage import GenreLineages
from collection_tree.core.report import PhaseReport, figure
from collection_tree.core.similarity import TrackSimilarity
from collection_tree.llm.interface import LLM
from collection_tree.phases.assembly import assemble_collection_tree
from collection_tree.phases.common import Progress, no_progress
from collection_tree.phases.enrichment import EnrichParams, suggest_metadata
from collection_tree.phases.identity import IdentityReport
from collection_tree.phases.incremental import IncrementalParams, leaves_to_refresh, tracks_change
from collection_tree.phases.leaves import LeafParams, TrackTable, describe_leaves
from collection_tree.phases.naming import NamingParams, name_clusters
from collection_tree.phases.placement import Guard, fold_small_clusters
from collection_tree.phases.playlist_order import LeafOrder, PlaylistOrderParams, apply_orders, order_playlists
from collection_tree.phases.reassignment import ReassignParams, reassign_tracks, similarity_poor_fits
from collection_tree.phases.refinement import RefineParams
from collection_tree.phases.seed_clusters import SeedParams, build_seed_clusters

PREVIOUS = "previous build"  # ``named_by`` of a leaf carried from the previous tree


@dataclass(frozen=True)
class UpdateSteps:
    """The parameters of the full build's phases the update reuses (the caller passes those the
    updated build ran with), and the update's own."""

    seeds: SeedParams
    naming: NamingParams
    reassign: ReassignParams
    refine: RefineParams
    leaves: LeafParams
    enrich: EnrichParams | None  # None: no phase 7 (suggestions stay empty for refreshed leaves)
    order: PlaylistOrderParams
    incremental: IncrementalParams


@dataclass(frozen=True)
class UpdateReport(PhaseReport):
    tracks_added: int
    tracks_removed: int
    tracks_kept: int
    new_tracks_placed: int
    new_tracks_ungrouped: int
    previously_ungrouped_placed: int
    old_tracks_moved: int  # kept tracks no longer in the leaf they had (a folded leaf's, a candidate's pull)
    candidates: int  # seed pairs reaching min_tracks among new and ungrouped tracks
    candidates_repeating_a_leaf: int  # of those: the previous tree had a leaf of their genre and scene
    new_leaves: list[dict[str, Any]] = figure(table=("id", "title", "tracks", "category"))
    folded_leaves: list[str] = figure(default_factory=list)
    refreshed_leaves: int = 0
    kept_text_leaves: int = 0
    leaves_over_max: int = 0  # grew past max_leaf_tracks: a full build would split them
    ungrouped_reasons: dict[str, int] = figure(default_factory=dict)
    ungrouped_new: list[dict[str, Any]] = figure(table=("track_id", "reason"), default_factory=list)  # with why
    calls: dict[str, int] = figure(default_factory=dict)  # LLM calls per reused phase
    reassignment: dict[str, Any] = figure(hidden=True, default_factory=dict)


@dataclass(frozen=True)
class UpdateResult:
    tree: dict[str, Any]
    leaves: ClusterSet  # the updated leaves, their ``unplaced`` with a reason for every ungrouped track
    report: UpdateReport


def _previous_leaves(previous: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(category["id"], leaf) for category in previous.get("categories", []) for leaf in category["leaves"]]


def previous_track_ids(previous: Mapping[str, Any]) -> set[int]:
    """Every track the previous tree was built over: its leaves' and its ungrouped ones."""
    ids = {int(t) for _, leaf in _previous_leaves(previous) for t in leaf["track_ids"]}
    return ids | {int(t) for t in previous.get("ungrouped_track_ids", [])}


def restrict_tree(tree: Mapping[str, Any], keep: set[int]) -> dict[str, Any]:
    """A copy of a genre or scene tree whose nodes name only the tracks in ``keep`` (containers copied,
    scalars shared: they are immutable, and a deep copy of a big tree costs more than the filter)."""
    def copied(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: [t for t in value if int(t) in keep] if key == "track_ids" and isinstance(value, list)
                    else copied(value) for key, value in node.items()}
        if isinstance(node, list):
            return [copied(value) for value in node]
        return node

    out = dict(tree)
    if "lineages" in out:
        out["lineages"] = copied(out["lineages"])
    return out


def _dominant_roots(lineages: GenreLineages | None, groups: list[list[int]]) -> list[str | None]:
    """Per group of tracks: the lineage most of its members have (the first in tree order on a tie),
    None for a group with no member of a known lineage. One indexer and one sum over all groups."""
    if lineages is None or not groups:
        return [None] * len(groups)
    sizes = np.array([len(g) for g in groups], dtype=np.int64)
    members = np.fromiter((int(t) for g in groups for t in g), dtype=np.int64, count=int(sizes.sum()))
    rows = lineages.position.get_indexer(members)
    hits = np.where((rows >= 0)[:, None], lineages.mask[np.maximum(rows, 0)], False).astype(np.int32)
    running = np.vstack([np.zeros((1, hits.shape[1]), dtype=np.int32), np.cumsum(hits, axis=0, dtype=np.int32)])
    ends = np.cumsum(sizes)
    counts = running[ends] - running[ends - sizes]  # members are contiguous per group
    best = counts.argmax(axis=1) if counts.shape[1] else np.zeros(len(groups), dtype=np.int64)
    return [lineages.roots[int(j)] if counts.shape[1] and counts[i, j] > 0 else None
            for i, j in enumerate(best.tolist())]


def _dominant_genre_leaves(genre_tree: Mapping[str, Any], lineages: GenreLineages | None,
                           groups: list[list[int]]) -> list[str]:
    """Per group of tracks: the genre-tree leaf most of them sit in, within the lineage most of them
    have (the full build's guard held every member to its leaf's lineage, so that lineage is shared by
    all members with one). It gives a previous leaf its lineage for the guard: the tree JSON does not
    record it. Ties: the first in tree order."""
    genre_leaves = collect_leaves(dict(genre_tree)) if genre_tree.get("lineages") else []
    where: dict[int, list[int]] = {}
    for j, leaf in enumerate(genre_leaves):
        for t in leaf.get("track_ids", []):
            where.setdefault(int(t), []).append(j)
    roots = _dominant_roots(lineages, groups)
    out = []
    for members, root in zip(groups, roots, strict=True):
        votes = Counter(j for t in members for j in where.get(int(t), ())
                        if root is None or lineages is None
                        or lineages.leaf_root.get(str(genre_leaves[j]["id"])) == root)
        out.append(str(genre_leaves[min(votes, key=lambda j: (-votes[j], j))]["id"]) if votes else "")
    return out


def _carried(previous: Mapping[str, Any], genre_tree: Mapping[str, Any], lineages: GenreLineages | None,
             removed: frozenset[int]) -> list[Cluster]:
    leaves = [leaf for _, leaf in _previous_leaves(previous)]
    members = [[int(t) for t in leaf["track_ids"] if int(t) not in removed] for leaf in leaves]
    genre_ids = _dominant_genre_leaves(genre_tree, lineages, members)
    return [Cluster(id=leaf["id"], track_ids=sorted(kept), genre_leaf_id=genre_id,
                    genre_title=str(leaf.get("genre_context", "")), scene_title=str(leaf.get("scene_context", "")),
                    title=leaf["title"], description=leaf.get("description", ""),
                    examples=list(leaf.get("examples", [])), named_by=PREVIOUS)
            for leaf, kept, genre_id in zip(leaves, members, genre_ids, strict=True)]


def _free_ids(candidates: list[Cluster], taken: set[str]) -> list[Cluster]:
    out = []
    for cluster in candidates:
        key, n = cluster.id, 2
        while key in taken:
            key, n = f"{cluster.id}-{n}", n + 1
        taken.add(key)
        out.append(replace(cluster, id=key))
    return out


def _candidates(genre_tree: Mapping[str, Any], scene_tree: Mapping[str, Any], pool: set[int], carried: list[Cluster],
                min_tracks: int) -> tuple[list[Cluster], int]:
    """Seed clusters among ``pool`` whose genre x scene context no previous leaf has; (kept, repeats)."""
    if not pool:
        return [], 0
    seeds = clusters_from_seeds(build_seed_clusters(restrict_tree(genre_tree, pool), restrict_tree(scene_tree, pool),
                                                    min_tracks))
    existing = {(c.genre_title, c.scene_title) for c in carried}
    kept = [s for s in seeds if (s.genre_title, s.scene_title) not in existing]
    return _free_ids(kept, {c.id for c in carried}), len(seeds) - len(kept)


def _flag_weak_members(carried: list[Cluster], named: list[Cluster], model: TrackSimilarity,
                       lineages: GenreLineages | None, margin: float) -> list[Cluster]:
    """Each candidate with ``poor_fit_track_ids``: its members a previous leaf holds better (phase 3's
    ``similarity_poor_fits`` over the candidates' members only; the previous members stay put)."""
    if not named or not carried:
        return named
    clusters = carried + named
    centroids = model.centroids([c.track_ids for c in clusters])
    owner: dict[int, str] = {}
    for cluster in named:
        for t in cluster.track_ids:
            owner.setdefault(int(t), cluster.id)
    poor = set(similarity_poor_fits(clusters, owner, model, centroids, Guard(lineages, clusters), margin))
    return [replace(c, poor_fit_track_ids=sorted(t for t in c.track_ids if int(t) in poor and owner[int(t)] == c.id))
            for c in named]


def _fold_changed(clusters: list[Cluster], before: Mapping[str, list[int]], model: TrackSimilarity,
                  lineages: GenreLineages | None,
                  min_size: int) -> tuple[list[Cluster], list[dict[str, Any]]]:
    """Phase 4's folding for the leaves that are new or shrank; a previous leaf that did not shrink
    stays whatever its size (the full build kept it)."""
    untouched = [c for c in clusters if c.id in before and len(c.track_ids) >= len(before[c.id])
                 and len(c.track_ids) < min_size]
    skip = {c.id for c in untouched}
    rest = [c for c in clusters if c.id not in skip]
    if not any(len(c.track_ids) < min_size for c in rest):
        return clusters, []
    fold = fold_small_clusters(rest, model, lineages, min_size, merge_leftovers=True)
    return fold.clusters + untouched, fold.unplaced


def _categories_for(new: list[Cluster], carried: list[Cluster], category_of: Mapping[str, str],
                    model: TrackSimilarity, lineages: GenreLineages | None) -> dict[str, str]:
    """New leaf id -> the category where most of its tracks' best (guarded) previous leaves are."""
    targets = [c for c in carried if c.track_ids]
    if not new or not targets:
        return {}
    centroids = model.centroids([c.track_ids for c in targets])
    guard = Guard(lineages, targets)
    out = {}
    for cluster in new:
        ranked = guard.ranked(model, np.array(cluster.track_ids, dtype=np.int64), centroids, 1)
        votes = Counter(category_of[targets[int(col)].id] for col in ranked.columns[:, 0].tolist() if col >= 0)
        if not votes:  # no allowed previous leaf: the category of the best one at all
            votes = Counter(category_of[targets[int(col)].id]
                            for col in model.ranked(np.array(cluster.track_ids), centroids, 1).columns[:, 0].tolist()
                            if col >= 0)
        out[cluster.id] = min(votes, key=lambda k: (-votes[k], k)) if votes else next(iter(category_of.values()))
    return out


def _band(progress: Progress, lo: float, hi: float) -> Progress:
    return lambda f, m: progress(lo + (hi - lo) * f, m)


def update_tree(previous: Mapping[str, Any], tracks: pd.DataFrame, genre_tree: Mapping[str, Any],
                scene_tree: Mapping[str, Any], llm: LLM, steps: UpdateSteps, progress: Progress = no_progress, *,
                build: dict[str, Any] | None = None, validate: bool = True) -> UpdateResult:
    """The previous tree updated with the tracks file's change (see the module docstring). ``validate``:
    as ``assemble_collection_tree``'s (False: the caller validates the tree it goes on to change)."""
    current = [int(t) for t in tracks["track_id"].tolist()]
    change = tracks_change(previous_track_ids(previous), current)
    lineages = GenreLineages.from_tree(dict(genre_tree)) if genre_tree.get("lineages") else None
    carried = _carried(previous, genre_tree, lineages, change.removed)
    before = {leaf["id"]: [int(t) for t in leaf["track_ids"]] for _, leaf in _previous_leaves(previous)}
    category_of = {leaf["id"]: category for category, leaf in _previous_leaves(previous)}
    ungrouped_before = {int(t) for t in previous.get("ungrouped_track_ids", [])} - change.removed
    pool = set(change.added) | ungrouped_before
    progress(0.02, f"+{len(change.added)} / -{len(change.removed)} tracks; {len(pool)} to place "
                   f"({len(ungrouped_before)} ungrouped before)")

    candidates, repeats = _candidates(genre_tree, scene_tree, pool, carried, steps.seeds.min_tracks)
    named = name_clusters(candidates, tracks, llm, steps.naming, _band(progress, 0.05, 0.15)) if candidates else None
    model = TrackSimilarity(tracks)  # one model for the helpers, phase 3 and phases 6-7
    fresh = _flag_weak_members(carried, list(named.clusters) if named else [], model, lineages,
                               steps.reassign.poor_fit_margin)

    scope = sorted({t for c in carried for t in c.track_ids} | pool)
    # The previous members are fixed: no similarity poor fits (the candidates' were flagged above).
    placing = replace(steps.reassign, similarity_poor_fits=False)
    placed = reassign_tracks(ClusterSet(clusters=[c for c in carried if c.track_ids] + fresh, all_track_ids=scope),
                             tracks, llm, placing, _band(progress, 0.15, 0.5), genre_tree=dict(genre_tree),
                             model=model, lineages=lineages)
    clusters, fold_unplaced = _fold_changed(placed.clusters, before, model, lineages, steps.refine.min_leaf_tracks)
    held = {t for c in clusters for t in c.track_ids}
    unplaced = [u for u in placed.unplaced if int(u["track_id"]) not in held]
    unplaced += fold_unplaced
    folded = sorted(set(before) - {c.id for c in clusters})  # by phase 3's fold (under min_cluster_size) or ours

    after = {c.id: list(c.track_ids) for c in clusters}
    new = [c for c in clusters if c.id not in before]
    # a new leaf always gets its text and exemplars, whatever the share
    refresh = set(leaves_to_refresh(before, after, steps.incremental.refresh_share)) | {c.id for c in new}
    placement = _categories_for(new, carried, category_of, model, lineages)
    to_describe = ClusterSet(clusters=[c for c in clusters if c.id in refresh], all_track_ids=scope)
    table = TrackTable(tracks, similarity=model)  # phases 6 and 7 share it
    described = {c.id: c for c in describe_leaves(to_describe, table, llm, steps.leaves,
                                                  _band(progress, 0.5, 0.75)).clusters} if refresh else {}
    clusters = [_refreshed(c, described.get(c.id), c.id in before) for c in clusters]
    suggestions = _suggestions(previous, clusters, refresh, table, llm, steps.enrich, _band(progress, 0.75, 0.9))

    categories = _categories(previous, clusters, placement)
    doc = assemble_collection_tree(ClusterSet(clusters=clusters, all_track_ids=current, unplaced=unplaced),
                                   categories, suggestions, dict(genre_tree), dict(scene_tree),
                                   total_tracks=len(set(current)), build=build, validate=validate)
    changed = [c for c in clusters if after.get(c.id) != before.get(c.id)]
    orders, _ = order_playlists(ClusterSet(clusters=changed, all_track_ids=scope), tracks, steps.order,
                                _band(progress, 0.9, 0.98))
    orders.update(_previous_orders(previous, {c.id for c in changed}))
    doc = apply_orders(doc, orders)

    placed_at = {t: c.id for c in clusters for t in c.track_ids}
    report = UpdateReport(
        tracks_added=len(change.added), tracks_removed=len(change.removed), tracks_kept=len(change.kept),
        new_tracks_placed=sum(1 for t in change.added if t in placed_at),
        new_tracks_ungrouped=sum(1 for t in change.added if t not in placed_at),
        previously_ungrouped_placed=sum(1 for t in ungrouped_before if t in placed_at),
        old_tracks_moved=sum(1 for key, members in before.items() for t in members
                             if t in change.kept and placed_at.get(t) != key),
        candidates=len(candidates) + repeats, candidates_repeating_a_leaf=repeats,
        new_leaves=[{"id": c.id, "title": c.title, "tracks": len(c.track_ids), "category": placement.get(c.id, "")}
                    for c in new],
        folded_leaves=folded, refreshed_leaves=len(refresh), kept_text_leaves=len(clusters) - len(refresh),
        leaves_over_max=sum(1 for c in clusters if len(c.track_ids) > steps.refine.max_leaf_tracks),
        ungrouped_reasons=dict(Counter(str(u.get("reason", "")) for u in unplaced).most_common(10)),
        ungrouped_new=[{"track_id": int(u["track_id"]), "reason": str(u.get("reason", ""))} for u in unplaced
                       if int(u["track_id"]) in change.added],
        calls={"naming": getattr(named.report, "calls", 0) if named else 0,
               "reassignment": placed.report.calls if placed.report else 0},
        reassignment=placed.report.to_dict() if placed.report else {},
    )
    progress(1.0, f"{report.new_tracks_placed}/{report.tracks_added} new tracks placed, {len(new)} new leaves, "
                  f"{len(refresh)} leaves refreshed, {len(folded)} folded")
    return UpdateResult(tree=doc, leaves=ClusterSet(clusters=clusters, all_track_ids=current, unplaced=unplaced),
                        report=report)


def kept_identity(previous: Mapping[str, Any] | None, tree: Mapping[str, Any]) -> IdentityReport:
    """``phases/identity``'s report for a tree that kept the previous ids by construction: how many of
    its leaves and categories carry a previous id, and their previous title."""
    before = {leaf["id"]: leaf["title"] for _, leaf in _previous_leaves(previous or {})}
    now = {leaf["id"]: leaf["title"] for _, leaf in _previous_leaves(tree)}
    old_categories = {c["id"] for c in (previous or {}).get("categories", [])}
    categories = [c["id"] for c in tree.get("categories", [])]
    return IdentityReport(leaves=len(now), leaves_kept=len(now.keys() & before.keys()), categories=len(categories),
                          categories_kept=sum(1 for c in categories if c in old_categories),
                          titles_kept=sum(1 for k, title in now.items() if before.get(k) == title))


def _refreshed(cluster: Cluster, described: Cluster | None, carried: bool) -> Cluster:
    """A refreshed leaf takes phase 6's description and exemplars; a carried one keeps its title."""
    if described is None:
        return cluster
    return replace(cluster, title=cluster.title if carried else described.title, description=described.description,
                   examples=list(described.examples))


def _suggestions(previous: Mapping[str, Any], clusters: list[Cluster], refresh: set[str], tracks: TrackTable,
                 llm: LLM, params: EnrichParams | None, progress: Progress) -> dict[str, Any]:
    """Phase 7 for the refreshed leaves; every other leaf keeps its previous suggestions."""
    kept = {leaf["id"]: list(leaf.get("metadata_suggestions", [])) for _, leaf in _previous_leaves(previous)}
    per_leaf = {c.id: [s for s in kept.get(c.id, []) if int(s["track_id"]) in set(c.track_ids)]
                for c in clusters if c.id not in refresh}
    fresh = [c for c in clusters if c.id in refresh]
    if params is not None and fresh:
        answer = suggest_metadata(ClusterSet(clusters=fresh, all_track_ids=[t for c in fresh for t in c.track_ids]),
                                  tracks, llm, params, progress)
        per_leaf.update({key: list(items) for key, items in answer["suggestions"].items()})
    return {"suggestions": per_leaf}


def _categories(previous: Mapping[str, Any], clusters: list[Cluster], placement: Mapping[str, str]) -> dict[str, Any]:
    """Phase 5's output shape from the previous tree's categories, new leaves appended to theirs."""
    held = {c.id for c in clusters}
    out = []
    for category in previous.get("categories", []):
        ids = [leaf["id"] for leaf in category["leaves"] if leaf["id"] in held]
        ids += [key for key, target in placement.items() if target == category["id"]]
        out.append({"id": category["id"], "title": category["title"], "description": category.get("description", ""),
                    "cluster_ids": ids, "sections": copy.deepcopy(category.get("sections", []))})
    return {"categories": out}


def _previous_orders(previous: Mapping[str, Any], changed: set[str]) -> dict[str, LeafOrder]:
    out = {}
    for _, leaf in _previous_leaves(previous):
        if leaf["id"] not in changed:
            out[leaf["id"]] = LeafOrder(order=[int(t) for t in leaf.get("order", leaf["track_ids"])],
                                        transitions=leaf.get("transitions"))
    return out

