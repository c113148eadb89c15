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
longer has). Given the previous build's tree, a locked leaf is held to it: its title and tracks come
back even when the new build split, merged or renamed it (``_lock``).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema

from collection_tree.core.json_text import copy_document
from collection_tree.core.report import PhaseReport

EXCLUDED_REASON = "excluded by the user (overrides.json exclude_tracks)"
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


def _drop_empty_leaves(tree: dict[str, Any]) -> None:
    """Leaves the overrides emptied go, sections and categories that held only them too."""
    for category in tree["categories"]:
        gone = {leaf["id"] for leaf in category["leaves"] if not leaf["track_ids"]}
        category["leaves"] = [leaf for leaf in category["leaves"] if leaf["id"] not in gone]
        if "sections" in category:
            for section in category["sections"]:
                section["leaf_ids"] = [key for key in section["leaf_ids"] if key not in gone]
            category["sections"] = [section for section in category["sections"] if section["leaf_ids"]]
            if len(category["sections"]) < 2:  # one section is no sectioning (the schema wants two or more)
                del category["sections"]
    tree["categories"] = [c for c in tree["categories"] if c["leaves"]]


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
    # An excluded track joins the ungrouped ones in id order, as the schema wants them.
    if "ungrouped_track_ids" in tree:
        tree["ungrouped_track_ids"] = sorted(tree["ungrouped_track_ids"], key=_id_order)
    if "ungrouped_reasons" in tree:
        tree["ungrouped_reasons"] = sorted(tree["ungrouped_reasons"], key=lambda r: _id_order(r.get("track_id")))


def _id_order(value: Any) -> tuple[int, Any]:
    """Numbers in numeric order; anything else (a malformed tree) after them, as text."""
    return (0, value) if type(value) is int else (1, str(value))


def _take_track(tree: dict[str, Any], track: str) -> tuple[Any | None, list[dict[str, Any]]]:
    """Remove ``track`` from its leaf (its order, exemplars and suggestions too) or from the ungrouped
    list; return the id as the tree spelled it (None: not in the tree) and its suggestions, which
    travel with it."""
    for category in tree["categories"]:
        for leaf in category["leaves"]:
            for value in leaf["track_ids"]:
                if str(value) == track:
                    leaf["track_ids"] = [t for t in leaf["track_ids"] if str(t) != track]
                    if isinstance(leaf.get("order"), list):
                        leaf["order"] = [t for t in leaf["order"] if str(t) != track]
                    if isinstance(leaf.get("examples"), list):
                        leaf["examples"] = [e for e in leaf["examples"] if str(e.get("track_id")) != track]
                    suggestions = [s for s in leaf.get("metadata_suggestions") or [] if str(s.get("track_id")) == track]
                    if suggestions:
                        leaf["metadata_suggestions"] = [s for s in leaf["metadata_suggestions"]
                                                        if str(s.get("track_id")) != track]
                    return value, suggestions
    ungrouped = tree.get("ungrouped_track_ids", [])
    for value in ungrouped:
        if str(value) == track:
            tree["ungrouped_track_ids"] = [t for t in ungrouped if str(t) != track]
            if "ungrouped_reasons" in tree:
                tree["ungrouped_reasons"] = [r for r in tree["ungrouped_reasons"] if str(r.get("track_id")) != track]
            return value, []
    return None, []


def _put_track(leaf: dict[str, Any], value: Any, suggestions: list[dict[str, Any]]) -> None:
    leaf["track_ids"].append(value)
    if isinstance(leaf.get("order"), list):
        leaf["order"].append(value)
    if suggestions and isinstance(leaf.get("metadata_suggestions"), list):
        leaf["metadata_suggestions"].extend(suggestions)


