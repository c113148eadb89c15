"""Phase 5's geometry: a deterministic vector per cluster, neighbourhoods of similar clusters, and the
partition moves (split, merge, balance) the grouping uses when the LLM's answer needs repair.

Vectors are TF-IDF over a cluster summary's words (title, description, both contexts) plus its
genre/scene lineage prefixes as whole features (``g0:rock``, ``g1:rock>metal``), L2-normalised, so
cosine similarity is a dot product. numpy only: no model download, same input -> same vectors.
Summaries are plain dicts (``title``, ``description``, ``genre_context``, ``scene_context``,
``track_count``) so the offline solvers, which see only a payload, use the same code.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_WORD = re.compile(r"[^\W\d_]+(?:['’&-][^\W\d_]+)*", re.UNICODE)  # words, no digits (years say little here)
_STOP_TEXT = """
a an and are as at by for from in into is it its of on or the their this to under with without
track tracks artist artists song songs released most top common styles style lineage branches
playlist playlists cluster clusters collection music
"""
STOPWORDS = frozenset(_STOP_TEXT.split())
# Feature weights: lineage prefixes carry the taxonomy, title words what a curator called it.
W_ROOT, W_BRANCH, W_TITLE, W_TEXT = 3.0, 3.0, 2.0, 1.0


def context_parts(context: Any) -> list[str]:
    """``"Rock > Metal > Nu-Metal"`` -> ``["Rock", "Metal", "Nu-Metal"]`` (a bare title is one part)."""
    return [p.strip() for p in str(context or "").split(">") if p.strip()]


def words(text: Any) -> list[str]:
    out: list[str] = []
    for word in _WORD.findall(str(text or "").casefold()):
        if word in STOPWORDS or len(word) < 2:
            continue
        out.append(word)
        if "-" in word:  # "pop-punk" also counts as "pop" and "punk"
            out.extend(p for p in word.split("-") if len(p) > 1 and p not in STOPWORDS)
    return out


def summary_features(summary: Mapping[str, Any]) -> Counter[str]:
    feats: Counter[str] = Counter()
    for word in words(summary.get("title")):
        feats["w:" + word] += W_TITLE
    for word in words(summary.get("description")):
        feats["w:" + word] += W_TEXT
    for prefix, key in (("g", "genre_context"), ("s", "scene_context")):
        parts = context_parts(summary.get(key))
        if parts:
            feats[f"{prefix}0:{parts[0].casefold()}"] += W_ROOT
        if len(parts) > 1:
            feats[f"{prefix}1:{parts[0].casefold()}>{parts[1].casefold()}"] += W_BRANCH
        for part in parts:
            for word in words(part):
                feats["w:" + word] += W_TEXT
    return feats


def text_features(text: str) -> Counter[str]:
    """Free text (a category's name and description) in the same word space as the summaries."""
    return Counter("w:" + w for w in words(text))


@dataclass(frozen=True)
class Vectoriser:
    vocabulary: dict[str, int]
    idf: np.ndarray

    @classmethod
    def fit(cls, docs: Sequence[Mapping[str, float]], min_df: int = 2) -> Vectoriser:
        """Features seen in at least ``min_df`` documents (a feature of one document links nothing);
        when that leaves nothing, every feature."""
        df: Counter[str] = Counter()
        for doc in docs:
            df.update(set(doc))
        kept = sorted(f for f, n in df.items() if n >= min_df) or sorted(df)
        vocabulary = {f: i for i, f in enumerate(kept)}
        n = len(docs)
        idf = np.array([math.log((1 + n) / (1 + df[f])) + 1.0 for f in kept], dtype=np.float64)
        return cls(vocabulary, idf)

    def transform(self, docs: Sequence[Mapping[str, float]]) -> np.ndarray:
        out = np.zeros((len(docs), len(self.vocabulary)), dtype=np.float64)
        for row, doc in enumerate(docs):
            for feat, weight in doc.items():
                col = self.vocabulary.get(feat)
                if col is not None and weight > 0:
                    out[row, col] = (1.0 + math.log(weight)) if weight >= 1 else weight
        out *= self.idf
        return normalise_rows(out)


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def embed(summaries: Sequence[Mapping[str, Any]]) -> tuple[Vectoriser, np.ndarray]:
    docs = [summary_features(s) for s in summaries]
    vectoriser = Vectoriser.fit(docs)
    return vectoriser, vectoriser.transform(docs)


def centroid(vectors: np.ndarray, members: Iterable[int]) -> np.ndarray:
    idx = list(members)
    if not idx:
        return np.zeros(vectors.shape[1])
    mean = vectors[idx].mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else mean


def spherical_kmeans(vectors: np.ndarray, k: int, seed: int, iterations: int = 30) -> np.ndarray:
    """Labels from cosine k-means with a seeded k-means++ start (same seed -> same labels)."""
    n = len(vectors)
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    centres = [int(rng.integers(n))]
    closest = 1.0 - vectors @ vectors[centres[0]]
    for _ in range(1, k):
        weights = np.clip(closest, 0.0, None) ** 2
        pick = int(rng.choice(n, p=weights / weights.sum())) if weights.sum() > 0 else int(np.argmax(closest))
        centres.append(pick)
        closest = np.minimum(closest, 1.0 - vectors @ vectors[pick])
    centre_vectors = vectors[centres].copy()
    labels = np.full(n, -1)
    for _ in range(iterations):
        new = np.argmax(vectors @ centre_vectors.T, axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = np.flatnonzero(labels == j)
            if len(members):
                centre_vectors[j] = centroid(vectors, members)
            else:  # an empty centre restarts at the point its own centre explains worst
                own = np.einsum("ij,ij->i", vectors, centre_vectors[labels])
                centre_vectors[j] = vectors[int(np.argmin(own))]
    return labels


def split_two(vectors: np.ndarray, members: Sequence[int], iterations: int = 20) -> tuple[list[int], list[int]]:
    """Two non-empty halves of ``members`` by 2-means, started from the two most distant members."""
    members = list(members)
    if len(members) < 2:
        raise ValueError("cannot split fewer than two members")
    sub = vectors[members]
    first = int(np.argmin(sub @ centroid(vectors, members)))
    second = int(np.argmin(sub @ sub[first]))
    if second == first:
        second = (first + 1) % len(members)
    centres = np.stack([sub[first], sub[second]])
    side = np.zeros(len(members), dtype=int)
    for _ in range(iterations):
        new = np.argmax(sub @ centres.T, axis=1)
        new[first], new[second] = 0, 1  # the seeds stay apart, so neither half empties
        if np.array_equal(new, side):
            break
        side = new
        for j in (0, 1):
            centres[j] = centroid(sub, np.flatnonzero(side == j))
    return [m for m, s in zip(members, side, strict=True) if s == 0], [m for m, s in zip(members, side, strict=True)
                                                                      if s == 1]


def neighbourhoods(vectors: np.ndarray, size: int, seed: int) -> list[list[int]]:
    """Groups of about ``size`` similar clusters (k = n / size): oversized groups are halved, tiny ones
    join their nearest group. Ordered by their first member."""
    n = len(vectors)
    if n == 0:
        return []
    if n <= size * 1.5:
        return [list(range(n))]
    labels = spherical_kmeans(vectors, max(2, round(n / size)), seed)
    groups = [list(np.flatnonzero(labels == j)) for j in range(labels.max() + 1)]
    groups = [[int(i) for i in g] for g in groups if g]
    out: list[list[int]] = []
    while groups:
        group = groups.pop()
        if len(group) > 2 * size:
            groups.extend(split_two(vectors, group))
        else:
            out.append(group)
    out = merge_small(out, vectors, min_size=max(2, size // 4), max_size=2 * size)
    return sorted((sorted(g) for g in out), key=lambda g: g[0])


def merge_small(groups: list[list[int]], vectors: np.ndarray, min_size: int,
                max_size: int | None = None) -> list[list[int]]:
    """Groups below ``min_size`` join their nearest group (one that stays within ``max_size`` when any can)."""
    groups = [list(g) for g in groups]
    while len(groups) > 1:
        small = [i for i, g in enumerate(groups) if len(g) < min_size]
        if not small:
            break
        i = min(small, key=lambda j: (len(groups[j]), min(groups[j])))
        fits = [k for k, g in enumerate(groups) if k != i and (max_size is None or len(g) + len(groups[i]) <= max_size)]
        j = nearest_group(groups, vectors, i, among=fits or None)
        groups[j].extend(groups.pop(i))
    return groups


def nearest_group(groups: Sequence[Sequence[int]], vectors: np.ndarray, index: int,
                  among: Sequence[int] | None = None) -> int:
    """The other group (of ``among``, default all) whose centroid is most similar to group ``index``'s
    (ties: lower position)."""
    own = centroid(vectors, groups[index])
    best, best_sim = -1, -np.inf
    for j in among if among is not None else range(len(groups)):
        if j == index:
            continue
        sim = float(own @ centroid(vectors, groups[j]))
        if sim > best_sim + 1e-12:
            best, best_sim = j, sim
    return best


def nearest_outside(vectors: np.ndarray, members: Sequence[int], count: int) -> list[int]:
    """The ``count`` clusters outside ``members`` most similar to their centroid (contrast examples)."""
    if count <= 0:
        return []
    inside = set(members)
    sims = vectors @ centroid(vectors, members)
    order = sorted((i for i in range(len(vectors)) if i not in inside), key=lambda i: (-sims[i], i))
    return order[:count]


def _size(group: Sequence[int], weights: np.ndarray) -> tuple[int, float]:
    return len(group), float(weights[list(group)].sum()) if len(group) else 0.0


def fit_count(groups: list[list[int]], vectors: np.ndarray, weights: np.ndarray, lo: int, hi: int,
              target: int | None = None) -> tuple[list[list[int]], dict[str, int]]:
    """Land the number of groups in [lo, hi]: while fewer than ``target`` (default ``lo``), halve the
    largest splittable group; while more than ``hi``, merge the smallest into its nearest group.
    ``weights`` (tracks per cluster) break ties on size. Returns the groups and the moves made."""
    groups = [list(g) for g in groups if g]
    goal = min(max(lo, target or lo), max(lo, hi))
    moves = {"split": 0, "merged": 0}
    while len(groups) < goal:
        splittable = [i for i, g in enumerate(groups) if len(g) >= 2]
        if not splittable:
            break
        i = max(splittable, key=lambda j: (*_size(groups[j], weights), -j))
        a, b = split_two(vectors, groups[i])
        groups[i:i + 1] = [a, b]
        moves["split"] += 1
    while len(groups) > hi:
        i = min(range(len(groups)), key=lambda j: (*_size(groups[j], weights), j))
        j = nearest_group(groups, vectors, i)
        groups[j].extend(groups.pop(i))
        moves["merged"] += 1
    return groups, moves


def balance(groups: list[list[int]], vectors: np.ndarray, weights: np.ndarray,
            cap: float) -> tuple[list[list[int]], int]:
    """No group above ``cap`` of all clusters or of all tracks (weights): the over-full group gives
    up the member that fits it least relative to its next-best group (smallest similarity margin),
    to that group, if the receiver stays within both caps. A group never gives up its last member
    (one cluster holding more than ``cap`` of the tracks cannot be fixed). Returns groups, moves."""
    groups = [list(g) for g in groups]
    n, total = sum(len(g) for g in groups), float(weights.sum())
    if len(groups) < 2 or n == 0:
        return groups, 0
    cap_count, cap_weight = max(1, math.floor(cap * n)), cap * total
    moves = 0
    stuck: set[int] = set()
    for _ in range(n * len(groups)):
        over = [i for i, g in enumerate(groups) if i not in stuck and len(g) > 1
                and (len(g) > cap_count or _size(g, weights)[1] > cap_weight)]
        if not over:
            break
        i = max(over, key=lambda j: (max(len(groups[j]) / n, _size(groups[j], weights)[1] / max(total, 1)), -j))
        centres = np.stack([centroid(vectors, g) for g in groups])
        best: tuple[float, int, int] | None = None
        for member in groups[i]:
            sims = centres @ vectors[member]
            for j in np.argsort(-sims, kind="stable"):
                j = int(j)
                if j == i:
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
