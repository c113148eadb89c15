"""The track similarity model every phase that places tracks shares (pre-assignment, poor fits, the
reassignment fallback, folding, splits, exemplars).

Built once per collection: each track becomes one sparse row made of weighted blocks, each block
L2-normalised so a dot product is a weighted sum of per-block cosines:

* ``genre``: TF-IDF over the genre path, the specific end weighing most (broad to specific lists:
  each step up the path halves the weight, and the IDF makes "Rock" on every track count little);
* ``scene``: TF-IDF over the scene tags and the country;
* ``descriptors``: TF-IDF over the descriptors; ``era``: the era phrase;
* audio, where the collection has it: ``year``, ``bpm`` and ``energy`` as soft bins (a value spreads
  over neighbouring bins, bin width a quarter of the column's IQR, so close values overlap), the
  musical ``key`` on the Camelot wheel (neighbouring numbers overlap; A/B mode).

A track's row is scaled by the total weight of the blocks it has, and a cluster's centroid is the
mean of its members' rows, each block renormalised to its weight: a track's score against a cluster
is the weighted mean of its blocks' cosines, in [0, 1] (1: the cluster's typical track). Scoring is
chunked over tracks, so memory stays linear in the tracks being placed (chunk x clusters), and
``ranked`` keeps only the top k per track.
Everything is deterministic: no sampling, ties broken by column.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from collection_tree.core.arrays import sorted_unique
from collection_tree.core.tfidf import l2_rows, tfidf_rows

# Block weights: the genre decides most, then the scene; audio and era refine.
BLOCK_WEIGHTS = {"genre": 1.0, "scene": 0.6, "descriptors": 0.25, "era": 0.2,
                 "year": 0.3, "bpm": 0.3, "energy": 0.15, "key": 0.1}
GENRE_DEPTH_DECAY = 0.5  # weight of a genre value one step broader than the next one
NUMERIC_FLOOR = {"year": 1.0, "bpm": 2.0, "energy": 0.5}  # the narrowest soft bin per column
SOFT_BIN_REACH = 2  # a value touches its bin and this many on each side
SCORE_CELLS = 1 << 24  # tracks x clusters scored at a time (~64 MiB of float32)
DENSE_CENTROID_CELLS = 1 << 25  # centroids x the scored tracks' features held dense (~128 MiB at most): much faster
SCORE_BOUND_SLACK = 1e-4  # over an exact bound: a float32 sum of ~30 products errs by ~1e-6
TOP_BY_ARGMAX = 32  # up to this k, k argmax passes find a row's best k (argpartition makes an n x m index array)

_KEY_NAMES = {"c": 0, "b#": 0, "c#": 1, "db": 1, "d": 2, "d#": 3, "eb": 3, "e": 4, "fb": 4, "f": 5, "e#": 5,
              "f#": 6, "gb": 6, "g": 7, "g#": 8, "ab": 8, "a": 9, "a#": 10, "bb": 10, "b": 11, "cb": 11}
# Camelot number of each pitch class: major keys (B) and minor keys (A).
_CAMELOT_MAJOR = {0: 8, 7: 9, 2: 10, 9: 11, 4: 12, 11: 1, 6: 2, 1: 3, 8: 4, 3: 5, 10: 6, 5: 7}
_CAMELOT_MINOR = {9: 8, 4: 9, 11: 10, 6: 11, 1: 12, 8: 1, 3: 2, 10: 3, 5: 4, 0: 5, 7: 6, 2: 7}


def camelot(key: Any) -> tuple[int, str] | None:
    """A musical key as (Camelot number 1-12, "A" minor / "B" major): "Am" -> (8, "A"), "C" -> (8, "B"),
    "8A" -> (8, "A"), "F# minor" -> (11, "A"). None when it is not a key."""
    text = str(key or "").strip().casefold().replace("♯", "#").replace("♭", "b")
    if not text:
        return None
    wheel = re.fullmatch(r"(\d{1,2})\s*([ab])", text)
    if wheel:
        number = int(wheel.group(1))
        return (number, wheel.group(2).upper()) if 1 <= number <= 12 else None
    match = re.fullmatch(r"([a-g][#b]?)\s*(m|min|minor|maj|major)?", text)
    if not match or match.group(1) not in _KEY_NAMES:
        return None
    pitch = _KEY_NAMES[match.group(1)]
    minor = match.group(2) in ("m", "min", "minor")
    return (_CAMELOT_MINOR[pitch], "A") if minor else (_CAMELOT_MAJOR[pitch], "B")


# ------------------------------------------------------------------------------------ blocks
@dataclass(frozen=True)
class Tokens:
    """One facet's values, one row per (track row, value): ``codes`` into ``spellings`` (the distinct
    values as the tracks spell them, stripped), and a ``weight``. A collection has a few thousand
    distinct values and millions of tokens, so the text work (strip, casefold) is done per distinct
    value, and a token holds two integers instead of two new strings."""

    rows: np.ndarray  # int64, the token's track row
    codes: np.ndarray  # int64, into ``spellings``
    spellings: np.ndarray  # object: distinct stripped, non-empty values
    weight: np.ndarray  # float64

    @classmethod
    def of(cls, values: pd.Series, genre_path: bool = False) -> Tokens:
        """A list (or text) column exploded; ``genre_path``: broad to specific, each step up the path
        halves the weight (``GENRE_DEPTH_DECAY``)."""
        exploded = values.reset_index(drop=True).explode()
        exploded = exploded[exploded.notna()]
        raw_codes, distinct = pd.factorize(exploded.to_numpy(dtype=object))
        stripped = pd.Series(distinct, dtype=object).astype(str).str.strip().to_numpy(dtype=object)
        kept = stripped != ""
        # distinct raw values whose stripped text is empty are dropped; the others renumbered in order
        renumber = np.cumsum(kept) - 1
        token_kept = kept[raw_codes]
        rows = exploded.index.to_numpy(dtype=np.int64)[token_kept]
        codes = renumber[raw_codes[token_kept]].astype(np.int64)
        weight = np.ones(len(rows), dtype=np.float64)
        if genre_path and len(rows):  # rows ascend: a track's values are consecutive, in path order
            first = np.searchsorted(rows, rows, side="left")
            size = np.searchsorted(rows, rows, side="right") - first
            steps_up = (size - 1 - (np.arange(len(rows)) - first)).astype(np.float64)
            weight = GENRE_DEPTH_DECAY ** steps_up
        return cls(rows, codes, stripped[kept], weight)

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(np.concatenate([self.rows, other.rows]),
                      np.concatenate([self.codes, other.codes + len(self.spellings)]),
                      np.concatenate([self.spellings, other.spellings]),
                      np.concatenate([self.weight, other.weight]))


def _token_block(tokens: Tokens, n_rows: int, prefix: str) -> tuple[sp.csr_matrix, list[str], list[str]]:
    """TF-IDF rows (L2) of one facet (a value twice on a track counts once, at its highest weight), the
    feature names (casefolded, sorted) and their spellings (the first token's)."""
    if len(tokens.codes) == 0:
        return sp.csr_matrix((n_rows, 0), dtype=np.float32), [], []
    keys = pd.Series(tokens.spellings, dtype=object).astype(str).str.casefold().to_numpy(dtype=object)
    key_codes, names = pd.factorize(pd.Series(keys, dtype=object), sort=True)
    codes = key_codes[tokens.codes]
    # each (row, feature) pair once, at its highest weight, pairs in (row, feature) order
    pair = tokens.rows * len(names) + codes
    order = np.argsort(pair, kind="stable")
    pair = pair[order]
    starts = np.flatnonzero(np.concatenate([[True], pair[1:] != pair[:-1]]))
    weight = np.maximum.reduceat(tokens.weight[order], starts)
    counts = sp.csr_matrix((weight, (pair[starts] // len(names), pair[starts] % len(names))),
                           shape=(n_rows, len(names)))
    tfidf = tfidf_rows(counts)
    _, first = np.unique(codes, return_index=True)  # each feature's first token, features in order
    spellings = tokens.spellings[tokens.codes[first]].tolist()
    return tfidf.astype(np.float32).tocsr(), [f"{prefix}:{n}" for n in names], spellings


def _column(tracks: pd.DataFrame, column: str) -> pd.Series:
    return tracks[column] if column in tracks.columns else pd.Series([[]] * len(tracks), dtype=object)


def soft_bins(values: np.ndarray, width: float, origin: float) -> sp.csr_matrix:
    """Each finite value spread over its bin and ``SOFT_BIN_REACH`` neighbours with a Gaussian of one
    bin width (L2-normalised rows): two values' dot product falls smoothly with their distance."""
    finite = np.isfinite(values)
    position = np.where(finite, (values - origin) / width, 0.0)
    centre = np.round(position).astype(np.int64)
    offsets = np.arange(-SOFT_BIN_REACH, SOFT_BIN_REACH + 1)
    cols = centre[:, None] + offsets[None, :]
    weights = np.exp(-0.5 * (position[:, None] - cols) ** 2)
    weights[~finite] = 0.0
    cols = cols - cols.min() if cols.size else cols
    n_bins = int(cols.max()) + 1 if cols.size else 0
    rows = np.repeat(np.arange(len(values)), len(offsets))
    matrix = sp.csr_matrix((weights.ravel(), (rows, cols.ravel())), shape=(len(values), n_bins))
    matrix.eliminate_zeros()
    return l2_rows(matrix).astype(np.float32)


def _numeric_block(tracks: pd.DataFrame, column: str) -> tuple[sp.csr_matrix, list[str], list[str]] | None:
    if column not in tracks.columns:
        return None
    values = pd.to_numeric(tracks[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    q1, q3 = np.percentile(finite, [25, 75])
    width = max((q3 - q1) / 4.0, NUMERIC_FLOOR.get(column, 1.0))
    origin = float(finite.min())
    matrix = soft_bins(values, width, origin)
    names = [f"{column}:{origin + (i - SOFT_BIN_REACH) * width:g}" for i in range(matrix.shape[1])]
    return matrix, names, names


def _key_block(tracks: pd.DataFrame) -> tuple[sp.csr_matrix, list[str], list[str]] | None:
    """The key on the Camelot wheel: its number (the neighbours, harmonically compatible, at half
    weight) and its mode (A minor / B major)."""
    if "key" not in tracks.columns:
        return None
    codes, spellings = pd.factorize(tracks["key"].fillna("").astype(str))
    wheel = [camelot(k) for k in spellings.tolist()]  # each distinct spelling parsed once
    number = np.array([w[0] if w else 0 for w in wheel], dtype=np.int64)[codes]
    minor = np.array([bool(w) and w[1] == "A" for w in wheel], dtype=bool)[codes]
    rows = np.flatnonzero(number > 0)
    if rows.size == 0:
        return None
    steps = ((0, 1.0), (-1, 0.5), (1, 0.5))
    all_rows = np.concatenate([rows] * (len(steps) + 1))
    cols = np.concatenate([(number[rows] - 1 + step) % 12 for step, _ in steps] + [np.where(minor[rows], 12, 13)])
    weights = np.concatenate([np.full(rows.size, w) for _, w in steps] + [np.full(rows.size, 0.5)])
    matrix = sp.csr_matrix((weights, (all_rows, cols)), shape=(len(codes), 14), dtype=np.float64)
    names = [f"key:{i + 1}" for i in range(12)] + ["key:A", "key:B"]
    return l2_rows(matrix).astype(np.float32), names, names


# ------------------------------------------------------------------------------------ the model
@dataclass(frozen=True)
class Ranked:
    """Top-k clusters per track: ``columns`` (-1 pads a track with fewer allowed clusters) and ``scores``."""

    track_ids: np.ndarray
    columns: np.ndarray  # int64, tracks x k
    scores: np.ndarray  # float32, tracks x k (-inf where padded)

    def row(self, i: int) -> list[tuple[int, float]]:
        return [(int(c), float(s)) for c, s in zip(self.columns[i], self.scores[i], strict=True) if c >= 0]


@dataclass(frozen=True)
class ScorePeaks:
    """Of some centroids: the most any holds of each feature, and the largest norm of each block."""

    feature: np.ndarray  # float64, per feature
    block_norm: np.ndarray  # float64, per block

    def join(self, other: ScorePeaks) -> ScorePeaks:
        """The peaks of both sets of centroids together."""
        return ScorePeaks(np.maximum(self.feature, other.feature), np.maximum(self.block_norm, other.block_norm))


class TrackSimilarity:
    """The collection's track vectors (CSR, tracks x features) and what can be computed from them."""

    def __init__(self, tracks: pd.DataFrame, weights: dict[str, float] | None = None):
        weights = {**BLOCK_WEIGHTS, **(weights or {})}
        self.track_ids = tracks["track_id"].to_numpy(dtype=np.int64)
        self.position = pd.Index(self.track_ids)
        n = len(tracks)

        def tokens(facet: str) -> Tokens:  # one facet's tokens at a time: they go once its block is made
            if facet == "scene" and "country" in tracks.columns:  # the country counts as a scene tag
                return Tokens.of(_column(tracks, "scene_tags")) + Tokens.of(tracks["country"])
            return Tokens.of(_column(tracks, "scene_tags" if facet == "scene" else facet), genre_path=facet == "genre")

        blocks: dict[str, tuple[sp.csr_matrix, list[str], list[str]] | None] = {
            **{name: _token_block(tokens(name), n, name) for name in ("genre", "scene", "descriptors", "era")},
            "year": _numeric_block(tracks, "year"),
            "bpm": _numeric_block(tracks, "bpm"),
            "energy": _numeric_block(tracks, "energy"),
            "key": _key_block(tracks),
        }
        parts, names, shown, spans = [], [], [], {}
        present = np.zeros(n, dtype=np.float64)  # the weight of the blocks each track has
        start = 0
        for name, block in blocks.items():
            if block is None or block[0].shape[1] == 0:
                continue
            matrix, features, spellings = block
            parts.append(matrix * np.float32(math.sqrt(weights[name])))
            present += weights[name] * (np.diff(matrix.indptr) > 0)
            names.extend(features)
            shown.extend(spellings)
            spans[name] = (start, start + matrix.shape[1])
            start += matrix.shape[1]
        del blocks
        self.blocks: dict[str, tuple[int, int]] = spans
        self.feature_names: list[str] = names
        self.display_names: list[str] = shown  # the features as the tracks spell them (first seen)
        self.weights = weights
        # The raw audio columns (row order), for spans in part titles.
        self.numeric: dict[str, np.ndarray] = {
            column: pd.to_numeric(tracks[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            for column in ("year", "bpm", "energy") if column in spans}
        matrix = (sp.hstack(parts, format="csr", dtype=np.float32) if parts
                  else sp.csr_matrix((len(tracks), 0), dtype=np.float32))
        del parts
        # Each row divided by the weight of the blocks the track has: scores become weighted means.
        self.matrix: sp.csr_matrix = sp.csr_matrix(
            sp.diags(np.where(present > 0, 1.0 / np.maximum(present, 1e-12), 0.0).astype(np.float32)) @ matrix)

    # ------------------------------------------------------------------------------------ rows
    def rows(self, track_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Rows of the given ids, -1 for ids the collection does not have."""
        return self.position.get_indexer(np.asarray(track_ids, dtype=np.int64))

    def vectors(self, track_ids: Sequence[int] | np.ndarray) -> sp.csr_matrix:
        rows = self.rows(track_ids)
        return self.matrix[rows[rows >= 0]]

    # ------------------------------------------------------------------------------- centroids
    def centroids(self, groups: Sequence[Sequence[int]]) -> sp.csr_matrix:
        """One row per group: the mean of its members' rows, each block renormalised to the block's
        weight (an empty group, or members the collection lacks, give a zero row)."""
        sizes = np.fromiter((len(members) for members in groups), dtype=np.int64, count=len(groups))
        members = np.fromiter((int(t) for group in groups for t in group), dtype=np.int64, count=int(sizes.sum()))
        rows = self.rows(members)  # one lookup for every group (one per group costs 50 us each)
        known = rows >= 0
        group_of = np.repeat(np.arange(len(groups)), sizes)[known]
        counts = np.bincount(group_of, minlength=len(groups))
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        data = np.repeat(1.0 / np.maximum(counts, 1), counts).astype(np.float32)
        membership = sp.csr_matrix((data, rows[known], indptr), shape=(len(groups), self.matrix.shape[0]))
        mean = (membership @ self.matrix).tocsc()
        return self._renormalise_blocks(mean).tocsr()

    def _renormalise_blocks(self, matrix: sp.csc_matrix) -> sp.csc_matrix:
        out = []
        for name, (lo, hi) in self.blocks.items():
            block = l2_rows(matrix[:, lo:hi].tocsr()) * np.float32(math.sqrt(self.weights[name]))
            out.append(block)
        if not out:
            return matrix
        return sp.hstack(out, format="csc", dtype=np.float32)

    # -------------------------------------------------------------------------------- scoring
    def scores(self, track_ids: Sequence[int] | np.ndarray, centroids: sp.csr_matrix) -> np.ndarray:
        """Dense scores (tracks x centroids) of a few tracks; callers chunk (see ``ranked``)."""
        return (self.vectors(track_ids) @ centroids.T).toarray().astype(np.float32)

    def scores_at(self, track_ids: Sequence[int] | np.ndarray, centroids: sp.csr_matrix,
                  columns: np.ndarray, blocks: Sequence[str] | None = None) -> np.ndarray:
        """Each track's score against one centroid each (``columns[i]`` for track i); 0 for unknown ids.
        ``blocks`` limits the sum to those blocks (e.g. does the track share a genre or scene at all)."""
        rows = self.rows(track_ids)
        out = np.zeros(len(rows), dtype=np.float32)
        known = rows >= 0
        if known.any():
            paired = self.matrix[rows[known]].multiply(centroids[np.asarray(columns)[known]]).tocsc()
            if blocks is not None:
                spans = [self.blocks[b] for b in blocks if b in self.blocks]
                paired = sp.hstack([paired[:, lo:hi] for lo, hi in spans] or [paired[:, :0]], format="csc")
            out[known] = np.asarray(paired.sum(axis=1)).ravel()
        return out

    def peaks(self, centroids: sp.csr_matrix) -> ScorePeaks:
        """What ``score_bounds`` needs of ``centroids``: the most any of them holds of each feature, and
        the largest norm of each block."""
        held = sp.csr_matrix(centroids, dtype=np.float64)
        if held.shape[0] == 0:
            return ScorePeaks(np.zeros(held.shape[1]), np.zeros(len(self.blocks)))
        norms = np.sqrt(self._block_sums(held, held.data ** 2))
        return ScorePeaks(np.asarray(held.max(axis=0).todense(), dtype=np.float64).ravel(), norms.max(axis=0))

    def score_bounds(self, track_ids: Sequence[int] | np.ndarray, peaks: ScorePeaks) -> np.ndarray:
        """float64 per track: no centroid of those ``peaks`` was taken from scores the track higher, as
        ``ranked`` computes scores (float32 sums: ``SCORE_BOUND_SLACK`` over the exact bound; 0 for
        unknown ids). A score is a sum over blocks; each block's part is at most the track's block
        against the most any centroid holds of each of its features, and at most the block's norm on
        the track times the largest on a centroid (Cauchy-Schwarz). O(the tracks' nonzeros): a caller
        ranks only the tracks whose bound leaves its question open."""
        rows = self.rows(track_ids)
        out = np.zeros(len(rows), dtype=np.float64)
        known = np.flatnonzero(rows >= 0)
        if known.size == 0 or not self.blocks:
            return out
        tracks = self.matrix[rows[known]]
        values = tracks.data.astype(np.float64)
        against_peak = self._block_sums(tracks, values * peaks.feature[tracks.indices])
        at_most = np.sqrt(self._block_sums(tracks, values * values)) * peaks.block_norm
        out[known] = np.minimum(against_peak, at_most).sum(axis=1) + SCORE_BOUND_SLACK
        return out

    def _block_sums(self, matrix: sp.csr_matrix, values: np.ndarray) -> np.ndarray:
        """rows x blocks: each row's ``values`` (one per stored entry) summed per block."""
        starts = np.array([lo for lo, _ in self.blocks.values()], dtype=np.int64)
        cell = (np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr)) * len(starts)
                + np.searchsorted(starts, matrix.indices, side="right") - 1)
        return np.bincount(cell, values, minlength=matrix.shape[0] * len(starts)).reshape(-1, len(starts))

    def ranked(
        self,
        track_ids: Sequence[int] | np.ndarray,
        centroids: sp.csr_matrix,
        k: int,
        allowed: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> Ranked:
        """The ``k`` best clusters of each track, best first (ties: lower column), only where
        ``allowed(track_ids_chunk) -> bool chunk x clusters`` says so. Scored in chunks of tracks."""
        ids = np.asarray(track_ids, dtype=np.int64)
        m = centroids.shape[0]
        k = max(0, min(k, m))
        columns = np.full((len(ids), k), -1, dtype=np.int64)
        scores = np.full((len(ids), k), -np.inf, dtype=np.float32)
        if k == 0 or len(ids) == 0:
            return Ranked(ids, columns, scores)
        step = max(1, SCORE_CELLS // max(m, 1))
        # Only the features these tracks have can score: the centroids are held (dense when small
        # enough) over those alone. The tracks' rows keep their stored order of nonzeros, so every
        # score is summed in the same order as over all features.
        all_rows = self.rows(ids)
        tracks = self.matrix[all_rows[all_rows >= 0]]
        used = sorted_unique(tracks.indices)
        tracks = sp.csr_matrix((tracks.data, np.searchsorted(used, tracks.indices), tracks.indptr),
                               shape=(tracks.shape[0], used.size))
        at = np.cumsum(all_rows >= 0) - 1  # row of each known id in ``tracks``
        dense = m * used.size <= DENSE_CENTROID_CELLS
        selected = centroids.T.tocsr()[used]
        transposed = np.ascontiguousarray(selected.toarray()) if dense else selected.tocsc()
        for start in range(0, len(ids), step):
            chunk = ids[start: start + step]
            rows = all_rows[start: start + step]
            block = np.zeros((len(chunk), m), dtype=np.float32)
            known = rows >= 0
            if known.any():
                product = tracks[at[start: start + step][known]] @ transposed
                block[known] = product if dense else product.toarray()
            if allowed is not None:
                block[~allowed(chunk)] = -np.inf
            if k <= TOP_BY_ARGMAX:
                top, top_scores = _top_by_argmax(block, k)
            else:
                top = np.argpartition(-block, k - 1, axis=1)[:, :k] if k < m else \
                    np.tile(np.arange(m), (len(chunk), 1))
                top_scores = np.take_along_axis(block, top, axis=1)
                order = np.lexsort((top, -top_scores), axis=1)
                top = np.take_along_axis(top, order, axis=1)
                top_scores = np.take_along_axis(top_scores, order, axis=1)
                if k < m:  # argpartition may cut a tie at the k-th place arbitrarily: settle it by column
                    top, top_scores = _settle_ties(block, top, top_scores)
            top[~np.isfinite(top_scores)] = -1
            columns[start: start + len(chunk)] = top
            scores[start: start + len(chunk)] = top_scores
        return Ranked(ids, columns, scores)


def _top_by_argmax(block: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` best columns, best first, ties by the lower column: ``argmax`` gives the first
    maximum, which is taken out (set to -inf) before the next pass. Consumes ``block``."""
    rows = np.arange(block.shape[0])
    top = np.empty((block.shape[0], k), dtype=np.int64)
    top_scores = np.empty((block.shape[0], k), dtype=np.float32)
    for j in range(k):
        top[:, j] = column = block.argmax(axis=1)
        top_scores[:, j] = block[rows, column]
        block[rows, column] = -np.inf
    return top, top_scores


def _settle_ties(block: np.ndarray, top: np.ndarray, top_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose k-th score also occurs outside the top k: recompute those rows exactly."""
    kth = top_scores[:, -1]
    outside = (block == kth[:, None]).sum(axis=1) > (top_scores == kth[:, None]).sum(axis=1)
    for r in np.flatnonzero(outside & np.isfinite(kth)).tolist():
        order = np.lexsort((np.arange(block.shape[1]), -block[r]))[: top.shape[1]]
        top[r], top_scores[r] = order, block[r, order]
    return top, top_scores
