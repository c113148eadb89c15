"""Outputs people use, made from the Collection Tree JSON (DESIGN section 5) and the tracks table:
M3U8 playlists, a Rekordbox XML, an HTML browser, the metadata-suggestion review table, the
ungrouped-track list. Pure functions (no Dagster); this module holds what they share: reading the
tree, finding nodes, the track order of a leaf."""

from __future__ import annotations

import json
from collections.abc import Iterator
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


def find_node(tree: dict[str, Any], node_id: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``(category, None)`` for a category id, ``(category, leaf)`` for a leaf id."""
    for category in tree.get("categories", []):
        if category.get("id") == node_id:
            return category, None
    for category, leaf in iter_leaves(tree):
        if leaf.get("id") == node_id:
            return category, leaf
    raise ExportError(f"unknown node id {node_id!r}: expected a category or leaf id of the collection tree "
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
    """Track records by ``track_id``."""
    return {int(row["track_id"]): row for row in tracks.to_dict("records")}


def _key(text: Any) -> str:
    return " ".join(str(text or "").split()).casefold()


def ordered_track_ids(leaf: dict[str, Any], index: dict[int, dict[str, Any]]) -> list[int]:
    """The leaf's known tracks, exemplars first (in their order), then the rest in leaf order.

    Examples carry ``title``/``artist``/``year`` (a ``track_id`` when present wins); they are
    matched to the leaf's own tracks, never to tracks outside it."""
    ids = [int(t) for t in leaf.get("track_ids", []) if int(t) in index]
    by_name: dict[tuple[str, str], list[int]] = {}
    for t in ids:
        by_name.setdefault((_key(index[t].get("artist")), _key(index[t].get("title"))), []).append(t)
    first: list[int] = []
    for example in leaf.get("examples", []) or []:
        if not isinstance(example, dict):
            continue
        wanted = example.get("track_id")
        if wanted is None:
            candidates = by_name.get((_key(example.get("artist")), _key(example.get("title"))), [])
            wanted = next((t for t in candidates if t not in first), None)
        if wanted is not None and int(wanted) in ids and int(wanted) not in first:
            first.append(int(wanted))
    chosen = set(first)
    return first + [t for t in ids if t not in chosen]
