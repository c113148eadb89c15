"""Track-level feature summaries of a cluster (phase 4): what the scorer sees beyond titles, and the
"mini landscape" a split is planned from.

``TrackFeatures(tracks)`` turns the columns into per-track arrays once per collection, so a
cluster's summary is a gather over its rows (linear in its size). Every column except ``track_id``
is optional: ``bpm``, ``key``, ``energy`` and ``country`` only show when the collection has values
(the Genius data has no bpm, key or energy; the demo data has them).

``two_modes`` (Otsu's threshold on a weighted histogram) is shared with the task modules, whose
offline solvers must find the same modes from the payload alone.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from collection_tree.core.inputs import LIST_FACETS
from collection_tree.core.search import norm_text, norm_texts

NUMERIC_COLUMNS = ("year", "bpm", "energy")
TEXT_COLUMNS = ("era", "key", "country")
# Two modes count only when their medians lie at least this far apart (energy: relative, below).
MODE_GAP = {"year": 4.0, "bpm": 15.0}
ENERGY_GAP_OF_IQR = 1.0  # energy modes: at least one collection-wide IQR apart
MODE_MIN_SHARE = 0.25  # each mode holds at least this share of the cluster's tracks with a value
HISTOGRAM_BINS = 20
LANDSCAPE_TOP = {"genre": 12, "scene_tags": 10, "descriptors": 8, "era": 8, "country": 8, "key": 12}


def _normed_values(cells: list[Any]) -> list[dict[str, str]]:
    """Each cell's values by normalised key. Read-only and shared: the tracks with the same values get
    the same dict (a collection has far fewer distinct value lists than tracks), and each distinct
    value is normalised once."""
    lists = [tuple(cell) if isinstance(cell, list | tuple | np.ndarray) else () for cell in cells]
    distinct_lists = dict.fromkeys(lists)
    distinct_values = list(dict.fromkeys(v for one in distinct_lists for v in one))
    normed = dict(zip(distinct_values, norm_texts(distinct_values), strict=True))
    shared = {one: {normed[v]: v for v in one} for one in distinct_lists}
    return [shared[one] for one in lists]


def _r(value: float, digits: int = 2) -> float | int:
    """A rounded number for a payload; whole numbers as ints (2004, not 2004.0)."""
    value = round(float(value), digits)
    return int(value) if value.is_integer() else value


# ------------------------------------------------------------------------------------ two modes
@dataclass(frozen=True)
class Modes:
    """A two-way split of a numeric facet: low side ``[low[0], low[1]]``, high side ``[high[0], high[1]]``."""

    low: tuple[float, float]
    high: tuple[float, float]
    low_share: float
    high_share: float
    low_median: float
    high_median: float
    separation: float  # Otsu's eta: between-class / total variance, 0..1

    @property
    def gap(self) -> float:
        return self.high_median - self.low_median

    @property
    def balance(self) -> float:
        return min(self.low_share, self.high_share) / max(self.low_share, self.high_share)

    def to_payload(self) -> list[dict[str, Any]]:
        return [{"range": [_r(self.low[0]), _r(self.low[1])], "share": _r(self.low_share)},
                {"range": [_r(self.high[0]), _r(self.high[1])], "share": _r(self.high_share)}]


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    cumulative = np.cumsum(weights)
    return float(values[np.searchsorted(cumulative, cumulative[-1] / 2.0)])


def two_modes(
    bins: Sequence[tuple[float, float, float]],
    *,
    min_share: float = MODE_MIN_SHARE,
    min_gap: float = 0.0,
) -> Modes | None:
    """Otsu's split of a histogram (``(lo, hi, count)`` bins, any order): the cut between bins that
    maximises the between-class variance, among cuts leaving ``min_share`` on each side. ``None``
    unless both sides' medians lie ``min_gap`` apart (a unimodal spread is not two modes)."""
    rows = sorted((float(lo), float(hi), float(n)) for lo, hi, n in bins if n > 0)
    if len(rows) < 2:
        return None
    lo = np.array([r[0] for r in rows])
    hi = np.array([r[1] for r in rows])
    mid = (lo + hi) / 2.0
    weight = np.array([r[2] for r in rows])
    total = weight.sum()
    share = np.cumsum(weight)[:-1] / total  # low side's share for a cut after bin i
    low_sum = np.cumsum(weight * mid)[:-1]
    mean_low = low_sum / np.maximum(np.cumsum(weight)[:-1], 1e-12)
    mean_high = (np.sum(weight * mid) - low_sum) / np.maximum(total - np.cumsum(weight)[:-1], 1e-12)
    between = share * (1.0 - share) * (mean_high - mean_low) ** 2
    allowed = (share >= min_share) & (1.0 - share >= min_share)
    if not allowed.any():
        return None
    between = np.where(allowed, between, -1.0)
    cut = int(np.argmax(between))
    mean = np.sum(weight * mid) / total
    variance = np.sum(weight * (mid - mean) ** 2) / total
    low_median = _weighted_median(mid[: cut + 1], weight[: cut + 1])
    high_median = _weighted_median(mid[cut + 1 :], weight[cut + 1 :])
    if high_median - low_median < min_gap:
        return None
    return Modes(
        low=(lo[0], hi[cut]), high=(lo[cut + 1], hi[-1]), low_share=float(share[cut]),
        high_share=float(1.0 - share[cut]), low_median=low_median, high_median=high_median,
        separation=float(between[cut] / variance) if variance > 0 else 0.0,
    )


