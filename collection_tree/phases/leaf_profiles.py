"""Leaf profiles and distinctive values, counted from the tracks' columns for all leaves at once
(phases 6 and 7, and the update's refreshed leaves).

A leaf's profile is its facet values by the share of its tracks carrying them (genre entries with
their mean depth in the broad-to-specific list), its eras, BPM and energy quartiles, years and
artists. Its distinctive values are those that set it apart from the other leaves (c-TF-IDF: the
share of the leaf's tracks carrying a value, times ``log(1 + A / f)`` where ``f`` is how often the
value occurs over all leaves and ``A`` the average number of values per leaf).

Each distinct facet cell of the collection is read once into value codes; the leaves' tracks gather
their cells' codes and numpy counts (leaf, value) pairs; only the values a leaf shows are turned back
into text. One Python record per track and a Counter per leaf were about 40% of phases 6 and 7 at
300K tracks. The per-record reading these counts must equal is kept in the tests
(``test_leaf_profiles.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from collection_tree.core.track_facets import distinct_codes

PROFILE_FACETS = ("genre", "scene_tags", "descriptors")
DISTINCTIVE_FACETS = ("genre", "scene_tags", "descriptors", "country")
PROFILE_TOP = 8  # values per facet in a profile
PROFILE_MIN_SHARE = 0.2  # of the leaf's tracks
DISTINCTIVE_TOP = 4  # values per facet in the payload
DISTINCTIVE_MIN_SHARE = 0.2  # of the leaf's tracks
MIN_LIFT = 2.0  # a value distinguishes a leaf where it is at least this much commoner than overall


# How a track record reads its cells (phases.leaves.TrackRecords); the counts here read them alike.
def record_list(value: Any) -> list[Any]:
    """A list facet cell's values (anything but a list, tuple or array: none)."""
    return list(value) if isinstance(value, list | tuple | np.ndarray) else []


def record_text(value: Any) -> str:
    """A title, artist, era or comment cell ("" for None or an empty value)."""
    return str(value or "")


def record_year(value: Any) -> int | None:
    return None if pd.isna(value) else int(value)


def clean_text(value: Any) -> str:
    """A country cell, stripped ("" for None or NaN)."""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()


