"""The tracks' facets by id, read once per phase: what titles, descriptions and cluster vectors are
built from. Every column except ``track_id`` is optional (a collection without bpm or energy simply
has none); list facets are lists of strings, as ``core.inputs`` loads them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd

LIST_FACETS = ("genre", "scene_tags", "descriptors")
TEXT_FACETS = ("era", "country", "artist")
NUMERIC = ("year", "bpm", "energy")
T = TypeVar("T")


def _as_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple | np.ndarray):
        items = [str(v).strip() for v in value]
    elif isinstance(value, str):
        items = [v.strip() for v in value.split(";")]
    else:
        items = []
    return tuple(dict.fromkeys(v for v in items if v))


def _cell_key(value: Any) -> Any:
    """What makes two cells the same cell: a list's type and items (each item's type too unless all
    are strings: ``1`` and ``1.0`` hash alike but read differently); a missing float is one cell."""
    if isinstance(value, list | tuple | np.ndarray):
        items = tuple(value)
        if all(type(v) is str for v in items):
            return type(value), items
        return type(value), tuple((type(v), v) for v in items)
    if isinstance(value, float) and value != value:
        return float, "nan"
    return type(value), value


_NONE, _NAN = object(), object()  # a missing cell's key: None and NaN read differently, each is one cell


def distinct_codes(cells: Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
    """Each cell's code and each code's first cell: a collection repeats its facet values, so a reading
    of each distinct cell serves every track holding it. Codes number the distinct cells in order of
    first appearance."""
    kinds = set(map(type, cells))
    keys = None
    if kinds == {list}:  # as core.inputs loads list facets: keyed by their items
        keys = pd.Series([tuple(v) for v in cells], dtype=object).to_numpy()
    elif kinds <= {str, float, type(None)} and all(v != v for v in cells if type(v) is float):
        keys = pd.Series([_NONE if v is None else _NAN if type(v) is float else v for v in cells],
                         dtype=object).to_numpy()  # strings, and missing cells
    if keys is not None:
        codes, items = pd.factorize(keys)
        # pandas keys by equality: lists whose items are all strings (1 and 1.0 would be one cell)
        if kinds != {list} or all(type(v) is str for cell in items for v in cell):
            _, first = np.unique(codes, return_index=True)
            return codes.astype(np.int64), [cells[i] for i in first.tolist()]
    code_of: dict[Any, int] = {}
    firsts: list[Any] = []
    numbered: list[int] = []
    for value in cells:
        key = _cell_key(value)
        code = code_of.get(key)
        if code is None:
            code = code_of[key] = len(firsts)
            firsts.append(value)
        numbered.append(code)
    return np.array(numbered, dtype=np.int64), firsts


def each_distinct(cells: Sequence[Any], parse: Callable[[Any], T]) -> list[T]:
    """``parse`` of every cell of a column, each distinct cell (``distinct_codes``) parsed once."""
    codes, firsts = distinct_codes(cells)
    parsed = [parse(value) for value in firsts]
    return [parsed[c] for c in codes.tolist()]


class TrackFacets:
    """Per-track facet values in column arrays, addressed by track id."""

    def __init__(self, tracks: pd.DataFrame):
        ids = tracks["track_id"].astype("int64").tolist()
        self.ids = ids
        self.row = {t: i for i, t in enumerate(ids)}
        self.lists: dict[str, list[tuple[str, ...]]] = {
            f: each_distinct(tracks[f].tolist(), _as_list) if f in tracks.columns else [()] * len(ids)
            for f in LIST_FACETS}
        self.text: dict[str, list[str]] = {
            f: ["" if pd.isna(v) else str(v).strip() for v in tracks[f].tolist()] if f in tracks.columns
            else [""] * len(ids) for f in TEXT_FACETS}
        self.numeric: dict[str, np.ndarray] = {
            f: pd.to_numeric(tracks[f], errors="coerce").to_numpy(dtype=float) if f in tracks.columns
            else np.full(len(ids), np.nan) for f in NUMERIC}

    @classmethod
    def from_values(cls, rows: Mapping[int, Mapping[str, Any]]) -> TrackFacets:
        """From ``{track_id: {facet: value}}`` (tests, or clusters' filter values when no tracks are given)."""
        frame = pd.DataFrame([{"track_id": t, **dict(v)} for t, v in sorted(rows.items())])
        if frame.empty:
            frame = pd.DataFrame({"track_id": pd.Series([], dtype="int64")})
        return cls(frame)

    def rows_of(self, track_ids: Iterable[int]) -> list[int]:
        return [self.row[int(t)] for t in track_ids if int(t) in self.row]

    def values(self, facet: str, rows: Sequence[int]) -> list[tuple[str, ...]]:
        """Each row's values of a list facet, or its one text value as a 1-tuple (empty: ())."""
        if facet in self.lists:
            column = self.lists[facet]
            return [column[r] for r in rows]
        column = self.text[facet]
        return [(column[r],) if column[r] else () for r in rows]

    def counts(self, facet: str, rows: Sequence[int] | None = None) -> Counter[str]:
        """How many of the rows (default: all) carry each value."""
        rows = range(len(self.ids)) if rows is None else rows
        return Counter(v for vals in self.values(facet, list(rows)) for v in vals)

    def numbers(self, column: str, rows: Sequence[int]) -> np.ndarray:
        values = self.numeric[column][list(rows)] if len(rows) else np.array([], dtype=float)
        return values[np.isfinite(values)]
