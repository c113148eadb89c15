"""Moves on a partition of vectors (rows of an L2-normalised matrix): split a group in two, merge the
smallest into its nearest, land the count in a range, cap group sizes. Groups are lists of row
positions.

``home`` (optional, one key per row, e.g. a lineage group) makes every move respect it: a merge or a
balancing move joins only groups of the same home (a group's home is its first member's, as the
phases only build single-home groups); only when no move of the same home exists is the
constraint relaxed (merges) or the move skipped (balance). Splits never mix homes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def centroid(vectors: np.ndarray, members: Sequence[int]) -> np.ndarray:
    idx = list(members)
    if not idx:
        return np.zeros(vectors.shape[1])
    mean = vectors[idx].mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else mean


def ward_labels(vectors: np.ndarray, k: int) -> np.ndarray:
    """Ward's agglomerative clustering of the rows into ``k`` groups (deterministic: no random start).
    Labels are renumbered by first appearance, so the same rows give the same labels."""
    n = len(vectors)
    k = max(1, min(k, n))
    if k == 1:
        return np.zeros(n, dtype=int)
    if k == n:
        return np.arange(n)
    from sklearn.cluster import AgglomerativeClustering  # scikit-learn is imported where it runs (core.tfidf)

    raw = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(vectors)
    order: dict[int, int] = {}
    return np.array([order.setdefault(int(label), len(order)) for label in raw])


def split_two(vectors: np.ndarray, members: Sequence[int], weights: np.ndarray | None = None,
              seed: int = 0) -> tuple[list[int], list[int]]:
    """Two non-empty halves of ``members``: weighted 2-means (scikit-learn, seeded, 2 starts) when
    ``weights`` are given, else Ward's criterion."""
    members = list(members)
    if len(members) < 2:
        raise ValueError("cannot split fewer than two members")
    if weights is not None and len(members) > 2:
        from sklearn.cluster import KMeans  # scikit-learn is imported where it runs (core.tfidf)

        labels = KMeans(n_clusters=2, n_init=2, random_state=seed).fit_predict(
            vectors[members], sample_weight=weights[members])
        if labels.min() == labels.max():
            labels = ward_labels(vectors[members], 2)
    else:
        labels = ward_labels(vectors[members], 2)
    first = [m for m, s in zip(members, labels, strict=True) if s == 0]
    second = [m for m, s in zip(members, labels, strict=True) if s == 1]
    return first, second


def _home(group: Sequence[int], home: Sequence[str] | None) -> str | None:
    return home[group[0]] if home is not None and group else None


def nearest_group(groups: Sequence[Sequence[int]], vectors: np.ndarray, index: int,
                  among: Sequence[int] | None = None, centroids: Sequence[np.ndarray] | None = None) -> int:
    """The other group (of ``among``, default all) whose centroid is most similar to group ``index``'s
    (ties: lower position); -1 when there is none. ``centroids``: each group's ``centroid``, when the
    caller keeps them (a loop of merges: computing every group's again per merge is quadratic)."""
    own = centroid(vectors, groups[index]) if centroids is None else centroids[index]
    best, best_sim = -1, -np.inf
    for j in among if among is not None else range(len(groups)):
        if j == index:
            continue
        sim = float(own @ (centroid(vectors, groups[j]) if centroids is None else centroids[j]))
        if sim > best_sim + 1e-12:
            best, best_sim = j, sim
    return best


def nearest_outside(vectors: np.ndarray, members: Sequence[int], count: int) -> list[int]:
    """The ``count`` rows outside ``members`` most similar to their centroid (contrast examples)."""
    if count <= 0:
        return []
    inside = set(members)
    sims = vectors @ centroid(vectors, members)
    order = sorted((i for i in range(len(vectors)) if i not in inside), key=lambda i: (-sims[i], i))
    return order[:count]


def _same_home(groups: Sequence[Sequence[int]], i: int, home: Sequence[str] | None) -> list[int]:
    if home is None:
        return [j for j in range(len(groups)) if j != i]
    key = _home(groups[i], home)
    return [j for j in range(len(groups)) if j != i and _home(groups[j], home) == key]


def merge_small(groups: list[list[int]], vectors: np.ndarray, min_size: int, max_size: int | None = None,
                home: Sequence[str] | None = None) -> list[list[int]]:
    """Groups below ``min_size`` join their nearest group of the same home that stays within
    ``max_size``; a small group with no such partner stays."""
    groups = [list(g) for g in groups]
    centroids = [centroid(vectors, g) for g in groups]
    lonely: set[int] = set()
    while len(groups) > 1:
        small = [i for i, g in enumerate(groups) if len(g) < min_size and min(g) not in lonely]
        if not small:
            break
        i = min(small, key=lambda j: (len(groups[j]), min(groups[j])))
        partners = _same_home(groups, i, home)
        if not partners:
            lonely.add(min(groups[i]))
            continue
        fits = [k for k in partners if max_size is None or len(groups[k]) + len(groups[i]) <= max_size]
        if not fits:
            lonely.add(min(groups[i]))
            continue
        merge_into(groups, centroids, vectors, i, nearest_group(groups, vectors, i, among=fits, centroids=centroids))
    return groups


