"""A user's edits that survive rebuilds (issue 15 part 4): ``overrides.json``, applied to the Collection
Tree JSON after the LLM and before the exports, on full and incremental builds alike. Pure.

Schema (every key optional; ids are the tree's leaf/category ids, which ``phases/identity.py`` keeps
stable across builds)::

    {
      "rename_leaves":     {"<leaf id>": "<title>"},
      "rename_categories": {"<category id>": "<title>"},
      "pin_tracks":        {"<track id>": "<leaf id>"},
      "exclude_tracks":    ["<track id>", ...],
      "lock_leaves":       ["<leaf id>", ...],
      "move_leaves":       {"<leaf id>": "<category id>"}
    }

``load_overrides(path)`` validates with ``jsonschema`` (``OverridesError`` names the file, the entry,
the field and what was expected; a missing file is no overrides). ``apply_overrides(tree, overrides)``
returns ``(tree, OverridesReport)``: what it applied and what no longer applies (an id the tree no
longer has). ``locked_leaves(overrides)`` is the set phase 4 must neither split, merge nor rename.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema

from collection_tree.core.report import PhaseReport

_ID = {"type": "string", "minLength": 1}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "rename_leaves": {"type": "object", "additionalProperties": _ID},
        "rename_categories": {"type": "object", "additionalProperties": _ID},
        "pin_tracks": {"type": "object", "additionalProperties": _ID},
        "exclude_tracks": {"type": "array", "items": _ID, "uniqueItems": True},
        "lock_leaves": {"type": "array", "items": _ID, "uniqueItems": True},
        "move_leaves": {"type": "object", "additionalProperties": _ID},
    },
}


class OverridesError(ValueError):
    """``overrides.json`` is not valid (the message names the file, entry, field and expectation)."""


@dataclasses.dataclass(frozen=True)
class OverridesReport(PhaseReport):
    applied: list[str]
    stale: list[str]


def validate_overrides(data: Any, source: str = "overrides.json") -> dict[str, Any]:
    errors = sorted(jsonschema.Draft202012Validator(SCHEMA).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        error = errors[0]
        where = "/".join(str(part) for part in error.path) or "(top level)"
        raise OverridesError(f"{source}: entry {where!r}: {error.message} (expected: "
                             f"{json.dumps(error.schema, sort_keys=True)})")
    return dict(data)


def load_overrides(path: str | Path) -> dict[str, Any]:
    file = Path(path)
    if not file.exists():
        return {}
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise OverridesError(f"{file}: not JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    return validate_overrides(data, str(file))


def locked_leaves(overrides: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(overrides.get("lock_leaves", []))


def _recount(tree: dict[str, Any]) -> None:
    assigned = 0
    for category in tree["categories"]:
        tracks: list[Any] = []
        for leaf in category["leaves"]:
            leaf["track_count"] = len(leaf["track_ids"])
            tracks.extend(leaf["track_ids"])
        category["track_ids"], category["track_count"] = tracks, len(tracks)
        assigned += len(tracks)
    if "assigned_tracks" in tree:
        tree["assigned_tracks"] = assigned


def _take_track(tree: dict[str, Any], track: str) -> Any | None:
    """Remove ``track`` from its leaf or the ungrouped list; return the id as the tree spelled it."""
    for category in tree["categories"]:
        for leaf in category["leaves"]:
            for value in leaf["track_ids"]:
                if str(value) == track:
                    leaf["track_ids"] = [t for t in leaf["track_ids"] if str(t) != track]
                    if isinstance(leaf.get("order"), list):
                        leaf["order"] = [t for t in leaf["order"] if str(t) != track]
                    return value
    ungrouped = tree.get("ungrouped_track_ids", [])
    for value in ungrouped:
        if str(value) == track:
            tree["ungrouped_track_ids"] = [t for t in ungrouped if str(t) != track]
            return value
    return None


def apply_overrides(tree: Mapping[str, Any], overrides: Mapping[str, Any]) -> tuple[dict[str, Any], OverridesReport]:
    out = copy.deepcopy(dict(tree))
    applied: list[str] = []
    stale: list[str] = []
    leaves = {leaf["id"]: leaf for c in out["categories"] for leaf in c["leaves"]}
    categories = {c["id"]: c for c in out["categories"]}

    for track in overrides.get("exclude_tracks", []):
        value = _take_track(out, track)
        if value is None:
            stale.append(f"exclude track {track}: not in this build")
        else:
            out.setdefault("ungrouped_track_ids", []).append(value)
            applied.append(f"exclude track {track}")
    for track, leaf_id in overrides.get("pin_tracks", {}).items():
        if leaf_id not in leaves:
            stale.append(f"pin track {track} to {leaf_id}: no such leaf")
            continue
        value = _take_track(out, track)
        if value is None:
            stale.append(f"pin track {track} to {leaf_id}: track not in this build")
            continue
        leaves[leaf_id]["track_ids"].append(value)
        if isinstance(leaves[leaf_id].get("order"), list):
            leaves[leaf_id]["order"].append(value)
        applied.append(f"pin track {track} to {leaf_id}")
    for leaf_id, title in overrides.get("rename_leaves", {}).items():
        if leaf_id in leaves:
            leaves[leaf_id]["title"] = title
            applied.append(f"rename leaf {leaf_id} to {title!r}")
        else:
            stale.append(f"rename leaf {leaf_id}: no such leaf")
    for category_id, title in overrides.get("rename_categories", {}).items():
        if category_id in categories:
            categories[category_id]["title"] = title
            applied.append(f"rename category {category_id} to {title!r}")
        else:
            stale.append(f"rename category {category_id}: no such category")
    for leaf_id, category_id in overrides.get("move_leaves", {}).items():
        if leaf_id not in leaves or category_id not in categories:
            stale.append(f"move leaf {leaf_id} to {category_id}: no such leaf or category")
            continue
        source = next(c for c in out["categories"] if any(leaf["id"] == leaf_id for leaf in c["leaves"]))
        if source is not categories[category_id]:
            source["leaves"] = [leaf for leaf in source["leaves"] if leaf["id"] != leaf_id]
            for section in source.get("sections", []) or []:
                section["leaf_ids"] = [key for key in section["leaf_ids"] if key != leaf_id]
            if "sections" in source:
                source["sections"] = [s for s in source["sections"] if s["leaf_ids"]]
            target = categories[category_id]
            target["leaves"].append(leaves[leaf_id])
            if target.get("sections"):
                target["sections"][-1]["leaf_ids"].append(leaf_id)
        applied.append(f"move leaf {leaf_id} to {category_id}")
    for leaf_id in overrides.get("lock_leaves", []):
        (applied if leaf_id in leaves else stale).append(f"lock leaf {leaf_id}" + ("" if leaf_id in leaves
                                                                                     else ": no such leaf"))
    out["categories"] = [c for c in out["categories"] if c["leaves"]]
    _recount(out)
    return out, OverridesReport(applied=applied, stale=stale)
