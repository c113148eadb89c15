"""Facet search shared by the phases: merged filters, ``scored_search`` and ``assign_tracks_to_branches``.

A filter set maps a track column to wanted values (``{"genre": ["Deep House"]}``) or
``<column>_range`` to an inclusive numeric range (``{"year_range": [2000, 2008]}``). A track's score
is the mean, over the filter's known keys, of one component per key in [0, 1]:

* value lists: 0 when no wanted value is present, else ``0.5 + 0.5 * matched / wanted`` (a union of
  values from a merge still rewards a track that has several of them);
* ranges: 1 inside; outside, falls linearly to 0 over one range width (at least 1 unit).

Everything is vectorised over tracks with an inverted index built once per collection.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from collection_tree.core.inputs import LIST_FACETS, RANGE_COLUMNS, TEXT_FACETS

log = logging.getLogger(__name__)

__all__ = ["RANGE_COLUMNS", "TEXT_FACETS"]
_warned_keys: set[str] = set()


def norm_text(value: Any) -> str:
    """A facet value as filters and summaries compare it: stripped and casefolded."""
    return str(value).strip().casefold()


def norm_texts(values: list[Any]) -> list[str]:
    """``norm_text`` of each value, computed once per distinct value and shared: a column has few
    distinct values and many rows, and a new string per row was 116 MiB of a 300K-track index."""
    seen: dict[Any, str] = {}
    return [seen[v] if v in seen else seen.setdefault(v, norm_text(v)) for v in values]


def merge_filters(*filter_sets: Mapping[str, Any] | None) -> dict[str, Any]:
    """Union of value lists (first-seen order), intersection of ranges; an empty range intersection
    keeps the narrower range's midpoint so the filter still means something."""
    merged: dict[str, Any] = {}
    for filters in filter_sets:
        for key, value in (filters or {}).items():
            if key.endswith("_range"):
                lo, hi = _as_range(value)
                if lo is None:
                    continue
                if key in merged:
                    old_lo, old_hi = merged[key]
                    new_lo, new_hi = max(old_lo, lo), min(old_hi, hi)
                    if new_lo > new_hi:  # disjoint: meet in the middle of the gap
                        mid = (new_lo + new_hi) / 2
                        new_lo = new_hi = int(mid) if float(mid).is_integer() else mid
                    merged[key] = [new_lo, new_hi]
                else:
                    merged[key] = [lo, hi]
            else:
                values = value if isinstance(value, list | tuple) else [value]
                bucket = merged.setdefault(key, [])
                for v in values:
                    if v is not None and str(v).strip() and v not in bucket:
                        bucket.append(v)
    return merged


def _as_range(value: Any) -> tuple[float | None, float | None]:
    if isinstance(value, list | tuple) and len(value) == 2:
        try:
            lo, hi = float(value[0]), float(value[1])
        except (TypeError, ValueError):
            return None, None
        lo_v = int(lo) if lo.is_integer() else lo
        hi_v = int(hi) if hi.is_integer() else hi
        return (lo_v, hi_v) if lo <= hi else (hi_v, lo_v)
    return None, None


