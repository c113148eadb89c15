"""Ungrouped tracks and why: the tree names them (``ungrouped_track_ids``); the reasons live in the
``unplaced`` lists ([{track_id, reason}]) of the phases' stored ClusterSets."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
from upath import UPath

from collection_tree.exports import TrackColumns

log = logging.getLogger(__name__)

NOT_RECORDED = "reason not recorded"
# Latest phase first: its reason is the one that left the track out of the final tree.
CLUSTER_SET_DOCS = ("collection_leaves.json", "refined_clusters.json", "assigned_clusters.json")


def unplaced_reasons(store: str | Path) -> dict[int, str]:
    """Track id -> reason, from whichever stored ClusterSets exist in the store (a path or a URL;
    a missing or unreadable one is skipped: reasons are an explanation, not a requirement)."""
    reasons: dict[int, str] = {}
    for name in CLUSTER_SET_DOCS:
        path = UPath(store) / name
        if not path.exists():
            continue
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("%s: could not read unplaced reasons (%s)", path, exc)
            continue
        for track_id, reason in reasons_of(doc).items():
            reasons.setdefault(track_id, reason)
    return reasons


def reasons_of(cluster_set: Any) -> dict[int, str]:
    """Track id -> reason from one ClusterSet's ``unplaced`` list (its dict form or the object)."""
    unplaced = cluster_set.get("unplaced", []) if isinstance(cluster_set, dict) else cluster_set.unplaced
    reasons: dict[int, str] = {}
    try:
        for item in unplaced or []:
            reason = str(item.get("reason") or "").strip()
            if reason:
                reasons.setdefault(int(item["track_id"]), reason)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        log.warning("could not read unplaced reasons (%s)", exc)
    return reasons


def ungrouped_tracks(tree: dict[str, Any], tracks: pd.DataFrame, reasons: dict[int, str]) -> list[dict[str, Any]]:
    """One record per ungrouped track: ``track_id``, ``artist``, ``title``, ``reason``: the tree's own
    ``ungrouped_reasons`` first (an update's and the overrides' reasons are only there), then
    ``reasons`` (the stored phases', for a tree written before the tree carried them)."""
    reasons = {**reasons, **reasons_of({"unplaced": tree.get("ungrouped_reasons") or []})}
    table = TrackColumns(tracks)
    rows = []
    for raw in tree.get("ungrouped_track_ids", []) or []:
        track_id = int(raw)
        track = table.record(track_id, ("artist", "title")) if track_id in table.row else {}
        rows.append({"track_id": track_id, "artist": str(track.get("artist", "") or ""),
                     "title": str(track.get("title", "") or "(not in the tracks table)"),
                     "reason": reasons.get(track_id, NOT_RECORDED)})
    return rows
