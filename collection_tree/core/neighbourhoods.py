"""Phase 5's geometry: a lineage-aware vector per cluster, the lineage groups that may share a
category, a structural partition into categories, the neighbourhoods the LLM proposes names for,
and the sections of a big category.

Vectors (scikit-learn TF-IDF per block, blocks weighted, rows L2-normalised, reduced by LSA):
- lineage (the genre root: the strongest signal), genre (branch, leaf and the tracks' genre values),
  scene (scene lineage, the tracks' scene tags and countries) and sound (descriptors, era, BPM and
  energy bands), all from the tracks themselves, so the LLM's working titles do not steer them.

Lineage groups: each genre lineage is a group; while one holds too little of the collection for a
category of its own (``min_lineage_share`` of one category's worth) or there are more groups than
categories, the two groups that share most besides lineage (scenes and places, sound, genre words)
merge, within a size and a lineage cap. Categories never mix lineage groups (the phase's guard).

Structural partition: the target number of categories shared among the lineage groups by their
tracks (largest remainder, at least one each), each group cut by bisecting k-means: the heaviest part
halved by tracks-weighted 2-means until there are enough (a flat Ward or k-means cut of skewed
lineages leaves one category holding most of them; measured on the Genius collections).
It seeds the neighbourhoods and is the grouping when the LLM fails entirely.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from collection_tree.core.clusters import Cluster
from collection_tree.core.partition import centroid, merge_into, merge_small, nearest_group, split_two
from collection_tree.core.tfidf import l2_rows
from collection_tree.core.track_facets import TrackFacets
from collection_tree.core.vectors import Vectoriser, context_parts, normalise_rows, words

# Block weights (shares of the squared norm). Within a lineage, clusters go together by what they are
# (genre values, branch) far more than by scene; what joins two lineages is what they share besides
# lineage: scenes and places, sound, genre values.
BLOCK_WEIGHTS = {"lineage": 0.35, "genre": 0.55, "scene": 0.06, "sound": 0.04}
CONTEXT_WEIGHTS = {"genre": 0.3, "scene": 0.5, "sound": 0.2}
BPM_BAND, ENERGY_BAND = 10.0, 2.0
SVD_DIMENSIONS = 128
MIN_SECTION_LEAVES = 3
MAX_GROUP_WORTH = 1.5  # a lineage joins a group that then still fits about one category
MAX_GROUP_LINEAGES = 3  # ... and that a five-word title can still name


def lineage_of(cluster: Cluster) -> str:
    """The genre root of a cluster ("Rock" for "Rock > Metal > Nu-Metal"); "" when unknown."""
    parts = context_parts(cluster.genre_lineage or cluster.genre_title)
    return parts[0] if parts else ""


def _shares(values: Sequence[tuple[str, ...]], prefix: str) -> Counter[str]:
    n = max(1, len(values))
    counts = Counter(v.casefold() for vals in values for v in set(vals))
    return Counter({f"{prefix}{v}": c / n for v, c in counts.items()})


def _bands(numbers: np.ndarray, width: float, prefix: str) -> Counter[str]:
    if numbers.size == 0:
        return Counter()
    bands = Counter(int(x // width) for x in numbers)
    return Counter({f"{prefix}{b}": c / numbers.size for b, c in bands.items()})


@functools.lru_cache(maxsize=1 << 14)
def _genre_words(value: str) -> tuple[str, ...]:
    """``words`` of a genre value (a collection has a few thousand; every cluster's tracks repeat them)."""
    return tuple(words(value))


def cluster_blocks(cluster: Cluster, facets: TrackFacets) -> dict[str, Counter[str]]:
    """The cluster's features per block, from its context and its tracks' facets (shares of tracks)."""
    rows = facets.rows_of(cluster.track_ids)
    genre_parts = context_parts(cluster.genre_lineage or cluster.genre_title)
    scene_parts = context_parts(cluster.scene_lineage or cluster.scene_title)
    genre_values = facets.values("genre", rows)
    # Whole values, and their words: "Dub Techno" and "Ambient Techno" are how lineages meet.
    genre: Counter[str] = _shares(genre_values, "g:") + _shares(
        [tuple(w for v in vals for w in _genre_words(v)) for vals in genre_values], "gw:")
    if len(genre_parts) > 1:
        genre[f"branch:{' > '.join(genre_parts[:2]).casefold()}"] += 1.0
    if cluster.genre_title:
        genre[f"leaf:{cluster.genre_title.casefold()}"] += 1.0
    scene: Counter[str] = _shares(facets.values("scene_tags", rows), "t:") + _shares(
        facets.values("country", rows), "c:")
    for depth, part in enumerate(scene_parts[:2]):
        scene[f"s{depth}:{part.casefold()}"] += 1.0
    sound: Counter[str] = (_shares(facets.values("descriptors", rows), "d:") + _shares(facets.values("era", rows), "e:")
                           + _bands(facets.numbers("bpm", rows), BPM_BAND, "bpm:")
                           + _bands(facets.numbers("energy", rows), ENERGY_BAND, "energy:"))
    return {"lineage": Counter({f"l:{lineage_of(cluster).casefold()}": 1.0}), "genre": genre, "scene": scene,
            "sound": sound}


def reduced(matrix: sparse.csr_matrix, dimensions: int = SVD_DIMENSIONS) -> np.ndarray:
    """Dense rows: as they are when narrow, else projected on their ``dimensions`` leading singular
    directions (LSA) and re-normalised, so the clusterings that run many times on them stay fast
    (cosines barely move)."""
    if matrix.shape[1] <= dimensions or matrix.shape[0] <= dimensions:
        return normalise_rows(np.asarray(matrix.todense(), dtype=np.float64))
    from sklearn.decomposition import TruncatedSVD  # scikit-learn is imported where it runs (core.tfidf)

    svd = TruncatedSVD(n_components=dimensions, algorithm="randomized", n_iter=2, random_state=0)
    return normalise_rows(svd.fit_transform(matrix))


@dataclass(frozen=True)
class ClusterSpace:
    """Rows: clusters. ``vectors`` hold every block; ``context`` every block but the lineage (what may
    join two lineages). ``lineages``: each cluster's genre root; ``weights``: its tracks."""

    vectors: np.ndarray
    context: np.ndarray
    lineages: list[str]
    weights: np.ndarray

    @classmethod
    def build(cls, clusters: Sequence[Cluster], facets: TrackFacets) -> ClusterSpace:
        blocks = [cluster_blocks(c, facets) for c in clusters]
        matrices = {name: Vectoriser.fit(docs, min_df=1).transform_sparse(docs)
                    for name in {*BLOCK_WEIGHTS, *CONTEXT_WEIGHTS} for docs in [[b[name] for b in blocks]]}

        def weighted(weights: Mapping[str, float]) -> sparse.csr_matrix:
            return l2_rows(sparse.hstack([matrices[k] * math.sqrt(w) for k, w in sorted(weights.items())],
                                           format="csr"))

        if not clusters:
            return cls(np.zeros((0, 1)), np.zeros((0, 1)), [], np.zeros(0))
        vectors, context = reduced(weighted(BLOCK_WEIGHTS)), reduced(weighted(CONTEXT_WEIGHTS))
        return cls(vectors, context, [lineage_of(c) for c in clusters],
                   np.array([max(1, c.track_count) for c in clusters], dtype=float))


# ------------------------------------------------------------------------------- lineage groups
@dataclass(frozen=True)
class LineageGroups:
    """``home[i]``: the key of cluster i's lineage group ("House + Techno"); ``members``: lineage
    keys per group, heaviest first; ``merges``: the lineages that joined another, for the report."""

    home: list[str]
    members: dict[str, list[str]]
    merges: list[dict[str, Any]]


def lineage_groups(space: ClusterSpace, target: int, min_lineage_share: float) -> LineageGroups:
    """Average-linkage merging of lineages by what they share besides lineage (cosine of their
    tracks-weighted ``context`` centroids: scenes and places, sound, genre words): while a group holds
    less than ``min_lineage_share`` of a category's worth of tracks, the most similar pair holding
    such a group merges; then, while there are more groups than ``target``, the most similar pair.
    Pairs that would pass ``MAX_GROUP_WORTH`` categories' worth or ``MAX_GROUP_LINEAGES`` lineages
    merge only when no other pair is left."""
    keys = sorted(set(space.lineages))
    members_of = {k: [i for i, lin in enumerate(space.lineages) if lin == k] for k in keys}
    weight = {k: float(space.weights[members_of[k]].sum()) for k in keys}
    total = sum(weight.values()) or 1.0
    groups: list[list[str]] = [[k] for k in keys]

    def centre(group: list[str]) -> np.ndarray:
        rows = [i for k in group for i in members_of[k]]
        mean = (space.context[rows] * space.weights[rows, None]).sum(axis=0)
        norm = float(np.linalg.norm(mean))
        return mean / norm if norm > 0 else mean

    def w(group: list[str]) -> float:
        return sum(weight[k] for k in group)

    merges: list[dict[str, Any]] = []
    worth = total / max(1, target)  # one category's worth of tracks

    def fits(a: list[str], b: list[str]) -> bool:
        return w(a) + w(b) <= MAX_GROUP_WORTH * worth and len(a) + len(b) <= MAX_GROUP_LINEAGES

    while len(groups) > 1:
        small = [g for g in groups if w(g) < min_lineage_share * worth]
        if not small and len(groups) <= target:
            break
        pairs = [(a, b) for x, a in enumerate(groups) for b in groups[x + 1:] if not small or a in small or b in small]
        pairs = [p for p in pairs if fits(*p)] or pairs
        centres = {id(g): centre(g) for g in groups}
        similarity, a, b = max(((float(centres[id(a)] @ centres[id(b)]), a, b) for a, b in pairs),
                               key=lambda p: (p[0], [-weight[k] for k in p[1] + p[2]]))
        merges.append({"lineages": a, "joined": b, "similarity": round(similarity, 3)})
        groups.remove(a)
        groups.remove(b)
        groups.append(sorted(a + b, key=lambda k: (-weight[k], k)))
    groups.sort(key=lambda g: (-w(g), g))
    members = {" + ".join(g): g for g in groups}
    home_of = {k: name for name, g in members.items() for k in g}
    return LineageGroups([home_of[lin] for lin in space.lineages], members, merges)


def allocate(weights: Mapping[str, float], seats: int) -> dict[str, int]:
    """``seats`` shared among groups by weight (largest remainder), at least one each."""
    total = sum(weights.values()) or 1.0
    quota = {k: seats * w / total for k, w in weights.items()}
    out = {k: max(1, math.floor(q)) for k, q in quota.items()}
    order = sorted(weights, key=lambda k: (-(quota[k] - math.floor(quota[k])), -weights[k], k))
    i = 0
    while sum(out.values()) < seats and order:
        out[order[i % len(order)]] += 1
        i += 1
    while sum(out.values()) > seats:  # more groups with a floor of one than seats: take from the largest
        k = max((k for k in out if out[k] > 1), key=lambda k: (out[k] - quota[k], k), default=None)
        if k is None:
            break
        out[k] -= 1
    return out


def bisect(space: ClusterSpace, rows: Sequence[int], parts: int | None = None,
           max_size: int | None = None) -> list[list[int]]:
    """``rows`` cut by bisection (weighted 2-means): the heaviest group (tracks) is halved until there
    are ``parts`` groups, or the largest (clusters) until none holds more than ``max_size``; so no
    group is left holding most of its rows, as one flat cut of skewed data would."""
    groups = [list(rows)]
    while True:
        splittable = [g for g in groups if len(g) >= 2]
        if parts is not None and len(groups) < parts and splittable:
            pick = max(splittable, key=lambda g: (float(space.weights[g].sum()), -g[0]))
        elif max_size is not None and any(len(g) > max_size for g in splittable):
            pick = max(splittable, key=lambda g: (len(g), -g[0]))
        else:
            return groups
        groups.remove(pick)
        groups.extend(split_two(space.vectors, pick, space.weights))


def structural_partition(space: ClusterSpace, groups: LineageGroups, seats: int) -> list[list[int]]:
    """``seats`` categories (or one per lineage group when there are more groups), each inside one
    lineage group, cut by bisection of the group's clusters. Ordered by first member."""
    rows_of: dict[str, list[int]] = {}
    for i, home in enumerate(groups.home):
        rows_of.setdefault(home, []).append(i)
    weights = {h: float(space.weights[rows].sum()) for h, rows in rows_of.items()}
    seats_of = allocate(weights, max(seats, len(rows_of)))
    out = [g for home in sorted(rows_of) for g in bisect(space, rows_of[home], seats_of[home])]
    return sorted((sorted(g) for g in out if g), key=lambda g: g[0])


def neighbourhoods(space: ClusterSpace, partition: Sequence[Sequence[int]], size: int,
                   home: Sequence[str]) -> list[list[int]]:
    """The structural categories as neighbourhoods: one above twice ``size`` is bisected into pieces
    of at most twice ``size``; one under a quarter of ``size`` joins its nearest neighbourhood of the
    same lineage group (while that stays within twice ``size``). Ordered by first member."""
    out = [piece for group in partition for piece in bisect(space, group, max_size=2 * size)]
    out = merge_small([g for g in out if g], space.vectors, min_size=max(2, size // 4), max_size=2 * size, home=home)
    return sorted((sorted(g) for g in out), key=lambda g: g[0])


def packed(space: ClusterSpace, groups: Sequence[Sequence[int]], count: int, home: Sequence[str]) -> list[list[int]]:
    """At most ``count`` groups (one wave of ``count`` parallel calls): while there are more, the
    smallest of those sharing their lineage group with another joins its nearest such partner; when
    every lineage group is down to one, the smallest joins its nearest of any. Ordered by first member."""
    out = [list(g) for g in groups if g]
    centroids = [centroid(space.vectors, g) for g in out]
    while len(out) > max(1, count):
        shared = Counter(home[g[0]] for g in out)
        paired = [j for j in range(len(out)) if shared[home[out[j][0]]] > 1]
        i = min(paired or range(len(out)), key=lambda j: (len(out[j]), min(out[j])))
        same = [j for j in range(len(out)) if j != i and home[out[j][0]] == home[out[i][0]]]
        merge_into(out, centroids, space.vectors, i,
                   nearest_group(out, space.vectors, i, among=same or None, centroids=centroids))
    return sorted((sorted(g) for g in out), key=lambda g: g[0])


def sections_of(space: ClusterSpace, members: Sequence[int], min_leaves: int, section_size: int) -> list[list[int]]:
    """A category of more than ``min_leaves`` clusters bisected into sections of about
    ``section_size`` clusters (at least two sections); smaller categories have none."""
    members = list(members)
    if len(members) <= min_leaves:
        return []
    parts = max(2, round(len(members) / section_size))
    sections = bisect(space, members, parts=parts)
    # a section of one or two playlists is no shelf: it joins its nearest section
    sections = merge_small([s for s in sections if s], space.vectors, min_size=MIN_SECTION_LEAVES)
    if len(sections) < 2:
        return []
    return sorted((sorted(s) for s in sections), key=lambda s: s[0])


def home_of_group(group: Sequence[int], home: Sequence[str], weights: np.ndarray) -> str:
    """The lineage group holding most of a group's tracks (ties: the name)."""
    votes: Counter[str] = Counter()
    for i in group:
        votes[home[i]] += float(weights[i])
    return min(votes, key=lambda h: (-votes[h], h)) if votes else ""