def histogram(values: np.ndarray, max_bins: int = HISTOGRAM_BINS) -> list[tuple[float, float, int]]:
    """``(lo, hi, count)`` bins of the finite values: one bin per distinct value when there are few
    whole numbers (years), else ``max_bins`` equal-width bins (empty bins left out)."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return []
    distinct, counts = np.unique(values, return_counts=True)
    if distinct.size <= max_bins and np.all(distinct == np.round(distinct)):
        return [(float(v), float(v), int(n)) for v, n in zip(distinct, counts, strict=True)]
    edges = np.linspace(values.min(), values.max(), max_bins + 1)
    counts, _ = np.histogram(values, bins=edges)
    return [(float(edges[i]), float(edges[i + 1]), int(n)) for i, n in enumerate(counts) if n > 0]


# ---------------------------------------------------------------------------------- per track
class TrackFeatures:
    """Per-track arrays of a collection, built once; summaries and landscapes of any track set."""

    def __init__(self, tracks: pd.DataFrame):
        self.position = pd.Index(tracks["track_id"].to_numpy(dtype=np.int64))
        self._ids = self.position.to_numpy()
        # The loader sorts tracks by id: positions by binary search, without a hash lookup per call.
        self._ids_sorted = bool(np.all(self._ids[1:] > self._ids[:-1]))
        # Summaries by (track ids, filters): a cluster the scoring rounds did not change is summarised once.
        self._summaries: dict[tuple[bytes, str], dict[str, Any]] = {}
        self.numeric: dict[str, np.ndarray] = {}
        for column in NUMERIC_COLUMNS:
            if column in tracks.columns:
                values = pd.to_numeric(tracks[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
                if np.isfinite(values).any():
                    self.numeric[column] = values
        self.text: dict[str, np.ndarray] = {}
        for column in TEXT_COLUMNS:
            if column in tracks.columns:
                values = np.array(["" if pd.isna(v) else str(v).strip() for v in tracks[column].tolist()],
                                  dtype=object)
                if (values != "").any():
                    self.text[column] = values
        self.lists: tuple[str, ...] = tuple(c for c in LIST_FACETS if c in tracks.columns)
        self.collection_iqr = {c: _iqr(v[np.isfinite(v)]) for c, v in self.numeric.items()}
        # Per track, its values by normalised key (the last spelling of a key wins, as a dict literal
        # over the list does): summaries read them instead of normalising every value of every cluster.
        self.normed: dict[str, list[dict[str, str]]] = {c: _normed_values(tracks[c].tolist()) for c in self.lists}
        self._normed_text: dict[str, np.ndarray] = {}

    def rows(self, track_ids: Iterable[int]) -> np.ndarray:
        """Positions of the known ids, in their order."""
        ids = np.asarray(list(track_ids), dtype=np.int64)
        if not self._ids_sorted or not self._ids.size:
            positions = self.position.get_indexer(ids)
            return positions[positions >= 0]
        positions = np.minimum(np.searchsorted(self._ids, ids), self._ids.size - 1)
        return positions[self._ids[positions] == ids]

    # -- what the scorer sees ---------------------------------------------------------------------
    def summary(self, track_ids: Sequence[int], filters: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Compact features of a track set for the scoring payload: year spread and modes, era spread,
        agreement with the cluster's own filters, the strongest other tags, and bpm / key / energy
        when the collection has them. Shares are of the cluster's tracks, rounded to 2 decimals.
        The same track ids and filters give the same (shared, read-only) summary."""
        ids = np.asarray(list(track_ids), dtype=np.int64)
        key = (ids.tobytes(), json.dumps(filters or {}, sort_keys=True, default=str))
        if key not in self._summaries:
            self._summaries[key] = self._summary(ids, filters)
        return self._summaries[key]

    def _summary(self, track_ids: np.ndarray, filters: Mapping[str, Any] | None) -> dict[str, Any]:
        rows = self.rows(track_ids)
        n = int(rows.size)
        out: dict[str, Any] = {"tracks": n}
        if n == 0:
            return out
        filters = dict(filters or {})
        out["filter_agreement"] = self._agreement(rows, filters)
        for column in self.numeric:
            stats = self._numeric_summary(column, rows)
            if stats:
                out[column] = stats
        if "era" in self.text:
            out["era"] = _top_shares(self.text["era"][rows].tolist(), n, 3)
        for column in ("genre", "scene_tags", "descriptors"):
            if column in self.lists:
                own = {norm_text(v) for v in filters.get(column, []) or []}
                out[f"other_{column}"] = self._other_values(column, rows, own)
        if "key" in self.text:
            keys = [k for k in self.text["key"][rows].tolist() if k]
            if keys:
                out["key"] = {"distinct": len(set(keys)), "top": _top_shares(keys, n, 2)}
        return out

    def _agreement(self, rows: np.ndarray, filters: Mapping[str, Any]) -> dict[str, float]:
        """Per filter key: the share of tracks matching it (any wanted value; inside the range)."""
        out: dict[str, float] = {}
        for key, wanted in filters.items():
            if key.endswith("_range"):
                column = key[: -len("_range")]
                if column in self.numeric and isinstance(wanted, list | tuple) and len(wanted) == 2:
                    values = self.numeric[column][rows]
                    inside = (values >= float(min(wanted))) & (values <= float(max(wanted)))
                    out[key] = _r(inside.mean())
                continue
            values = {norm_text(v) for v in (wanted if isinstance(wanted, list | tuple) else [wanted])}
            if key in self.lists:
                normed = self.normed[key]
                hits = sum(1 for r in rows.tolist() if not values.isdisjoint(normed[r]))
                out[key] = _r(hits / rows.size)
            elif key in self.text:
                if key not in self._normed_text:
                    self._normed_text[key] = np.array(norm_texts(self.text[key].tolist()), dtype=object)
                out[key] = _r(sum(1 for v in self._normed_text[key][rows].tolist() if v in values) / rows.size)
        return out

    def _numeric_summary(self, column: str, rows: np.ndarray) -> dict[str, Any]:
        values = self.numeric[column][rows]
        values = values[np.isfinite(values)]
        if values.size == 0:
            return {}
        ordered = sorted(values.tolist())  # a cluster's few values: one sort serves every statistic
        iqr = _sorted_quantile(ordered, 0.75) - _sorted_quantile(ordered, 0.25)
        stats: dict[str, Any] = {"min": _r(ordered[0]), "median": _r(_sorted_median(ordered)),
                                 "max": _r(ordered[-1]), "iqr": _r(iqr)}
        if values.size < rows.size:
            stats["known_share"] = _r(values.size / rows.size)
        if column != "year" and self.collection_iqr.get(column):
            stats["iqr_ratio"] = _r(iqr / self.collection_iqr[column])  # < 1: tighter than the collection
        modes = two_modes(histogram(values), min_gap=self.mode_gap(column))
        if modes is not None:
            stats["modes"] = modes.to_payload()
        return stats

    def mode_gap(self, column: str) -> float:
        if column in MODE_GAP:
            return MODE_GAP[column]
        return ENERGY_GAP_OF_IQR * self.collection_iqr.get(column, 0.0) or 0.0

    def _other_values(self, column: str, rows: np.ndarray, own: set[str]) -> dict[str, Any]:
        """The top values other than the cluster's own, how many tracks carry any value, and how
        often the top two come together (two frequent tags that rarely meet are two groups)."""
        normed = self.normed[column]
        sets = [normed[r] for r in rows.tolist()]
        counts = Counter(k for s in sets for k in s if k not in own)
        shown = {k: v for s in sets for k, v in s.items()}
        n = len(sets)
        top = _most_common(counts, 3)
        out: dict[str, Any] = {
            "top": [[shown[k], _r(c / n)] for k, c in top],
            "any_share": _r(sum(1 for s in sets if s) / n),
        }
        if len(top) >= 2:
            a, b = top[0][0], top[1][0]
            out["top2_overlap"] = _r(sum(1 for s in sets if a in s and b in s) / n)
        return out

    # -- what a split is planned from ---------------------------------------------------------------
    def landscape(self, track_ids: Sequence[int]) -> dict[str, Any]:
        """The mini landscape of a track set: value counts per facet (top N), histograms of the
        numeric columns (``[lo, hi, count]``; one bin per year)."""
        rows = self.rows(track_ids)
        n = int(rows.size)
        values: dict[str, list[list[Any]]] = {}
        for column in self.lists:
            counts: Counter[str] = Counter()
            shown: dict[str, str] = {}
            normed = self.normed[column]
            for r in rows.tolist():
                for key, value in normed[r].items():
                    counts[key] += 1
                    shown.setdefault(key, value)
            values[column] = [[shown[k], c] for k, c in _most_common(counts, LANDSCAPE_TOP.get(column, 10))]
        for column, array in self.text.items():
            counts = Counter(v for v in array[rows].tolist() if v)
            if counts:
                values[column] = [[k, c] for k, c in _most_common(counts, LANDSCAPE_TOP.get(column, 10))]
        numeric: dict[str, Any] = {}
        for column, array in self.numeric.items():
            bins = histogram(array[rows])
            if bins:
                numeric[column] = {"min": _r(bins[0][0]), "max": _r(bins[-1][1]),
                                   "histogram": [[_r(lo), _r(hi), c] for lo, hi, c in bins]}
                if column not in MODE_GAP:
                    numeric[column]["mode_gap"] = _r(self.mode_gap(column))
        return {"track_count": n, "values": {k: v for k, v in values.items() if v}, "numeric": numeric}