def merge_into(groups: list[list[int]], centroids: list[np.ndarray], vectors: np.ndarray, i: int, j: int,
               sizes: list[tuple[int, float]] | None = None, weights: np.ndarray | None = None) -> None:
    """Group ``i`` joins group ``j`` (appended to its members) and leaves the list; ``centroids`` (and
    ``sizes``, with ``weights``), kept beside ``groups``, follow: only ``j``'s are computed again."""
    groups[j].extend(groups[i])
    centroids[j] = centroid(vectors, groups[j])
    if sizes is not None and weights is not None:
        sizes[j] = _size(groups[j], weights)
        del sizes[i]
    del groups[i], centroids[i]


def _size(group: Sequence[int], weights: np.ndarray) -> tuple[int, float]:
    return len(group), float(weights[list(group)].sum()) if len(group) else 0.0


def fit_count(groups: list[list[int]], vectors: np.ndarray, weights: np.ndarray, lo: int, hi: int,
              target: int | None = None, home: Sequence[str] | None = None) -> tuple[list[list[int]], dict[str, int]]:
    """Land the number of groups in [lo, hi]: while fewer than ``target`` (default ``lo``), halve the
    largest splittable group; while more than ``hi``, merge the smallest group that has a partner of
    its home into its nearest such partner (any nearest group when none has). ``weights`` (tracks per
    row) break ties on size. Returns the groups and the moves made."""
    groups = [list(g) for g in groups if g]
    goal = min(max(lo, target or lo), max(lo, hi))
    moves = {"split": 0, "merged": 0, "merged_across_homes": 0}
    while len(groups) < goal:
        splittable = [i for i, g in enumerate(groups) if len(g) >= 2]
        if not splittable:
            break
        i = max(splittable, key=lambda j: (*_size(groups[j], weights), -j))
        a, b = split_two(vectors, groups[i])
        groups[i:i + 1] = [a, b]
        moves["split"] += 1
    if len(groups) > hi:
        centroids = [centroid(vectors, g) for g in groups]
        sizes = [_size(g, weights) for g in groups]
    while len(groups) > hi:
        by_size = sorted(range(len(groups)), key=lambda j: (*sizes[j], j))
        i = next((j for j in by_size if _same_home(groups, j, home)), by_size[0])
        partners = _same_home(groups, i, home)
        if not partners:
            moves["merged_across_homes"] += 1
        merge_into(groups, centroids, vectors, i,
                   nearest_group(groups, vectors, i, among=partners or None, centroids=centroids), sizes, weights)
        moves["merged"] += 1
    return groups, moves


def balance(groups: list[list[int]], vectors: np.ndarray, weights: np.ndarray, cap: float,
            home: Sequence[str] | None = None) -> tuple[list[list[int]], int]:
    """No group above ``cap`` of all rows or of all weight (tracks): the over-full group gives up the
    member that fits it least relative to its next-best group of the same home (smallest similarity
    margin), to that group, if the receiver stays within both caps. A group never gives up its last
    member (one row holding more than ``cap`` of the weight cannot be fixed). Returns groups, moves."""
    groups = [list(g) for g in groups]
    n, total = sum(len(g) for g in groups), float(weights.sum())
    if len(groups) < 2 or n == 0:
        return groups, 0
    cap_count, cap_weight = max(1, math.floor(cap * n)), cap * total
    moves = 0
    stuck: set[int] = set()
    centroids = [centroid(vectors, g) for g in groups]  # kept: a move changes two groups' only
    for _ in range(n * len(groups)):
        over = [i for i, g in enumerate(groups) if i not in stuck and len(g) > 1
                and (len(g) > cap_count or _size(g, weights)[1] > cap_weight)]
        if not over:
            break
        i = max(over, key=lambda j: (max(len(groups[j]) / n, _size(groups[j], weights)[1] / max(total, 1)), -j))
        receivers = set(_same_home(groups, i, home))
        centres = np.stack(centroids)
        best: tuple[float, int, int] | None = None
        for member in groups[i]:
            sims = centres @ vectors[member]
            for j in np.argsort(-sims, kind="stable"):
                j = int(j)
                if j == i or j not in receivers:
                    continue
                count, weight = _size(groups[j], weights)
                if count + 1 <= cap_count and weight + weights[member] <= cap_weight:
                    margin = float(sims[i] - sims[j])
                    if best is None or (margin, member) < (best[0], best[1]):
                        best = (margin, member, j)
                    break
        if best is None:
            stuck.add(i)
            continue
        _, member, j = best
        groups[i].remove(member)
        groups[j].append(member)
        centroids[i], centroids[j] = centroid(vectors, groups[i]), centroid(vectors, groups[j])
        moves += 1
    return groups, moves


def lineage_partition(keys: Sequence[str], vectors: np.ndarray, weights: np.ndarray, lo: int, hi: int,
                      target: int | None = None) -> list[list[int]]:
    """Group by a lineage key (e.g. the genre root), then split the largest / merge the smallest
    groups by vector similarity until the count is in [lo, hi] (aiming at ``target``)."""
    by_key: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        by_key.setdefault(key, []).append(i)
    groups = [by_key[k] for k in sorted(by_key)]
    groups, _ = fit_count(groups, vectors, weights, lo, hi, target)
    return groups
