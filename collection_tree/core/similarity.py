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
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.preprocessing import normalize

# Block weights: the genre decides most, then the scene; audio and era refine.
BLOCK_WEIGHTS = {"genre": 1.0, "scene": 0.6, "descriptors": 0.25, "era": 0.2,
                 "year": 0.3, "bpm": 0.3, "energy": 0.15, "key": 0.1}
GENRE_DEPTH_DECAY = 0.5  # weight of a genre value one step broader than the next one
NUMERIC_FLOOR = {"year": 1.0, "bpm": 2.0, "energy": 0.5}  # the narrowest soft bin per column
SOFT_BIN_REACH = 2  # a value touches its bin and this many on each side
SCORE_CELLS = 1 << 24  # tracks x clusters scored at a time (~64 MiB of float32)

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
def _token_block(values: list[list[tuple[str, float]]], prefix: str) -> tuple[sp.csr_matrix, list[str]]:
    """Rows of (token, weight) pairs -> TF-IDF rows (L2), and the feature names."""
    lengths = np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))
    flat_tokens = [token for row in values for token, _ in row]
    flat_weights = np.fromiter((w for row in values for _, w in row), dtype=np.float64, count=int(lengths.sum()))
    if not flat_tokens:
        return sp.csr_matrix((len(values), 0), dtype=np.float32), []
    codes, names = pd.factorize(pd.Series(flat_tokens, dtype=object), sort=True)
    rows = np.repeat(np.arange(len(values)), lengths)
    counts = sp.csr_matrix((flat_weights, (rows, codes)), shape=(len(values), len(names)))
    counts.sum_duplicates()
    tfidf = TfidfTransformer(norm="l2", smooth_idf=True, sublinear_tf=False).fit_transform(counts)
    return tfidf.astype(np.float32).tocsr(), [f"{prefix}:{n}" for n in names]


def _norm(value: Any) -> str:
    return str(value).strip().casefold()


def _list_column(tracks: pd.DataFrame, column: str) -> list[list[str]]:
    if column not in tracks.columns:
        return [[] for _ in range(len(tracks))]
    return [[str(v).strip() for v in items if str(v).strip()] if isinstance(items, list | tuple | np.ndarray) else []
            for items in tracks[column].tolist()]


def _genre_tokens(genres: list[str]) -> list[tuple[str, float]]:
    n = len(genres)
    return [(_norm(g), GENRE_DEPTH_DECAY ** (n - 1 - i)) for i, g in enumerate(genres)]


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
    return normalize(matrix).astype(np.float32)


def _numeric_block(tracks: pd.DataFrame, column: str) -> tuple[sp.csr_matrix, list[str]] | None:
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
    return matrix, names


def _key_block(tracks: pd.DataFrame) -> tuple[sp.csr_matrix, list[str]] | None:
    if "key" not in tracks.columns:
        return None
    keys = [camelot(k) for k in tracks["key"].tolist()]
    if not any(keys):
        return None
    rows, cols, weights = [], [], []
    for r, key in enumerate(keys):
        if key is None:
            continue
        number, mode = key
        for step, w in ((0, 1.0), (-1, 0.5), (1, 0.5)):  # adjacent numbers mix harmonically
            rows.append(r)
            cols.append((number - 1 + step) % 12)
            weights.append(w)
        rows.append(r)
        cols.append(12 if mode == "A" else 13)
        weights.append(0.5)
    matrix = sp.csr_matrix((weights, (rows, cols)), shape=(len(keys), 14), dtype=np.float64)
    names = [f"key:{i + 1}" for i in range(12)] + ["key:A", "key:B"]
    return normalize(matrix).astype(np.float32), names


# ------------------------------------------------------------------------------------ the model
@dataclass(frozen=True)
class Ranked:
    """Top-k clusters per track: ``columns`` (-1 pads a track with fewer allowed clusters) and ``scores``."""

    track_ids: np.ndarray
    columns: np.ndarray  # int64, tracks x k
    scores: np.ndarray  # float32, tracks x k (-inf where padded)

    def row(self, i: int) -> list[tuple[int, float]]:
        return [(int(c), float(s)) for c, s in zip(self.columns[i], self.scores[i], strict=True) if c >= 0]


