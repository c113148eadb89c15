"""Membership changes shared by phases 3 and 4, all through the track similarity model and under the
lineage guard: folding small clusters, bounding leaf sizes (recursive similarity splits of big
leaves, small ones folded or merged), and the guard bound to a list of clusters.

Bounded leaves: a cluster above ``max_size`` is cut in two by 2-means over its members' similarity
vectors (at least a fifth of the tracks and ``min_size`` on each side, so a cut never sheds a handful),
again and again until every part fits; each part is titled by what sets it apart within the parent (the
facet value most over-represented in it, and its year / tempo / energy span where that is not enough). A cluster under
``min_size`` gives its tracks to their best cluster of their own lineage; clusters of one lineage with
no such target are merged together; what still cannot make ``min_size`` is unplaced with a reason.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from collection_tree.core.clusters import Cluster
from collection_tree.core.lineage import GenreLineages
from collection_tree.core.similarity import Ranked, TrackSimilarity
from collection_tree.core.tfidf import l2_rows

FACET_BLOCKS = ("genre", "scene", "descriptors")  # what a track without a lineage must share to be folded
MIN_CUT_SHARE = 0.2  # each side of a cut holds at least this share of the tracks
LABEL_FACETS = ("genre", "scene", "descriptors", "era")  # similarity blocks a part may be named by
NUMERIC_LABELS = ("year", "bpm", "energy")
MIN_SPAN_GAP = 0.3  # an audio span names a part whose median lies this many standard deviations off
MIN_LIFT = 0.15  # a facet value names a part when its share there beats the parent's by this (and is >= 0.5)


# ------------------------------------------------------------------------------------- guard
class Guard:
    """The lineage guard bound to one list of clusters (None lineages: no tree, every move allowed)."""

    def __init__(self, lineages: GenreLineages | None, clusters: Sequence[Cluster]):
        self.lineages = lineages
        self.columns = lineages.root_columns(clusters) if lineages else np.full(len(clusters), -1, dtype=np.int64)

    def allowed(self, track_ids: np.ndarray) -> np.ndarray:
        """bool, tracks x clusters."""
        if self.lineages is None:
            return np.ones((len(track_ids), len(self.columns)), dtype=bool)
        return self.lineages.allowed(track_ids, self.columns)

    def ranked(self, model: TrackSimilarity, track_ids: Sequence[int] | np.ndarray, centroids: Any, k: int) -> Ranked:
        """``model.ranked`` under the guard, one lineage signature at a time: each group of tracks with the
        same lineages is scored only against the clusters it may enter (and those of unknown lineage), so
        the work shrinks with the number of lineages. Same result as masking, ties still by column."""
        ids = np.asarray(track_ids, dtype=np.int64)
        if self.lineages is None or len(ids) == 0:
            return model.ranked(ids, centroids, k)
        unique, group = self._signatures(ids)
        k = max(0, min(k, centroids.shape[0]))
        columns = np.full((len(ids), k), -1, dtype=np.int64)
        scores = np.full((len(ids), k), -np.inf, dtype=np.float32)
        for g, roots in enumerate(unique):
            open_to = np.flatnonzero((self.columns < 0) | roots[np.maximum(self.columns, 0)])
            members = np.flatnonzero(group == g)
            if open_to.size == 0:
                continue
            part = model.ranked(ids[members], centroids[open_to], k)
            width = part.columns.shape[1]
            columns[members, :width] = np.where(part.columns >= 0, open_to[np.maximum(part.columns, 0)], -1)
            scores[members, :width] = part.scores
        return Ranked(ids, columns, scores)

    def score_bounds(self, model: TrackSimilarity, track_ids: Sequence[int] | np.ndarray, centroids: Any) -> np.ndarray:
        """``model.score_bounds`` under the guard: each track against the clusters it may enter (the
        peaks of each lineage's clusters taken once, joined per lineage signature)."""
        ids = np.asarray(track_ids, dtype=np.int64)
        if self.lineages is None or len(ids) == 0:
            return model.score_bounds(ids, model.peaks(centroids))
        unique, group = self._signatures(ids)
        anyone = model.peaks(centroids[np.flatnonzero(self.columns < 0)])  # clusters of unknown lineage
        by_root = [model.peaks(centroids[np.flatnonzero(self.columns == j)]) for j in range(len(self.lineages.roots))]
        out = np.zeros(len(ids), dtype=np.float64)
        for g, roots in enumerate(unique):
            peaks = anyone
            for j in np.flatnonzero(roots):
                peaks = peaks.join(by_root[j])
            members = np.flatnonzero(group == g)
            out[members] = model.score_bounds(ids[members], peaks)
        return out

    def _signatures(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The distinct lineage signatures of the tracks (bool rows over the roots; a track without
        lineage: every root) and each track's group."""
        assert self.lineages is not None
        rows = self.lineages.position.get_indexer(ids)
        signature = np.ones((len(ids), len(self.lineages.roots)), dtype=bool)
        signature[rows >= 0] = self.lineages.mask[rows[rows >= 0]]
        return _signature_groups(signature)

    def allows(self, track_id: int, column: int) -> bool:
        """One track and one cluster, in O(1) (``allowed`` builds a row over every cluster)."""
        if self.lineages is None or not len(self.columns):
            return True
        root = int(self.columns[column])
        if root < 0:
            return True
        try:
            row = self.lineages.position.get_loc(int(track_id))
        except KeyError:  # a track the tree does not name may go anywhere
            return True
        return bool(self.lineages.mask[row, root])

    def has_lineage(self, track_id: int) -> bool:
        if self.lineages is None:
            return False
        try:
            row = self.lineages.position.get_loc(int(track_id))
        except KeyError:
            return False
        return bool(self.lineages.mask[row].any())


def no_cluster_reason(lineages: GenreLineages | None, track_id: int) -> str:
    names = lineages.describe(track_id) if lineages else "no lineage"
    return f"no playlist of its genre lineage ({names}) to place it in"


# ------------------------------------------------------------------------------------ folding
@dataclass
class FoldResult:
    clusters: list[Cluster]
    folded_clusters: int = 0
    moved_tracks: int = 0
    unplaced: list[dict[str, Any]] = field(default_factory=list)
    merged_small: int = 0


def fold_small_clusters(clusters: list[Cluster], model: TrackSimilarity, lineages: GenreLineages | None,
                        min_size: int, *, merge_leftovers: bool = False) -> FoldResult:
    """Tracks of clusters under ``min_size`` move to their best cluster of at least that size among
    those the guard allows (any score for a track with a lineage: it goes to the best of its lineage;
    a track without one must share a genre, scene or descriptor with it: the same year alone does not
    make a track belong). A track with no such target stays, so its small
    cluster survives; with ``merge_leftovers`` the survivors of one lineage are merged into one, and
    whatever still holds fewer than ``min_size`` tracks is unplaced with a reason."""
    small = [c for c in clusters if len(c.track_ids) < min_size]
    big = [c for c in clusters if len(c.track_ids) >= min_size]
    if min_size <= 1 or not small:
        return FoldResult(list(clusters))
    moving = np.array(sorted(t for c in small for t in c.track_ids), dtype=np.int64)
    gained: dict[int, list[int]] = {}
    moved: set[int] = set()
    if big:
        guard = Guard(lineages, big)
        centroids = model.centroids([c.track_ids for c in big])
        ranked = guard.ranked(model, moving, centroids, 1)
        facet = model.scores_at(moving, centroids, np.maximum(ranked.columns[:, 0], 0), FACET_BLOCKS)
        for i, t in enumerate(moving.tolist()):
            best = ranked.row(i)
            if best and (guard.has_lineage(t) or facet[i] > 0):
                gained.setdefault(best[0][0], []).append(t)
                moved.add(t)
    out = [replace(c, track_ids=sorted(c.track_ids + gained.get(j, []))) if j in gained else c
           for j, c in enumerate(big)]
    kept_small = []
    for c in small:
        rest = [t for t in c.track_ids if t not in moved]
        if rest:
            held = set(rest)
            kept_small.append(replace(c, track_ids=rest, poor_fit_track_ids=[t for t in c.poor_fit_track_ids
                                                                             if t in held]))
    result = FoldResult(out, folded_clusters=len(small) - len(kept_small), moved_tracks=len(moved))
    if not merge_leftovers:
        result.clusters += kept_small
        return result
    by_root: dict[str | None, list[Cluster]] = {}
    for c in kept_small:
        by_root.setdefault(lineages.of_cluster(c) if lineages else None, []).append(c)
    for root, group in by_root.items():
        members = sorted({t for c in group for t in c.track_ids})
        if len(members) >= min_size:
            first = max(group, key=lambda c: (len(c.track_ids), c.id))
            result.clusters.append(replace(first, track_ids=members, origin="merged", quality_score=None,
                                           poor_fit_track_ids=[]))
            result.merged_small += len(group) - 1
            continue
        name = lineages.title(root) if lineages and root else "its genre"
        result.unplaced += [{"track_id": t, "reason": f"too few tracks of {name} for a playlist "
                                                      f"({len(members)} < {min_size})"} for t in members]
    return result


# ------------------------------------------------------------------------------------ splitting
def cut_in_two(model: TrackSimilarity, track_ids: Sequence[int], min_size: int) -> tuple[list[int], list[int]]:
    """2-means over the tracks' similarity vectors (cosine), then the side sizes clamped to at least
    ``max(min_size, MIN_CUT_SHARE * n)`` by moving the tracks nearest the boundary. Deterministic."""
    from sklearn.cluster import KMeans  # scikit-learn is imported where it runs (core.tfidf)

    ids = np.asarray(sorted(track_ids), dtype=np.int64)
    n = len(ids)
    rows = l2_rows(model.vectors(ids))
    lo = max(min_size, math.ceil(MIN_CUT_SHARE * n))
    side, first = np.zeros(n), n // 2  # nothing to tell the tracks apart: halves by id
    if rows.shape[0] == n and rows.nnz:
        km = KMeans(n_clusters=2, n_init=4, random_state=0).fit(rows)  # k-means++ seeding, fixed seed
        count = int((km.labels_ == 0).sum())
        if 0 < count < n:
            side = np.asarray(rows @ (km.cluster_centers_[0] - km.cluster_centers_[1])).ravel()  # > 0: centre 0
            first = int(np.clip(count, lo, n - lo)) if n >= 2 * lo else n // 2
    order = np.lexsort((ids, -side))  # nearest centre 0 first; ties by id
    return sorted(ids[order[:first]].tolist()), sorted(ids[order[first:]].tolist())


def _shares(model: TrackSimilarity, track_ids: Sequence[int]) -> np.ndarray:
    vectors = model.vectors(track_ids)
    present = (vectors != 0).astype(np.float32)
    return np.asarray(present.sum(axis=0)).ravel() / max(len(track_ids), 1)


_CUT_YEAR = re.compile(r"\s*\b(?:early|mid|late)\s+\d{1,3}\b(?!\d)", re.I)
_YEARS = re.compile(r"\b(?:early|mid|late)\s+\d{4}s\b|\b\d{4}s\b|\b\d{4}\s*[-–]\s*\d{4}\b|\b\d{4}\b", re.I)


def _base_title(parent: Cluster, drop_years: bool) -> str:
    title = _CUT_YEAR.sub("", parent.title or parent.fallback_title)  # "late 200": an upstream title cut short
    if drop_years:
        title = _YEARS.sub("", title)
        title = re.sub(r"\s*([,:·])\s*(?=[,:·]|$)", "", title)
        title = re.sub(r"\s{2,}", " ", title).strip(" ,:·")
    return title or parent.genre_title or parent.id


def _numeric_label(values: np.ndarray, column: str) -> str:
    values = values[np.isfinite(values)]
    lo, hi = np.percentile(values, [10, 90])
    lo_v, hi_v = round(float(lo)), round(float(hi))
    if column == "year":
        return str(lo_v) if lo_v == hi_v else f"{lo_v}-{hi_v}"
    if column == "bpm":
        return f"{lo_v}-{hi_v} BPM" if lo_v != hi_v else f"{lo_v} BPM"
    return f"energy {lo_v}-{hi_v}" if lo_v != hi_v else f"energy {lo_v}"


def _span(model: TrackSimilarity, column: str, track_ids: Sequence[int]) -> str | None:
    rows = model.rows(list(track_ids))
    values = model.numeric[column][rows[rows >= 0]]
    return _numeric_label(values, column) if np.isfinite(values).any() else None


def name_parts(model: TrackSimilarity, parent_ids: Sequence[int], parts: Sequence[Sequence[int]]) -> list[str]:
    """What distinguishes each part within its parent (as c-TF-IDF labels topics): the facet value most
    over-represented in it against the whole parent (on at least half of its tracks and ``MIN_LIFT``
    above the parent's share; for a part with none, any lift that its siblings' labels do not use);
    where parts share that label, or have none, the span of the audio column that sets the part
    furthest from the parent (years, BPM, energy); ordinals last."""
    parent_share = _shares(model, parent_ids)
    lifts = []
    labels: list[list[str]] = []
    for part in parts:
        share = _shares(model, part)
        lifts.append(np.where(share >= 0.5, share - parent_share, 0.0))
        label, lift = _best_value(model, lifts[-1])
        labels.append([label] if label and lift >= MIN_LIFT else [])
    taken = {label[0] for label in labels if label}
    for i, label in enumerate(labels):
        if not label:
            weaker, lift = _best_value(model, lifts[i], exclude=taken)
            if weaker and lift > 0:
                label.append(weaker)
    clashes = [not label or labels.count(label) > 1 for label in labels]
    for i, part in enumerate(parts):
        column = _separating_column(model, part, parent_ids) if clashes[i] else None
        span = _span(model, column, part) if column else None
        if span:
            labels[i].append(span)
    names = [", ".join(label) for label in labels]
    for i, name in enumerate(names):
        if not name or names.count(name) > 1:
            names[i] = f"{name} ({_ordinal(i)})" if name else _ordinal(i)
    return names


def _ordinal(i: int) -> str:
    return ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"][i] if i < 10 else str(i + 1)


def _best_value(model: TrackSimilarity, diff: np.ndarray, exclude: set[str] | None = None
                ) -> tuple[str | None, float]:
    """The facet value (its spelling in the tracks) with the largest share difference, and that difference."""
    best, best_gap = None, 0.0
    for block in LABEL_FACETS:
        lo, hi = model.blocks.get(block, (0, 0))
        for j in range(lo, hi):
            if diff[j] > best_gap + 1e-9 and model.display_names[j] not in (exclude or set()):
                best, best_gap = model.display_names[j], float(diff[j])
    return best, best_gap


def _separating_column(model: TrackSimilarity, part_a: Sequence[int], part_b: Sequence[int]) -> str | None:
    """The audio column whose medians lie furthest apart (in standard deviations, ``MIN_SPAN_GAP`` at least)."""
    numeric = model.numeric
    best, best_gap = None, 0.0
    for column in NUMERIC_LABELS:
        if column not in numeric:
            continue
        rows_a, rows_b = model.rows(list(part_a)), model.rows(list(part_b))
        a = numeric[column][rows_a[rows_a >= 0]]
        b = numeric[column][rows_b[rows_b >= 0]]
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if a.size == 0 or b.size == 0:
            continue
        spread = np.std(np.concatenate([a, b])) or 1.0
        gap = abs(float(np.median(a) - np.median(b))) / spread
        if gap > best_gap:
            best, best_gap = column, gap
    return best if best_gap >= MIN_SPAN_GAP else None


def _casefold_title(label: str) -> str:
    return label[:1].upper() + label[1:] if label.islower() else label


@dataclass
class BoundResult:
    clusters: list[Cluster]
    splits: list[dict[str, Any]] = field(default_factory=list)
    fold: FoldResult | None = None


def split_oversized(cluster: Cluster, model: TrackSimilarity, max_size: int, min_size: int, taken: set[str],
                    named_by: str) -> list[Cluster]:
    """``cluster`` cut recursively until every part holds at most ``max_size`` tracks; parts get ids
    ``<id>~N`` (the genre leaf stays first, so the lineage stays readable) and working titles."""
    pending = [sorted(cluster.track_ids)]
    done: list[list[int]] = []
    while pending:
        ids = pending.pop(0)
        if len(ids) <= max_size or len(ids) < 2 * min_size:
            done.append(ids)
            continue
        pending[:0] = list(cut_in_two(model, ids, min_size))
    out = []
    number = 0
    for ids, label in zip(done, name_parts(model, cluster.track_ids, done), strict=True):
        number += 1
        while f"{cluster.id}~{number}" in taken:
            number += 1
        part_id = f"{cluster.id}~{number}"
        taken.add(part_id)
        base = _base_title(cluster, drop_years=bool(_YEARS.search(label)))  # never two eras that disagree
        held = set(ids)
        out.append(replace(
            cluster, id=part_id, track_ids=ids, title=f"{base}: {_casefold_title(label)}" if label else base,
            description=cluster.description, origin="split", named_by=named_by, quality_score=None,
            coherence=None, poor_fit_track_ids=[t for t in cluster.poor_fit_track_ids if t in held],
        ))
    return out


def bound_leaves(clusters: list[Cluster], model: TrackSimilarity, lineages: GenreLineages | None, *,
                 max_size: int, min_size: int, taken: set[str], named_by: str) -> BoundResult:
    """Every cluster between ``min_size`` and ``max_size`` tracks (0: no upper bound): small ones
    folded first (so a fold cannot push a leaf over the bound unnoticed), then big ones split."""
    fold = fold_small_clusters(clusters, model, lineages, min_size, merge_leftovers=True)
    out: list[Cluster] = []
    splits: list[dict[str, Any]] = []
    for cluster in fold.clusters:
        if max_size and len(cluster.track_ids) > max_size:
            parts = split_oversized(cluster, model, max_size, min_size, taken, named_by)
            splits.append({"parent": cluster.id, "tracks": len(cluster.track_ids),
                           "into": [(p.id, p.track_count) for p in parts]})
            out.extend(parts)
        else:
            out.append(cluster)
    return BoundResult(out, splits, fold)


def size_figures(clusters: Sequence[Cluster], max_size: int, min_size: int) -> dict[str, int]:
    sizes = Counter("over" if max_size and c.track_count > max_size else "under" if c.track_count < min_size
                    else "within" for c in clusters)
    return {"leaves_over_max": sizes["over"], "leaves_under_min": sizes["under"],
            "largest_leaf": max((c.track_count for c in clusters), default=0)}


def _signature_groups(signature: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a bool matrix and each row's group: the groups of ``np.unique(axis=0)``,
    from each row packed into bytes as one key (that sorts the rows as records of one bool field per
    column, most of ``Guard.ranked`` at 300K tracks)."""
    if signature.shape[1] == 0:
        return signature[:1], np.zeros(signature.shape[0], dtype=np.int64)
    packed = np.ascontiguousarray(np.packbits(signature, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, group = np.unique(keys, return_index=True, return_inverse=True)
    return signature[first], group.ravel()