def number_or_none(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


@dataclass(frozen=True)
class _Entries:
    """Values of each distinct cell of a column, flattened: cell ``c`` holds entries
    ``start[c] : start[c] + length[c]``; each entry has a value code (``value``, into ``texts``) and,
    for the profile, its 1-based position in the cell's list (``depth``) and its spelling (``shown``)."""

    codes: np.ndarray  # per row: its cell's code
    start: np.ndarray
    length: np.ndarray
    value: np.ndarray
    depth: np.ndarray
    shown: np.ndarray
    texts: list[str]  # value code -> text (the casefolded key for a profile, the value itself otherwise)
    spellings: list[str]  # spelling code -> text
    rank: np.ndarray  # value code -> its place among ``texts`` in Python's string order

    def gather(self, rows: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The entries of the given rows (in row order, then cell order) and the owner of each."""
        cells = self.codes[rows]
        length = self.length[cells]
        before = np.cumsum(length) - length
        index = np.repeat(self.start[cells] - before, length) + np.arange(int(length.sum()), dtype=np.int64)
        return index, np.repeat(owner, length)


def _entries(codes: np.ndarray, cells: Sequence[Any], read: Callable[[Any], list[tuple[str, int, str]]]) -> _Entries:
    """``read`` turns a cell into its entries (value text, 1-based depth, spelling)."""
    value_of: dict[str, int] = {}
    spelling_of: dict[str, int] = {}
    length = np.zeros(len(cells), dtype=np.int64)
    values: list[int] = []
    depths: list[int] = []
    shown: list[int] = []
    for c, cell in enumerate(cells):
        read_entries = read(cell)
        length[c] = len(read_entries)
        for text, depth, spelling in read_entries:
            values.append(value_of.setdefault(text, len(value_of)))
            depths.append(depth)
            shown.append(spelling_of.setdefault(spelling, len(spelling_of)))
    texts = list(value_of)
    return _Entries(codes=codes, start=np.cumsum(length) - length, length=length,
                    value=np.asarray(values, dtype=np.int64), depth=np.asarray(depths, dtype=np.int64),
                    shown=np.asarray(shown, dtype=np.int64), texts=texts, spellings=list(spelling_of),
                    rank=_string_ranks(texts))


def _profile_entries(cell: Any) -> list[tuple[str, int, str]]:
    """A list cell's values, each key (stripped, casefolded) once at its first position."""
    seen: set[str] = set()
    out = []
    for pos, value in enumerate(record_list(cell)):
        spelling = str(value).strip()
        key = spelling.casefold()
        if key and key not in seen:
            seen.add(key)
            out.append((key, pos + 1, spelling))
    return out


def _distinct_values(cell: Any) -> list[tuple[str, int, str]]:
    """A list cell's distinct stripped values (a track counts a value once)."""
    values = dict.fromkeys(s for v in record_list(cell) if (s := str(v).strip()))
    return [(v, 0, "") for v in values]


def _country_value(cell: Any) -> list[tuple[str, int, str]]:
    country = clean_text(cell)
    return [(country, 0, "")] if country else []


@dataclass(frozen=True)
class _Pairs:
    """(leaf, value) pairs of the gathered entries: ``owner``, ``value``, ``count`` (tracks), ``first``
    (index of the first gathered entry of the pair) and ``depth`` (sum of 1-based positions)."""

    owner: np.ndarray
    value: np.ndarray
    count: np.ndarray
    first: np.ndarray
    depth: np.ndarray


def _pairs(owner: np.ndarray, value: np.ndarray, values: int, depth: np.ndarray | None = None) -> _Pairs:
    combined = owner * max(values, 1) + value
    unique, first, inverse, count = np.unique(combined, return_index=True, return_inverse=True, return_counts=True)
    summed = (np.bincount(inverse, weights=depth, minlength=len(unique)) if depth is not None
              else np.zeros(len(unique)))
    return _Pairs(owner=unique // max(values, 1), value=unique % max(values, 1), count=count, first=first,
                  depth=summed)


def _ranked(pairs: _Pairs, rank: np.ndarray, top: int) -> np.ndarray:
    """Indices of each leaf's ``top`` pairs, most tracks first, ties by value text; leaf by leaf."""
    order = np.lexsort((rank[pairs.value], -pairs.count, pairs.owner))
    owners = pairs.owner[order]
    starts = np.searchsorted(owners, owners, side="left")
    return order[np.arange(len(order)) - starts < top]


def _by_owner(picked: np.ndarray, owner: np.ndarray, leaves: int) -> list[list[int]]:
    out: list[list[int]] = [[] for _ in range(leaves)]
    for i, o in zip(picked.tolist(), owner[picked].tolist(), strict=True):
        out[o].append(i)
    return out


class LeafFacets:
    """The columns profiles and distinctive values are counted from, each distinct cell read once.
    ``columns``: column name -> per-row values (a missing column: ``None`` per row)."""

    def __init__(self, columns: dict[str, list[Any]]):
        self._columns = columns

    # Each reading is made at its first use: phase 7 counts no distinctive values, years or artists.
    @cached_property
    def _cells(self) -> dict[str, tuple[np.ndarray, list[Any]]]:
        return {f: distinct_codes(self._columns[f]) for f in DISTINCTIVE_FACETS}

    @cached_property
    def _profile(self) -> dict[str, _Entries]:
        return {f: _entries(*self._cells[f], _profile_entries) for f in PROFILE_FACETS}

    @cached_property
    def _distinct(self) -> dict[str, _Entries]:
        return {f: _entries(*self._cells[f], _country_value if f == "country" else _distinct_values)
                for f in DISTINCTIVE_FACETS}

    # the records' reading of each scalar (phases.leaves.TrackRecords)
    @cached_property
    def _era(self) -> tuple[np.ndarray, list[str], np.ndarray]:
        return _codes([record_text(v).strip() for v in self._columns["era"]])

    @cached_property
    def _artist(self) -> tuple[np.ndarray, list[str], np.ndarray]:
        return _codes([record_text(v) for v in self._columns["artist"]])

    @cached_property
    def _year(self) -> tuple[np.ndarray, np.ndarray]:
        """``record_year`` of each row (missing ones found in one pass), and which rows have one."""
        column = self._columns["year"]
        missing = pd.isna(np.array(column, dtype=object)).tolist()
        years = [0 if gone else int(v) for v, gone in zip(column, missing, strict=True)]
        return np.array(years, dtype=np.int64), ~np.array(missing, dtype=bool)

    @cached_property
    def _numbers(self) -> dict[str, np.ndarray]:
        return {c: np.array([np.nan if (x := number_or_none(v)) is None else x for v in self._columns[c]],
                            dtype=np.float64) for c in ("bpm", "energy")}

    # ------------------------------------------------------------------------------------ profiles
    def profiles(self, members: Sequence[np.ndarray], with_artists: bool = True) -> list[dict[str, Any]]:
        """Per leaf (its tracks' row positions), its profile: facet shares, most common first (genre
        entries are [value, share, mean 1-based depth]; others [value, share]), eras, BPM and energy
        quartiles where the leaf has them, and with ``with_artists`` its years and top artists."""
        rows, owner, sizes = _flatten(members)
        n = np.maximum(sizes, 1)
        out: list[dict[str, Any]] = [{} for _ in members]
        for facet in PROFILE_FACETS:
            entries = self._profile[facet]
            index, entry_owner = entries.gather(rows, owner)
            pairs = _pairs(entry_owner, entries.value[index], len(entries.texts), entries.depth[index])
            picked = _by_owner(_ranked(pairs, entries.rank, PROFILE_TOP), pairs.owner, len(members))
            shown = entries.shown[index]
            for leaf, chosen in enumerate(picked):
                values = []
                for i in chosen:
                    count = int(pairs.count[i])
                    share = round(count / int(n[leaf]), 2)
                    if share < PROFILE_MIN_SHARE:
                        break
                    spelling = entries.spellings[int(shown[pairs.first[i]])]
                    values.append([spelling, share, round(float(pairs.depth[i]) / count, 2)] if facet == "genre"
                                  else [spelling, share])
                out[leaf][facet] = values
        codes, texts, rank = self._era
        eras = self._top_texts(rows, owner, codes, rank, 3, len(members))
        for leaf, chosen in enumerate(eras):
            size = int(n[leaf])
            out[leaf]["era"] = [[texts[v], round(c / size, 2)] for v, c in chosen if c / size >= PROFILE_MIN_SHARE]
        for column in ("bpm", "energy"):
            for leaf, values in self._sorted_numbers(rows, owner, self._numbers[column], len(members)):
                m = len(values)
                out[leaf][column] = [round(values[m // 4]), round(values[m // 2]), round(values[(3 * m) // 4])]
        if with_artists:
            year, known = self._year
            spans: list[list[int]] = [[] for _ in members]
            mask = known[rows]
            for leaf, values in _sorted_groups(owner[mask], year[rows][mask], len(members)):
                spans[leaf] = [values[0], values[-1]]
            codes, texts, rank = self._artist
            artists = self._top_texts(rows, owner, codes, rank, 5, len(members))
            for leaf in range(len(members)):
                out[leaf]["years"] = spans[leaf]
                out[leaf]["artists"] = [[texts[v], c] for v, c in artists[leaf]]
        return out

    def _top_texts(self, rows: np.ndarray, owner: np.ndarray, codes: np.ndarray, rank: np.ndarray, top: int,
                   leaves: int) -> list[list[tuple[int, int]]]:
        """Per leaf: its ``top`` non-empty texts of a scalar column with their counts."""
        code = codes[rows]
        keep = code >= 0
        pairs = _pairs(owner[keep], code[keep], len(rank))
        picked = _by_owner(_ranked(pairs, rank, top), pairs.owner, leaves)
        return [[(int(pairs.value[i]), int(pairs.count[i])) for i in chosen] for chosen in picked]

    @staticmethod
    def _sorted_numbers(rows: np.ndarray, owner: np.ndarray, column: np.ndarray,
                        leaves: int) -> list[tuple[int, list[float]]]:
        values = column[rows]
        known = ~np.isnan(values)
        return _sorted_groups(owner[known], values[known], leaves)

    # ------------------------------------------------------------------------------------ distinctive
    def distinctive(self, members: Sequence[np.ndarray], top: int = DISTINCTIVE_TOP,
                    min_share: float = DISTINCTIVE_MIN_SHARE) -> list[dict[str, list[list[Any]]]]:
        """Per leaf, per facet, the values that set it apart from the other leaves, best first, as
        ``[value, share of the leaf's tracks]``, by c-TF-IDF weight (module docstring). Values on fewer
        than ``min_share`` of the leaf's tracks, or less than ``MIN_LIFT`` times commoner in the leaf
        than over all the leaves' tracks, are left out. Ties by value (deterministic)."""
        rows, owner, sizes = _flatten(members)
        n = np.maximum(sizes, 1).astype(np.float64)
        counted = []
        total_entries = 0
        for facet in DISTINCTIVE_FACETS:
            entries = self._distinct[facet]
            index, entry_owner = entries.gather(rows, owner)
            values = entries.value[index]
            total_entries += len(values)
            counted.append((facet, entries, _pairs(entry_owner, values, len(entries.texts)),
                            np.bincount(values, minlength=len(entries.texts))))
        average = total_entries / max(1, len(members))
        tracks = max(1, int(sizes.sum()))
        ranked: list[dict[str, list[tuple[float, str, float]]]] = [{} for _ in members]
        for facet, entries, pairs, frequency in counted:
            share = pairs.count / n[pairs.owner]
            often = frequency[pairs.value]
            passing = np.flatnonzero((share >= min_share) & (share >= MIN_LIFT * often / tracks))
            for i in passing.tolist():
                leaf_share = float(share[i])
                weight = leaf_share * math.log(1.0 + average / int(often[i]))
                ranked[int(pairs.owner[i])].setdefault(facet, []).append(
                    (-weight, entries.texts[int(pairs.value[i])], leaf_share))
        return [{facet: [[value, round(s, 2)] for _, value, s in sorted(rows_)[:top]]
                 for facet in DISTINCTIVE_FACETS if (rows_ := leaf.get(facet))} for leaf in ranked]


def _codes(texts: list[str]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Codes of the non-empty texts (-1 for empty), the code's text and its rank in string order."""
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(t, len(index)) if t else -1 for t in texts), dtype=np.int64,
                        count=len(texts))
    names = list(index)
    return codes, names, _string_ranks(names)


def _string_ranks(texts: list[str]) -> np.ndarray:
    """Each text's place among ``texts`` in Python's string order (the per-record reading's tie-break)."""
    rank = np.empty(len(texts), dtype=np.int64)
    rank[sorted(range(len(texts)), key=texts.__getitem__)] = np.arange(len(texts), dtype=np.int64)
    return rank


def _flatten(members: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sizes = np.array([len(m) for m in members], dtype=np.int64)
    rows = np.concatenate([np.asarray(m, dtype=np.int64) for m in members]) if len(members) else np.zeros(0, np.int64)
    return rows, np.repeat(np.arange(len(members), dtype=np.int64), sizes), sizes


def _sorted_groups(owner: np.ndarray, values: np.ndarray, leaves: int) -> list[tuple[int, list[Any]]]:
    """(leaf, its values sorted) for each leaf with values."""
    order = np.lexsort((values, owner))
    owner, values = owner[order], values[order]
    bounds = np.searchsorted(owner, np.arange(leaves + 1))
    listed = values.tolist()
    return [(leaf, listed[bounds[leaf]:bounds[leaf + 1]]) for leaf in range(leaves)
            if bounds[leaf + 1] > bounds[leaf]]