class TrackSimilarity:
    """The collection's track vectors (CSR, tracks x features) and what can be computed from them."""

    def __init__(self, tracks: pd.DataFrame, weights: dict[str, float] | None = None):
        weights = {**BLOCK_WEIGHTS, **(weights or {})}
        self.track_ids = tracks["track_id"].to_numpy(dtype=np.int64)
        self.position = pd.Index(self.track_ids)
        genres = _list_column(tracks, "genre")
        scenes = _list_column(tracks, "scene_tags")
        countries = tracks["country"].fillna("").astype(str).tolist() if "country" in tracks.columns else []
        for row, country in zip(scenes, countries, strict=False):
            if country.strip() and _norm(country) not in {_norm(s) for s in row}:
                row.append(country.strip())
        eras = tracks["era"].fillna("").astype(str).tolist() if "era" in tracks.columns else []
        blocks: dict[str, tuple[sp.csr_matrix, list[str]] | None] = {
            "genre": _token_block([_genre_tokens(g) for g in genres], "genre"),
            "scene": _token_block([[(_norm(s), 1.0) for s in row] for row in scenes], "scene"),
            "descriptors": _token_block([[(_norm(d), 1.0) for d in row]
                                         for row in _list_column(tracks, "descriptors")], "descriptors"),
            "era": _token_block([[(_norm(e), 1.0)] if e.strip() else [] for e in eras]
                                or [[] for _ in range(len(tracks))], "era"),
            "year": _numeric_block(tracks, "year"),
            "bpm": _numeric_block(tracks, "bpm"),
            "energy": _numeric_block(tracks, "energy"),
            "key": _key_block(tracks),
        }
        spelled: dict[str, str] = {}  # feature name -> the spelling the tracks use (first seen)
        for prefix, rows in (("genre", genres), ("scene", scenes), ("descriptors", _list_column(tracks, "descriptors")),
                             ("era", [[e] for e in eras])):
            for row in rows:
                for value in row:
                    if value.strip():
                        spelled.setdefault(f"{prefix}:{_norm(value)}", value.strip())
        parts, names, spans = [], [], {}
        start = 0
        for name, block in blocks.items():
            if block is None or block[0].shape[1] == 0:
                continue
            matrix, features = block
            parts.append(matrix * np.float32(math.sqrt(weights[name])))
            names.extend(features)
            spans[name] = (start, start + matrix.shape[1])
            start += matrix.shape[1]
        self.blocks: dict[str, tuple[int, int]] = spans
        self.feature_names: list[str] = names
        self.display_names: list[str] = [spelled.get(n, n.split(":", 1)[1]) for n in names]
        self.weights = weights
        # The raw audio columns (row order), for spans in part titles.
        self.numeric: dict[str, np.ndarray] = {
            column: pd.to_numeric(tracks[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            for column in ("year", "bpm", "energy") if column in spans}
        matrix = (sp.hstack(parts, format="csr", dtype=np.float32) if parts
                  else sp.csr_matrix((len(tracks), 0), dtype=np.float32))
        # Each row divided by the weight of the blocks the track has: scores become weighted means.
        present = np.zeros(len(tracks), dtype=np.float64)
        for name, (lo, hi) in spans.items():
            present += weights[name] * (np.diff(matrix[:, lo:hi].tocsr().indptr) > 0)
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
        indptr = np.zeros(len(groups) + 1, dtype=np.int64)
        flat: list[int] = []
        for g, members in enumerate(groups):
            rows = self.rows(list(members))
            rows = rows[rows >= 0]
            flat.extend(rows.tolist())
            indptr[g + 1] = len(flat)
        counts = np.diff(indptr)
        data = np.repeat(1.0 / np.maximum(counts, 1), counts).astype(np.float32)
        membership = sp.csr_matrix((data, np.asarray(flat, dtype=np.int64), indptr),
                                   shape=(len(groups), self.matrix.shape[0]))
        mean = (membership @ self.matrix).tocsc()
        return self._renormalise_blocks(mean).tocsr()

    def _renormalise_blocks(self, matrix: sp.csc_matrix) -> sp.csc_matrix:
        out = []
        for name, (lo, hi) in self.blocks.items():
            block = normalize(matrix[:, lo:hi].tocsr()) * np.float32(math.sqrt(self.weights[name]))
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
        transposed = centroids.T.tocsc()
        for start in range(0, len(ids), step):
            chunk = ids[start: start + step]
            rows = self.rows(chunk)
            block = np.zeros((len(chunk), m), dtype=np.float32)
            known = rows >= 0
            if known.any():
                block[known] = (self.matrix[rows[known]] @ transposed).toarray()
            if allowed is not None:
                block[~allowed(chunk)] = -np.inf
            top = np.argpartition(-block, k - 1, axis=1)[:, :k] if k < m else np.tile(np.arange(m), (len(chunk), 1))
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


def _settle_ties(block: np.ndarray, top: np.ndarray, top_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose k-th score also occurs outside the top k: recompute those rows exactly."""
    kth = top_scores[:, -1]
    outside = (block == kth[:, None]).sum(axis=1) > (top_scores == kth[:, None]).sum(axis=1)
    for r in np.flatnonzero(outside & np.isfinite(kth)).tolist():
        order = np.lexsort((np.arange(block.shape[1]), -block[r]))[: top.shape[1]]
        top[r], top_scores[r] = order, block[r, order]
    return top, top_scores
