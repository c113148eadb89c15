"""Loaders and validation for the three inputs and the optional config.json (DESIGN section 1).

Each loader returns clean, typed data or raises :class:`InputError` naming the file, the field
and what was expected. Nothing here writes anything.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from collection_tree.core.errors import InputError

LIST_FACETS = ("genre", "scene_tags", "descriptors")
TEXT_COLUMNS = ("title", "artist", "comment", "era")
REQUIRED_COLUMNS = ("track_id", "title", "artist", "year", "comment", *LIST_FACETS, "era")
OPTIONAL_NUMERIC = ("bpm", "energy", "duration")
OPTIONAL_TEXT = ("key", "location", "label", "country")
TRACK_COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_NUMERIC, *OPTIONAL_TEXT)
# What a filter may name: value lists over these columns, ``<column>_range`` over the numeric ones.
TEXT_FACETS = ("era", "key", "country", "label", "artist", "title")
RANGE_COLUMNS = ("year", "bpm", "energy", "duration")
TREE_TYPES = ("genre", "scene")
CONFIG_KEYS = ("creative_model", "mechanical_model")
# Track ids must survive every float and JSON round trip (the HTML browser's JavaScript included).
MAX_TRACK_ID = 2**53 - 1
YEAR_RANGE = (1, 9999)
# Genre and scene trees are a few levels deep; a deeper one is malformed (and would exhaust recursion).
MAX_TREE_DEPTH = 64


def file_sha256(path: str | Path) -> str:
    """The file's sha256 (hex): what identifies an input, whatever its name or modification time."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------- tracks
def split_facet(value: Any) -> list[str]:
    """A list facet from CSV (`; `-separated) or Parquet (a list of strings); order kept, blanks dropped.
    Anything else (a number, a date, a list of numbers) raises ``TypeError``."""
    if value is None:
        return []
    if isinstance(value, float) and np.isnan(value):
        return []
    if isinstance(value, str):
        parts: list[Any] = value.split(";")
    elif isinstance(value, list | tuple | np.ndarray):
        parts = list(value)
    else:
        raise TypeError(f"a {type(value).__name__}")
    out: list[str] = []
    for part in parts:
        if part is None:
            continue
        if not isinstance(part, str):
            raise TypeError(f"a list holding a {type(part).__name__} ({part!r})")
        text = part.strip()
        if text and text not in out:
            out.append(text)
    return out


def _list_facet_column(path: Path, frame: pd.DataFrame, column: str) -> list[list[str]]:
    values = frame[column].tolist()
    out = []
    split: dict[str, list[str]] = {}  # a CSV repeats its facet strings: each distinct one is split once
    for row, value in enumerate(values):
        try:
            if isinstance(value, str):
                parts = split.get(value)
                if parts is None:
                    parts = split[value] = split_facet(value)
                out.append(list(parts))  # each row its own list
            else:
                out.append(split_facet(value))
        except TypeError as exc:
            raise InputError(path, column, "a ';'-separated string or a list of strings in every row",
                             f"row {row + 2}: {exc}") from None
    return out


def _not_a_number_dtype(path: Path, frame: pd.DataFrame, column: str, expected: str) -> None:
    """Parquet can type a column as dates or booleans; read as numbers they would be nonsense (a date
    becomes 978307200000000 microseconds), so they are refused by type."""
    dtype = frame[column].dtype
    if (pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype)
            or pd.api.types.is_bool_dtype(dtype)):
        raise InputError(path, column, expected, f"a column of {dtype}")


