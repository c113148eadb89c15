"""Outputs people use, made from the Collection Tree JSON (DESIGN section 5) and the tracks table:
M3U8 playlists, a Rekordbox XML, a Traktor NML, Serato crates, an HTML browser, the
metadata-suggestion review table, the ungrouped-track list. Pure functions (no Dagster); this module
holds what they share: reading the tree, finding nodes, a leaf's play order (the same in every
export), a category's sections (sub-folders in every export) and the build's provenance."""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Container, Iterable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any

import pandas as pd


class ExportError(ValueError):
    """A request an export refuses: unknown node, a path escaping the output folder, a missing or
    malformed tree. The message says what was wrong and what was expected."""


def iter_leaves(tree: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(category, leaf) pairs in tree order."""
    for category in tree.get("categories", []):
        for leaf in category.get("leaves", []):
            yield category, leaf


def _title_key(text: Any) -> str:
    return " ".join(str(text or "").split()).casefold()


def find_node(tree: dict[str, Any], node: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``(category, None)`` for a category, ``(category, leaf)`` for a leaf, named by id or, failing
    that, by title (case and spacing ignored). A title naming several nodes is refused, listing their ids."""
    for category in tree.get("categories", []):
        if category.get("id") == node:
            return category, None
    for category, leaf in iter_leaves(tree):
        if leaf.get("id") == node:
            return category, leaf
    wanted = _title_key(node)
    matches: list[tuple[dict[str, Any], dict[str, Any] | None]] = [
        (c, None) for c in tree.get("categories", []) if _title_key(c.get("title")) == wanted]
    matches += [(c, leaf) for c, leaf in iter_leaves(tree) if _title_key(leaf.get("title")) == wanted]
    if len(matches) == 1:
        return matches[0]
    if matches:
        ids = ", ".join(repr((leaf or c).get("id")) for c, leaf in matches[:10])
        raise ExportError(f"{node!r} is the title of {len(matches)} nodes ({ids}): pass one of their ids")
    raise ExportError(f"unknown node {node!r}: expected a category or leaf id or title of the collection tree "
                      f"(categories: {', '.join(repr(c.get('id')) for c in tree.get('categories', [])[:12])})")


def load_tree_json(path: Path) -> dict[str, Any]:
    """The stored tree, with a clear error when it is missing or not the collection tree."""
    if not path.exists():
        raise ExportError(f"{path}: no collection tree yet; build it first (collection-tree build)")
    try:
        tree = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExportError(f"{path}: expected the collection tree JSON, got unreadable JSON ({exc})") from exc
    if not isinstance(tree, dict) or tree.get("tree_type") != "collection" or not isinstance(
            tree.get("categories"), list):
        raise ExportError(f"{path}: expected a JSON object with tree_type 'collection' and a categories list")
    return tree


def track_index(tracks: pd.DataFrame) -> dict[int, dict[str, Any]]:
    """Track records by ``track_id`` (``to_dict("records")``'s records, built from whole columns: a
    column's ``tolist`` gives the same Python values in a fraction of the time)."""
    names = list(tracks.columns)
    columns = [_native(tracks[c]) for c in names]
    rows = (dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True))
    return {int(row["track_id"]): row for row in rows}


def _native(column: pd.Series) -> list[Any]:
    """A column's values as ``to_dict`` boxes them: Python scalars; a masked column's NA as None."""
    values = column.tolist()
    if getattr(column.dtype, "na_value", None) is pd.NA:
        values = [None if v is pd.NA else v for v in values]
    return values


class TrackColumns:
    """The tracks table by column, for exports that read a few columns of many tracks: the values
    :func:`track_index`'s records hold (a missing column reads as None, as ``record.get`` does),
    without building a record per track."""

    def __init__(self, tracks: pd.DataFrame):
        self._tracks = tracks
        self._columns: dict[str, list[Any]] = {}
        # track id -> row; a repeated id keeps its last row, as track_index does
        self.row: dict[int, int] = {int(t): i for i, t in enumerate(self.column("track_id"))}

    def column(self, name: str) -> list[Any]:
        """The whole column (read once)."""
        if name not in self._columns:
            self._columns[name] = (_native(self._tracks[name]) if name in self._tracks.columns
                                   else [None] * len(self._tracks))
        return self._columns[name]

    def values(self, name: str, track_ids: list[int]) -> list[Any]:
        """The column's values of ``track_ids`` (known ids), in their order."""
        return self.columns(track_ids, name)[0]

    def columns(self, track_ids: list[int], *names: str) -> list[list[Any]]:
        """Each named column's values of ``track_ids`` (known ids), the rows looked up once."""
        pick = self._picker(track_ids)
        return [pick(self.column(name)) for name in names]

    def _picker(self, track_ids: list[int]) -> Callable[[list[Any]], list[Any]]:
        """A function giving a whole column's values at ``track_ids``' rows (known ids), in their order."""
        rows = [self.row[t] for t in track_ids]
        if len(rows) < 2:  # itemgetter of one row gives the value itself, of none fails
            return lambda values: [values[r] for r in rows]
        get = itemgetter(*rows)
        return lambda values: list(get(values))

    def record(self, track_id: int, names: Iterable[str]) -> dict[str, Any]:
        """One track's values of ``names`` (a record like track_index's, with those columns only)."""
        i = self.row[track_id]
        return {name: self.column(name)[i] for name in names}

    def mapped(self, name: str, fn: Callable[..., list[Any]], track_ids: list[int], *args: Any) -> list[Any]:
        """``fn(values, *args)`` for ``track_ids``' values of the column, taken from ``fn`` of the whole
        column: computed once per process for the exports of a build (``COLUMN_RESULTS``)."""
        return self._picker(track_ids)(COLUMN_RESULTS.get(fn, self.column(name), args))


