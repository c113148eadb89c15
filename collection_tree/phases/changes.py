"""The build-to-build diff (issue 15 part 3), pure, on two Collection Tree JSON dicts whose leaf ids were
carried by ``phases/identity.carry_identity`` (so equal ids mean the same leaf).

``diff_trees(previous, current)`` -> a JSON-ready dict: ``added`` / ``removed`` leaf ids, ``renamed``
(``{"id", "from", "to"}``), ``merged`` (a leaf taking at least ``PART_SHARE`` of its tracks from each of
two or more old leaves: ``{"into", "from": [...]}``; the kept id may be one of them), ``split`` (an old
leaf whose tracks went in shares of at least ``PART_SHARE`` to two or more leaves: ``{"from", "into":
[...]}``), ``moved`` tracks (``{"track_id", "from", "to"}``, ``None`` for ungrouped/absent) and counts.
A first build (no ``previous``) adds every leaf and moves no track: there is no placement to move from
(at 1M tracks, listing each as moved from nothing was a 121 MB ``changes.json`` saying nothing).
``markdown(changes)`` renders the summary table for asset metadata; ``write_changes(path, changes)``
writes ``changes.json`` atomically.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from collection_tree.core.atomic import atomic_write_json

# A leaf counts as a merge/split part when it gives/takes at least this share of the other's tracks.
PART_SHARE = 0.25


def _leaves(tree: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {leaf["id"]: leaf for category in tree.get("categories", []) for leaf in category.get("leaves", [])}


def _placement(leaves: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    return {track: key for key, leaf in leaves.items() for track in leaf["track_ids"]}


def _fed_by_several(leaves: Mapping[str, Any], flows: Counter[tuple[str, str]],
                    side: int) -> list[tuple[str, list[str]]]:
    """Each leaf of ``leaves`` (the ``side`` of the (previous, current) flows it sits on) with the two or
    more leaves of the other side that each carry at least ``PART_SHARE`` of its tracks."""
    partners: dict[str, list[tuple[str, int]]] = defaultdict(list)  # one pass over the flows, not one per leaf
    for pair, n in flows.items():
        partners[pair[side]].append((pair[1 - side], n))
    out = []
    for key in sorted(leaves):
        size = len(leaves[key]["track_ids"])
        others = sorted(other for other, n in partners.get(key, ()) if size and n / size >= PART_SHARE)
        if len(others) >= 2:
            out.append((key, others))
    return out


def diff_trees(previous: Mapping[str, Any] | None, current: Mapping[str, Any]) -> dict[str, Any]:
    prev_leaves = _leaves(previous or {})
    cur_leaves = _leaves(current)
    prev_place, cur_place = _placement(prev_leaves), _placement(cur_leaves)
    added = sorted(set(cur_leaves) - set(prev_leaves))
    removed = sorted(set(prev_leaves) - set(cur_leaves))
    renamed = [{"id": key, "from": prev_leaves[key]["title"], "to": cur_leaves[key]["title"]}
               for key in sorted(set(prev_leaves) & set(cur_leaves))
               if prev_leaves[key]["title"] != cur_leaves[key]["title"]]
    flows: Counter[tuple[str, str]] = Counter(
        (prev_place[track], cur_place[track]) for track in prev_place.keys() & cur_place.keys())
    merged = [{"into": key, "from": sources} for key, sources in _fed_by_several(cur_leaves, flows, side=1)]
    split = [{"from": key, "into": targets} for key, targets in _fed_by_several(prev_leaves, flows, side=0)]
    moved = [{"track_id": track, "from": prev_place.get(track), "to": cur_place.get(track)}
             for track in sorted(prev_place.keys() | cur_place.keys())
             if prev_place.get(track) != cur_place.get(track)] if previous is not None else []
    return {
        "previous_id": (previous or {}).get("id"), "current_id": current.get("id"),
        "added": added, "removed": removed, "renamed": renamed, "merged": merged, "split": split,
        "moved": moved,
        "counts": {"added": len(added), "removed": len(removed), "renamed": len(renamed),
                   "merged": len(merged), "split": len(split), "moved": len(moved)},
    }


def markdown(changes: Mapping[str, Any]) -> str:
    rows = ["| change | count | examples |", "|---|---|---|"]
    examples = {
        "added": changes["added"], "removed": changes["removed"],
        "renamed": [f"{r['from']} -> {r['to']}" for r in changes["renamed"]],
        "merged": [f"{'+'.join(r['from'])} -> {r['into']}" for r in changes["merged"]],
        "split": [f"{r['from']} -> {'+'.join(r['into'])}" for r in changes["split"]],
        "moved": [f"{r['track_id']}: {r['from']} -> {r['to']}" for r in changes["moved"]],
    }
    for kind, items in examples.items():
        shown = ", ".join(str(item) for item in items[:5]) + (" ..." if len(items) > 5 else "")
        rows.append(f"| {kind} | {len(items)} | {shown.replace('|', '/')} |")
    return "\n".join(rows)


def write_changes(path: str | Path, changes: Mapping[str, Any]) -> Path:
    """Write ``changes.json`` atomically (a reader never sees half a file)."""
    return atomic_write_json(path, dict(changes))