def _read_table(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """The tracks file as read (``columns``: only those, the others' names kept as ``attrs["columns"]``)."""
    if not path.exists():
        raise InputError(path, "path", "an existing tracks file (CSV or Parquet)", "missing file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            if columns is None:
                return pd.read_parquet(path)
            names = pq.read_schema(path).names
            frame = pd.read_parquet(path, columns=[c for c in columns if c in names])
        elif suffix in (".csv", ".txt"):
            if columns is None:
                return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
            names = list(pd.read_csv(path, dtype=str, nrows=0).columns)
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                                usecols=[c for c in columns if c in names])
        else:
            raise InputError(path, "path", "a .csv or .parquet file", suffix or "no extension")
    except (OSError, ValueError, pd.errors.ParserError, pa.ArrowException) as exc:
        raise InputError(path, "(file)", f"a readable {suffix[1:]} table", str(exc)) from exc
    frame.attrs["columns"] = names
    return frame


def _int_column(path: Path, frame: pd.DataFrame, column: str, *, allow_empty: bool,
                low: int, high: int) -> pd.Series:
    """Integers in [low, high] (checked before the cast: an overflowing id must not wrap around)."""
    kind = "an integer" if not allow_empty else "an integer or empty"
    expected = f"{kind} between {low} and {high} in every row"
    _not_a_number_dtype(path, frame, column, expected)
    raw = frame[column]
    numeric = pd.to_numeric(raw, errors="coerce").astype("float64")
    bad = numeric.isna() & raw.notna() & (raw.astype("string").str.strip() != "")
    if not allow_empty:
        bad |= raw.isna()
    non_integral = numeric.notna() & (numeric != np.floor(numeric.fillna(0)))
    out_of_range = numeric.notna() & ((numeric < low) | (numeric > high))
    bad |= non_integral | out_of_range
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(path, column, expected, f"row {row + 2}: {raw.iloc[row]!r}")
    return numeric.astype("Int64") if allow_empty else numeric.astype("int64")


def _required(path: Path, frame: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InputError(path, missing[0], "a column of that name (required columns: "
                         + ", ".join(REQUIRED_COLUMNS) + ")", f"columns {columns[:20]}")
    if frame.empty:
        raise InputError(path, "track_id", "at least one track row", "an empty table")


def _track_ids(path: Path, frame: pd.DataFrame) -> pd.Series:
    ids = _int_column(path, frame, "track_id", allow_empty=False, low=-MAX_TRACK_ID, high=MAX_TRACK_ID)
    dupes = ids[ids.duplicated()]
    if not dupes.empty:
        raise InputError(path, "track_id", "unique values", f"duplicate track_id {int(dupes.iloc[0])}")
    return ids


def load_track_ids(path: str | Path) -> tuple[list[int], list[str]]:
    """The tracks file's track ids (validated as ``load_tracks`` validates them) and the columns
    ``load_tracks`` keeps, without reading the other columns: what ``collection-tree update`` compares
    with the last build."""
    path = Path(path)
    frame = _read_table(path, ["track_id"])
    columns = list(frame.attrs["columns"])
    _required(path, frame, columns)
    return sorted(_track_ids(path, frame).tolist()), [c for c in TRACK_COLUMNS if c in columns]


def load_tracks(path: str | Path) -> pd.DataFrame:
    """Read and validate the tracks file; list facets become Python lists, ``track_id`` the index order."""
    path = Path(path)
    frame = _read_table(path)
    _required(path, frame, list(frame.columns))

    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    out["track_id"] = _track_ids(path, frame)
    out["year"] = _int_column(path, frame, "year", allow_empty=True, low=YEAR_RANGE[0], high=YEAR_RANGE[1])
    for column in TEXT_COLUMNS:
        out[column] = frame[column].fillna("").astype(str)
    for column in LIST_FACETS:
        out[column] = _list_facet_column(path, frame, column)
    for column in OPTIONAL_NUMERIC:
        if column in frame.columns:
            _not_a_number_dtype(path, frame, column, "a number or empty")
            values = pd.to_numeric(frame[column], errors="coerce").astype("float64")
            bad = values.isna() & frame[column].notna() & (frame[column].astype("string").str.strip() != "")
            bad |= values.notna() & ~np.isfinite(values)
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise InputError(path, column, "a finite number or empty",
                                 f"row {row + 2}: {frame[column].iloc[row]!r}")
            out[column] = values
    for column in OPTIONAL_TEXT:
        if column in frame.columns:
            out[column] = frame[column].fillna("").astype(str)
    return out.sort_values("track_id", kind="stable").reset_index(drop=True)


def _stored_facets(values: list[Any]) -> list[list[str]]:
    """``split_facet`` of each value of a list column read back from Parquet (a list per cell from
    the store's IO manager, a numpy array per cell from ``pd.read_parquet``). The stored lists were
    cleaned on load (stripped, no blanks, no repeats): when every value of the column is still clean
    (checked over the column at once) they are taken as they are, at a fraction of cleaning them again
    (every phase reads the tracks back); a list with a repeat, or any column that is not clean, is
    cleaned value by value."""
    lists = [v if type(v) is list else v.tolist() if type(v) is np.ndarray else None for v in values]
    flat = [p for parts in lists if parts is not None for p in parts]
    if set(map(type, flat)) <= {str} and "" not in flat and [p.strip() for p in flat] == flat:
        return [parts if parts is not None and len(set(parts)) == len(parts) else split_facet(value)
                for parts, value in zip(lists, values, strict=True)]
    return [split_facet(v) for v in values]


# ``attrs`` key of a frame whose list facets are already Python lists, clean (``facets_read_back``). The
# mark names this process: pyarrow keeps a frame's attrs in a Parquet file it writes, and a mark read
# back from a file is not one this process made.
FACETS_READ_BACK = "collection_tree/facets_read_back"
_READ_BACK_HERE = uuid.uuid4().hex


def tracks_from_storage(frame: pd.DataFrame) -> pd.DataFrame:
    """A tracks frame read back from Parquet: list facets as Python lists again. A frame the store's
    reader prepared (``facets_read_back``) is taken as it is (a copy-on-write copy)."""
    present = [c for c in LIST_FACETS if c in frame.columns]
    if (present and frame.attrs.get(FACETS_READ_BACK) == [_READ_BACK_HERE, *present]
            and all(set(map(type, frame[c].tolist())) <= {list} for c in present)):
        return frame.copy(deep=False)
    frame = frame.copy()
    for column in present:
        frame[column] = _stored_facets(frame[column].tolist())
    frame.attrs.pop(FACETS_READ_BACK, None)
    return frame


def facets_read_back(frame: pd.DataFrame) -> pd.DataFrame:
    """``tracks_from_storage`` of a table as the store's reader loads it, once, marked so (``attrs``) that
    every step's ``tracks_from_storage`` of it (nine in a build, 0.6 s each at 300K tracks) takes it as
    it is. The mark belongs to the frame as read: a step that changes a list facet of its copy and
    reads it back again must drop it. A table without list facets is returned unchanged."""
    present = [c for c in LIST_FACETS if c in frame.columns]
    if not present:
        return frame
    read = tracks_from_storage(frame)
    read.attrs[FACETS_READ_BACK] = [_READ_BACK_HERE, *present]
    return read


# ------------------------------------------------------------------------------------------ trees
@dataclass
class TreeInput:
    """A validated genre or scene tree: the cleaned document plus what validation had to drop."""

    doc: dict[str, Any]
    path: str
    dropped_unknown_ids: int = 0
    warnings: list[str] = field(default_factory=list)
    filter_warnings: list[str] = field(default_factory=list)  # "<file>: node '<id>': ..." per filter problem

    @property
    def id(self) -> str:
        return self.doc["id"]

    @property
    def created_at(self) -> str:
        return self.doc["created_at"]

    @property
    def tree_type(self) -> str:
        return self.doc["tree_type"]


def _range_pair(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    if any(isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v) for v in value):
        return None
    return value[0], value[1]


def check_filters(filters: dict[str, Any], columns: set[str] | None) -> tuple[dict[str, Any], list[str]]:
    """A node's filters as the search uses them, and what had to change (DESIGN section 1: an unknown
    key is ignored with a warning). ``columns``: the tracks' columns (None: any contract column).

    Kept: value lists (a string or a list of strings) over list facets and text columns, and
    ``<numeric column>_range`` as ``[low, high]``. Dropped with a warning: keys naming no track column,
    ranges that are not two numbers (``"2000-2005"``), values that are not strings. A reversed range is
    kept in order, with a warning."""
    clean: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in filters.items():
        key = str(key)
        column = key[: -len("_range")] if key.endswith("_range") else key
        allowed = RANGE_COLUMNS if key.endswith("_range") else (*LIST_FACETS, *TEXT_FACETS)
        if column not in allowed or (columns is not None and column not in columns):
            known = sorted([*LIST_FACETS, *TEXT_FACETS, *(f"{c}_range" for c in RANGE_COLUMNS)])
            problems.append(f"filter {key!r} names no track column (known: {', '.join(known)}); ignored")
            continue
        if key.endswith("_range"):
            pair = _range_pair(value)
            if pair is None:
                problems.append(f"filter {key!r}: expected [low, high] with two numbers, got {value!r}; ignored")
                continue
            if pair[0] > pair[1]:
                problems.append(f"filter {key!r}: reversed range {list(pair)!r}, read as [{pair[1]}, {pair[0]}]")
                pair = (pair[1], pair[0])
            clean[key] = list(pair)
            continue
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            problems.append(f"filter {key!r}: expected a string or a list of strings, got {value!r}; ignored")
            continue
        clean[key] = values
    return clean, problems


def _check_node(path: Path, node: Any, where: str, known: set[int] | None, seen: set[str],
                report: TreeInput, depth: int = 1, columns: set[str] | None = None) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise InputError(path, where, "a node object", type(node).__name__)
    if depth > MAX_TREE_DEPTH:
        raise InputError(path, where.split(".children")[0] + ".children...", f"a tree at most {MAX_TREE_DEPTH} "
                         "levels deep", f"node {node.get('id')!r} at level {depth}")
    for key in ("id", "title"):
        if not isinstance(node.get(key), str) or not node[key].strip():
            raise InputError(path, f"{where}.{key}", "a non-empty string", node.get(key))
    node_id = node["id"]
    if node_id in seen:
        raise InputError(path, f"{where}.id", "ids unique within the tree", node_id)
    seen.add(node_id)
    here = f"{where}[id={node_id}]"
    children = node.get("children", [])
    if not isinstance(children, list):
        raise InputError(path, f"{here}.children", "a list of nodes ([] for a leaf)", children)
    track_ids = node.get("track_ids")
    # JSON gives plain ints: their types are checked at once (a bool, an int's subclass, is refused)
    if not isinstance(track_ids, list) or not set(map(type, track_ids)) <= {int}:
        raise InputError(path, f"{here}.track_ids", "a list of integer track ids", track_ids)
    filters = node.get("filters", {}) or {}
    if not isinstance(filters, dict):
        raise InputError(path, f"{here}.filters", "an object of facet -> values or ranges", filters)
    filters, problems = check_filters(filters, columns)
    report.filter_warnings += [f"{path}: node '{node_id}': {problem}" for problem in problems]
    description = node.get("description", "") or ""
    if not isinstance(description, str):
        raise InputError(path, f"{here}.description", "a string", description)
    ids = list(dict.fromkeys(track_ids))
    if known is not None:
        kept = [t for t in ids if t in known]
        dropped = len(ids) - len(kept)
        if dropped:
            report.dropped_unknown_ids += dropped
            report.warnings.append(f"{path}: node '{node_id}' names {dropped} unknown track id(s); dropped")
        ids = kept
    clean_children = [
        _check_node(path, child, f"{here}.children[{i}]", known, seen, report, depth + 1, columns)
        for i, child in enumerate(children)
    ]
    return {
        "id": node_id,
        "title": node["title"].strip(),
        "description": description,
        "filters": filters,
        "track_ids": sorted(ids),
        "children": clean_children,
    }


def load_tree(path: str | Path, tree_type: str, known_track_ids: set[int] | None = None,
              track_columns: set[str] | None = None) -> TreeInput:
    """Read and validate a genre or scene tree. Unknown track ids are dropped and counted; filter
    problems (keys naming none of ``track_columns``, malformed or reversed ranges) are fixed or dropped
    and listed in ``filter_warnings``, each naming the file and the node."""
    if tree_type not in TREE_TYPES:
        raise ValueError(f"tree_type must be one of {TREE_TYPES}")
    path = Path(path)
    if not path.exists():
        raise InputError(path, "path", f"an existing {tree_type} tree JSON file", "missing file")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(path, "(document)", "valid JSON",
                         f"{exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(path, "(document)", "UTF-8 text", str(exc)) from exc
    except RecursionError:
        raise InputError(path, "(document)", f"a tree at most {MAX_TREE_DEPTH} levels deep",
                         "JSON nested too deep to read") from None
    if not isinstance(doc, dict):
        raise InputError(path, "(document)", "a JSON object with id, tree_type, created_at, lineages",
                         type(doc).__name__)
    if doc.get("tree_type") != tree_type:
        raise InputError(path, "tree_type", f"'{tree_type}'", doc.get("tree_type"))
    for key in ("id", "created_at"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise InputError(path, key, "a non-empty string", doc.get(key))
    lineages = doc.get("lineages")
    if not isinstance(lineages, list):
        raise InputError(path, "lineages", "a list of root nodes", lineages)
    if not lineages:
        raise InputError(path, "lineages", "at least one lineage (the tree is empty)", [])
    report = TreeInput(doc={}, path=str(path))
    seen: set[str] = set()
    clean = [
        _check_node(path, node, f"lineages[{i}]", known_track_ids, seen, report, columns=track_columns)
        for i, node in enumerate(lineages)
    ]
    report.doc = {"id": doc["id"], "tree_type": tree_type, "created_at": doc["created_at"],
                  "lineages": clean}
    if not any(leaf["track_ids"] for leaf in collect_leaves(report.doc)):
        raise InputError(path, "lineages", "at least one leaf with known tracks (the tree is empty)",
                         f"{len(collect_leaves(report.doc))} leaves, none with tracks")
    return report


def collect_leaves(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every leaf (a node without children), depth first, with its lineage path of titles."""
    leaves: list[dict[str, Any]] = []

    def walk(node: dict[str, Any], lineage: list[str]) -> None:
        path = [*lineage, node["title"]]
        if not node["children"]:
            leaves.append({**node, "lineage": path})
            return
        for child in node["children"]:
            walk(child, path)

    for root in doc["lineages"]:
        walk(root, [])
    return leaves


# ----------------------------------------------------------------------------------------- config
def load_config(path: str | Path | None) -> dict[str, Any]:
    """The optional config.json: ``creative_model`` / ``mechanical_model`` overrides (strings); any other
    key is an error listing the valid ones."""
    if path is None or str(path) == "":
        return {}
    path = Path(path)
    if not path.exists():
        raise InputError(path, "path", "an existing config.json (or leave COLLECTION_TREE_CONFIG unset)",
                         "missing file")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(path, "(document)", "valid JSON",
                         f"{exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(config, dict):
        raise InputError(path, "(document)", "a JSON object", type(config).__name__)
    for key in config:
        if key not in CONFIG_KEYS:  # a misspelt key would otherwise be ignored without a word
            raise InputError(path, key, "one of the keys " + ", ".join(CONFIG_KEYS), "an unknown key")
    for key in CONFIG_KEYS:
        if key in config and (not isinstance(config[key], str) or not config[key].strip()):
            raise InputError(path, key, "a non-empty model name string", config[key])
    return config