class FacetIndex:
    """Inverted index over a tracks frame (as returned by ``load_tracks``), built once, reused."""

    def __init__(self, tracks: pd.DataFrame):
        self.tracks = tracks
        self.track_ids = tracks["track_id"].to_numpy(dtype=np.int64)
        self.position = pd.Index(self.track_ids)
        self.size = len(tracks)
        self._lists: dict[str, dict[str, np.ndarray]] = {}
        for column in LIST_FACETS:
            if column in tracks.columns:
                self._lists[column] = self._invert(tracks[column])
        self._text: dict[str, np.ndarray] = {}
        for column in TEXT_FACETS:
            if column in tracks.columns:
                self._text[column] = np.array(norm_texts(tracks[column].tolist()), dtype=object)
        self._numeric: dict[str, np.ndarray] = {}
        for column in RANGE_COLUMNS:
            if column in tracks.columns:
                self._numeric[column] = pd.to_numeric(tracks[column], errors="coerce").to_numpy(
                    dtype="float64", na_value=np.nan)

    @staticmethod
    def _invert(column: pd.Series) -> dict[str, np.ndarray]:
        exploded = column.explode()
        exploded = exploded[exploded.notna()]
        if exploded.empty:
            return {}
        rows = exploded.index.to_numpy(dtype=np.int64)
        keys = pd.Series(norm_texts(exploded.tolist()))
        groups = pd.Series(rows).groupby(keys.to_numpy()).indices
        return {k: rows[v] for k, v in groups.items()}

    def known_key(self, key: str) -> bool:
        if key.endswith("_range"):
            return key[: -len("_range")] in self._numeric
        return key in self._lists or key in self._text

    def scores(self, filters: Mapping[str, Any] | None) -> np.ndarray:
        """Score every track of the index against one filter set (float array, index order)."""
        total = np.zeros(self.size, dtype=np.float64)
        used = 0
        for key, value in (filters or {}).items():
            component = self._component(key, value)
            if component is None:
                continue
            total += component
            used += 1
        return total / used if used else total

    def _component(self, key: str, value: Any) -> np.ndarray | None:
        if key.endswith("_range"):
            column = key[: -len("_range")]
            if column not in self._numeric:
                return self._unknown(key)
            lo, hi = _as_range(value)
            if lo is None:
                return None
            values = self._numeric[column]
            width = max(float(hi) - float(lo), 1.0)
            dist = np.where(values < lo, lo - values, np.where(values > hi, values - hi, 0.0))
            comp = np.clip(1.0 - dist / width, 0.0, 1.0)
            return np.where(np.isnan(values), 0.0, comp)  # a missing value matches no range
        wanted = {norm_text(v) for v in (value if isinstance(value, list | tuple) else [value]) if v is not None}
        wanted.discard("")
        if not wanted:
            return None
        if key in self._lists:
            inverted = self._lists[key]
            hits = [inverted[w] for w in wanted if w in inverted]
            if not hits:
                return np.zeros(self.size)
            counts = np.bincount(np.concatenate(hits), minlength=self.size).astype(np.float64)
            return np.where(counts > 0, 0.5 + 0.5 * np.minimum(counts, len(wanted)) / len(wanted), 0.0)
        if key in self._text:
            return np.isin(self._text[key], list(wanted)).astype(np.float64)
        return self._unknown(key)

    @staticmethod
    def _unknown(key: str) -> None:
        # Tree filters are checked when the tree is loaded (a warning naming file and node reaches the run
        # log and the tree asset's metadata) and LLM-made ones by their task: nothing to tell people here.
        if key not in _warned_keys:
            _warned_keys.add(key)
            log.debug("filter key %r names no track column; ignored", key)
        return None

    def rows_of(self, track_ids: Iterable[int]) -> np.ndarray:
        """Positions of the given track ids (unknown ids dropped)."""
        positions = self.position.get_indexer(np.asarray(list(track_ids), dtype=np.int64))
        return positions[positions >= 0]


def _index_for(tracks: pd.DataFrame | FacetIndex) -> FacetIndex:
    return tracks if isinstance(tracks, FacetIndex) else FacetIndex(tracks)


def scored_search(
    tracks: pd.DataFrame | FacetIndex,
    filters: Mapping[str, Any] | None,
    top_n: int | None = 50,
    *,
    candidate_ids: Iterable[int] | None = None,
    min_score: float = 0.0,
) -> pd.DataFrame:
    """Rank tracks by how well they match ``filters``: a frame of ``track_id``, ``score`` (best first,
    ties by track id), only scores above ``min_score`` (strictly), at most ``top_n`` rows."""
    index = _index_for(tracks)
    scores = index.scores(filters)
    rows = np.arange(index.size) if candidate_ids is None else index.rows_of(candidate_ids)
    picked = scores[rows]
    keep = picked > min_score
    rows, picked = rows[keep], picked[keep]
    ids = index.track_ids[rows]
    order = np.lexsort((ids, -picked))
    if top_n is not None:
        order = order[:top_n]
    return pd.DataFrame({"track_id": ids[order], "score": picked[order]})


def score_matrix(
    tracks: pd.DataFrame | FacetIndex,
    branch_filters: Sequence[Mapping[str, Any] | None],
    track_ids: Iterable[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores of the selected tracks (rows) against each branch (columns), and the track ids."""
    index = _index_for(tracks)
    rows = np.arange(index.size) if track_ids is None else index.rows_of(track_ids)
    matrix = np.zeros((len(rows), len(branch_filters)), dtype=np.float64)
    for j, filters in enumerate(branch_filters):
        matrix[:, j] = index.scores(filters)[rows]
    return matrix, index.track_ids[rows]


def assign_tracks_to_branches(
    tracks: pd.DataFrame | FacetIndex,
    branches: Sequence[Mapping[str, Any]],
    min_score: float = 0.0,
    *,
    track_ids: Iterable[int] | None = None,
) -> dict[int, str | None]:
    """Send each track to its best-scoring branch (``{"id", "filters"}``; the first wins a tie).
    A track whose best score is below ``min_score`` (or zero) maps to ``None``."""
    if not branches:
        index = _index_for(tracks)
        ids = index.track_ids if track_ids is None else index.track_ids[index.rows_of(track_ids)]
        return {int(t): None for t in ids}
    matrix, ids = score_matrix(tracks, [b.get("filters") for b in branches], track_ids)
    best = matrix.argmax(axis=1)
    best_score = matrix[np.arange(len(ids)), best]
    branch_ids = [str(b["id"]) for b in branches]
    return {
        int(t): (branch_ids[b] if s >= min_score and s > 0 else None)
        for t, b, s in zip(ids.tolist(), best.tolist(), best_score.tolist(), strict=True)
    }