class ColumnResults:
    """``fn(column, *args)`` for the last few whole track columns, kept per process: every export of a
    build locates the same locations and cleans the same titles and artists (0.1 s per export at 30K
    tracks, seconds at 1M), and the in-process executor runs them all in one process. A hit needs the
    same function, arguments and column content (compared in full), so a changed table is never served
    an old result; a column of unhashable values is computed every time."""

    def __init__(self, size: int = 8):
        self.size = size
        self._lock = threading.Lock()
        self._results: OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], list[Any]]] = OrderedDict()

    def get(self, fn: Callable[..., list[Any]], values: list[Any], args: tuple[Any, ...] = ()) -> list[Any]:
        content = tuple(values)
        try:
            key = (fn, args, len(content), hash(content))
        except TypeError:
            return fn(list(values), *args)
        with self._lock:
            hit = self._results.get(key)
            if hit is not None and hit[0] == content:
                self._results.move_to_end(key)
                return hit[1]
        result = fn(list(values), *args)
        with self._lock:
            self._results[key] = (content, result)
            while len(self._results) > self.size:
                self._results.popitem(last=False)
        return result


COLUMN_RESULTS = ColumnResults()


def positive_number(value: Any) -> float | None:
    """A finite number above zero (a tempo, a duration, a year), else None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def positive_numbers(values: Iterable[Any]) -> list[float | None]:
    """:func:`positive_number` of a whole column (plain floats, the usual values, checked inline)."""
    return [(v if 0 < v < math.inf else None) if type(v) is float else None if v is None else positive_number(v)
            for v in values]


def distinct_tracks(orders: Iterable[list[int]]) -> list[int]:
    """The tracks of the leaves' play orders, each once, in order of first appearance."""
    return list(dict.fromkeys(t for order in orders for t in order))


def play_order(leaf: dict[str, Any], index: Container[int] | None = None) -> list[int]:
    """The leaf's tracks in playlist order, the one every export uses: its ``order`` (DESIGN section 5;
    written by the build's ``playlist_order`` step) when present, else ``track_ids``. Tracks missing
    from ``order`` follow it; with ``index``, tracks unknown to the tracks table are left out."""
    ids = [int(t) for t in leaf.get("track_ids", [])]
    members = set(ids)
    chosen = list(dict.fromkeys([t for t in map(int, leaf.get("order") or []) if t in members]))
    placed = set(chosen)
    if len(placed) < len(members):  # an order naming every track (the usual one) leaves none to add
        chosen += [t for t in ids if t not in placed]
    return chosen if index is None else [t for t in chosen if t in index]


def category_sections(category: dict[str, Any]) -> list[tuple[str | None, list[dict[str, Any]]]]:
    """The category's leaves grouped by its ``sections`` (title, leaves in section order), or one
    untitled group when it has none. Leaves no section names follow in a last untitled group, so
    every leaf is exported once whatever the sections say."""
    leaves = [leaf for leaf in category.get("leaves", []) if isinstance(leaf, dict)]
    by_id = {str(leaf.get("id")): leaf for leaf in leaves}
    groups: list[tuple[str | None, list[dict[str, Any]]]] = []
    placed: set[str] = set()
    for section in category.get("sections") or []:
        if not isinstance(section, dict):
            continue
        members = [by_id[str(i)] for i in section.get("leaf_ids") or [] if str(i) in by_id and str(i) not in placed]
        placed.update(str(leaf.get("id")) for leaf in members)
        if members:
            groups.append((str(section.get("title") or "Section"), members))
    rest = [leaf for leaf in leaves if str(leaf.get("id")) not in placed]
    if rest:
        groups.append((None, rest))
    return groups


def provenance(tree: dict[str, Any]) -> str:
    """How the tree was made, from its ``build`` object: "offline heuristics", or the models that
    wrote it; empty for a tree without one."""
    build = tree.get("build")
    if not isinstance(build, dict):
        return ""
    if build.get("provider") == "offline":
        return "offline heuristics"
    models = [str(m) for m in build.get("models") or [] if str(m).strip()]
    return ", ".join(models) or str(build.get("provider") or "")