def _iqr(values: np.ndarray) -> float:
    if values.size == 0:
        return 0.0
    q1, q3 = np.percentile(values, [25, 75])
    return float(q3 - q1)


def _sorted_quantile(ordered: list[float], q: float) -> float:
    """``np.percentile(values, 100 * q)`` (linear method) of sorted finite values, bit for bit: the
    same virtual index and the same two-sided interpolation as numpy's ``_lerp``, without numpy's
    per-call cost on a cluster's few values."""
    virtual = (len(ordered) - 1) * q
    below = math.floor(virtual)
    above = min(below + 1, len(ordered) - 1)
    t = virtual - below
    a, b = ordered[below], ordered[above]
    diff = b - a
    return b - diff * (1.0 - t) if t >= 0.5 else a + diff * t


def _sorted_median(ordered: list[float]) -> float:
    """``np.median`` of sorted finite values (the mean of the two middle ones when even)."""
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0


def _most_common(counts: Counter, n: int) -> list[tuple[str, int]]:
    """Most common first, ties by value: stable across runs (Counter order follows insertion)."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def _top_shares(values: list[str], n: int, top: int) -> list[list[Any]]:
    counts = Counter(v for v in values if v)
    return [[k, _r(c / n)] for k, c in _most_common(counts, top)]