def _lock(out: dict[str, Any], previous: Mapping[str, Any] | None, leaf_id: str,
          keep_out: set[str]) -> tuple[bool, str]:
    """Hold a locked leaf to the previous build's: its title and every one of its tracks still in the
    collection (``keep_out``: tracks the user excluded or pinned elsewhere); tracks of other previous
    leaves the new build put into it (a merge) go back to the leaf that holds most of their old
    leaf-mates; a leaf the new build split or merged away is rebuilt from the previous one. New
    tracks may join a locked leaf. Returns (applied, what it did)."""
    leaves = {leaf["id"]: leaf for c in out["categories"] for leaf in c["leaves"]}
    before = {leaf["id"]: leaf for c in (previous or {}).get("categories", []) for leaf in c["leaves"]}
    if leaf_id not in before:
        if leaf_id in leaves:
            return True, f"lock leaf {leaf_id} (no previous build of it: kept as built)"
        return False, f"lock leaf {leaf_id}: no such leaf"
    old = before[leaf_id]
    leaf = leaves.get(leaf_id)
    if leaf is None:  # split or merged away: rebuild it where most of its tracks are now
        where: dict[int, int] = {}
        frozen = {str(t) for t in old["track_ids"]}
        for index, category in enumerate(out["categories"]):
            where[index] = sum(str(t) in frozen for lf in category["leaves"] for t in lf["track_ids"])
        category = out["categories"][max(where, key=lambda i: (where[i], -i))] if out["categories"] else None
        if category is None:
            return False, f"lock leaf {leaf_id}: no category to hold it"
        leaf = {**copy.deepcopy(dict(old)), "track_ids": [], "examples": [], "metadata_suggestions": []}
        if isinstance(old.get("order"), list):
            leaf["order"] = []
        leaf.pop("transitions", None)  # measured on the old order; the rebuilt one has none yet
        category["leaves"].append(leaf)
        if category.get("sections"):
            category["sections"][-1]["leaf_ids"].append(leaf_id)
        leaves[leaf_id] = leaf
    previous_leaf_of = {str(t): lf["id"] for lf in before.values() for t in lf["track_ids"]}
    sent_back = 0
    for value in list(leaf["track_ids"]):
        came_from = previous_leaf_of.get(str(value))
        if came_from is None or came_from == leaf_id:
            continue  # a new track, or one of its own
        mates = {str(t) for t in before[came_from]["track_ids"]}
        counts = {key: sum(str(t) in mates for t in lf["track_ids"]) for key, lf in leaves.items() if key != leaf_id}
        home = max(counts, key=lambda key: (counts[key], key), default=None)
        if home is not None and counts[home] > 0:
            taken, suggestions = _take_track(out, str(value))
            _put_track(leaves[home], taken, suggestions)
            sent_back += 1
    brought_back = 0
    mine = {str(t) for t in leaf["track_ids"]}
    for value in old["track_ids"]:
        track = str(value)
        if track in mine or track in keep_out:
            continue
        taken, suggestions = _take_track(out, track)
        if taken is not None:  # still in the collection
            _put_track(leaf, taken, suggestions)
            brought_back += 1
    leaf["title"] = old["title"]
    return True, f"lock leaf {leaf_id}: {brought_back} track(s) brought back, {sent_back} sent back to their leaves"


def apply_overrides(tree: Mapping[str, Any], overrides: Mapping[str, Any],
                    previous: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], OverridesReport]:
    """``previous``: the last build's tree, which locked leaves are held to."""
    if not any(overrides.get(key) for key in SCHEMA["properties"]):  # nothing to apply: no copy of a big tree
        return dict(tree), OverridesReport(applied=[], stale=[])
    out = copy_document(dict(tree))
    applied: list[str] = []
    stale: list[str] = []

    for track in overrides.get("exclude_tracks", []):
        value, _ = _take_track(out, track)  # an excluded track's suggestions go with it
        if value is None:
            stale.append(f"exclude track {track}: not in this build")
        else:
            out.setdefault("ungrouped_track_ids", []).append(value)
            out.setdefault("ungrouped_reasons", []).append({"track_id": value, "reason": EXCLUDED_REASON})
            applied.append(f"exclude track {track}")
    # Locks before pins: a pin names one track, so it wins over the lock of the leaf it leaves.
    keep_out = set(overrides.get("exclude_tracks", [])) | set(overrides.get("pin_tracks", {}))
    for leaf_id in overrides.get("lock_leaves", []):
        done, line = _lock(out, previous, leaf_id, keep_out)
        (applied if done else stale).append(line)
    leaves = {leaf["id"]: leaf for c in out["categories"] for leaf in c["leaves"]}
    categories = {c["id"]: c for c in out["categories"]}
    for track, leaf_id in overrides.get("pin_tracks", {}).items():
        if leaf_id not in leaves:
            stale.append(f"pin track {track} to {leaf_id}: no such leaf")
            continue
        value, suggestions = _take_track(out, track)
        if value is None:
            stale.append(f"pin track {track} to {leaf_id}: track not in this build")
            continue
        _put_track(leaves[leaf_id], value, suggestions)
        applied.append(f"pin track {track} to {leaf_id}")
    for what, found, renames in (("leaf", leaves, overrides.get("rename_leaves", {})),
                                 ("category", categories, overrides.get("rename_categories", {}))):
        for key, title in renames.items():
            if key in found:
                found[key]["title"] = title
                applied.append(f"rename {what} {key} to {title!r}")
            else:
                stale.append(f"rename {what} {key}: no such {what}")
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
    _drop_empty_leaves(out)
    _recount(out)
    return out, OverridesReport(applied=applied, stale=stale)
