"""Phase 1: genre leaf x scene leaf intersections with at least ``min_tracks`` shared tracks.

The reference walks all G x S leaf pairs and intersects Python sets. Here every (leaf, track)
membership becomes one row; joining genre and scene memberships on the track gives exactly the
pairs that share a track, so the work is proportional to the memberships, not to G x S.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from collection_tree.core.inputs import collect_leaves
from collection_tree.core.search import merge_filters

Progress = Callable[[float, str], None]

SEED_COLUMNS = (
    "id", "track_count", "track_ids", "genre_leaf_id", "scene_leaf_id", "genre_title", "scene_title",
    "genre_description", "scene_description", "genre_lineage", "scene_lineage", "genre_filters",
    "scene_filters", "filters",
)


def leaf_memberships(leaves: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(leaf position, track id) for every membership, as two int64 arrays."""
    sizes = np.fromiter((len(leaf["track_ids"]) for leaf in leaves), dtype=np.int64, count=len(leaves))
    leaf_pos = np.repeat(np.arange(len(leaves), dtype=np.int64), sizes)
    tracks = np.fromiter((t for leaf in leaves for t in leaf["track_ids"]), dtype=np.int64,
                         count=int(sizes.sum()))
    return leaf_pos, tracks


def intersect_leaves(
    genre_pos: np.ndarray, genre_tracks: np.ndarray, scene_pos: np.ndarray, scene_tracks: np.ndarray,
    n_scene: int, min_tracks: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs sharing >= min_tracks tracks: (genre pos, scene pos, offsets, sorted track ids).

    Offsets delimit each pair's track ids in the flat array (pair i: values[offsets[i]:offsets[i+1]])."""
    g = pd.DataFrame({"g": genre_pos, "t": genre_tracks}).drop_duplicates()
    s = pd.DataFrame({"s": scene_pos, "t": scene_tracks}).drop_duplicates()
    joined = g.merge(s, on="t", how="inner", sort=False)
    pair = joined["g"].to_numpy() * np.int64(n_scene) + joined["s"].to_numpy()
    track = joined["t"].to_numpy()
    order = np.lexsort((track, pair))
    pair, track = pair[order], track[order]
    codes, starts, counts = np.unique(pair, return_index=True, return_counts=True)
    keep = counts >= min_tracks
    codes, starts, counts = codes[keep], starts[keep], counts[keep]
    # Gather the kept pairs' runs into one flat array without a Python loop.
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    run_start = np.repeat(starts - offsets[:-1], counts)
    values = track[run_start + np.arange(offsets[-1], dtype=np.int64)]
    return codes // n_scene, codes % n_scene, offsets, values


def build_seed_clusters(
    genre_tree: dict[str, Any],
    scene_tree: dict[str, Any],
    min_tracks: int = 5,
    max_seeds: int | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """The seed cluster table (one row per kept pair), sorted by track count desc, then id.

    ``max_seeds`` keeps only the first N rows (test mode: the top 20)."""
    if min_tracks < 1:
        raise ValueError("min_tracks must be >= 1")
    report = progress or (lambda _p, _m: None)
    genre_leaves = collect_leaves(genre_tree)
    scene_leaves = collect_leaves(scene_tree)
    report(0.1, f"{len(genre_leaves)} genre leaves x {len(scene_leaves)} scene leaves")
    gp, gt = leaf_memberships(genre_leaves)
    sp, st = leaf_memberships(scene_leaves)
    g_idx, s_idx, offsets, values = intersect_leaves(gp, gt, sp, st, max(len(scene_leaves), 1), min_tracks)
    counts = np.diff(offsets)
    report(0.7, f"{len(counts)} pairs share >= {min_tracks} tracks")

    genre_ids = np.array([leaf["id"] for leaf in genre_leaves], dtype=object)
    scene_ids = np.array([leaf["id"] for leaf in scene_leaves], dtype=object)
    ids = genre_ids[g_idx] + "__" + scene_ids[s_idx] if len(g_idx) else np.array([], dtype=object)
    order = np.lexsort((ids.astype(str), -counts)) if len(ids) else np.array([], dtype=np.int64)
    if max_seeds is not None:
        order = order[:max_seeds]

    # Reorder the flat track-id runs into the sorted row order.
    new_counts = counts[order]
    new_offsets = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(new_counts, out=new_offsets[1:])
    gather = np.repeat(offsets[:-1][order] - new_offsets[:-1], new_counts) + np.arange(
        new_offsets[-1], dtype=np.int64)
    track_lists = pa.ListArray.from_arrays(pa.array(new_offsets, pa.int32() if new_offsets[-1] < 2**31
                                                    else pa.int64()), pa.array(values[gather]))
    if track_lists.type != pa.list_(pa.int64()):
        track_lists = track_lists.cast(pa.list_(pa.int64()))

    g_sel, s_sel = g_idx[order], s_idx[order]
    frame = pd.DataFrame({
        "id": ids[order].astype(str) if len(order) else np.array([], dtype=str),
        "track_count": new_counts.astype(np.int64),
        "track_ids": pd.arrays.ArrowExtensionArray(track_lists),
        "genre_leaf_id": genre_ids[g_sel].astype(str) if len(order) else [],
        "scene_leaf_id": scene_ids[s_sel].astype(str) if len(order) else [],
    })
    frame = _attach_contexts(frame, g_sel, s_sel, genre_leaves, scene_leaves)
    report(1.0, f"{len(frame)} seed clusters")
    return frame


def _attach_contexts(frame: pd.DataFrame, g_sel: np.ndarray, s_sel: np.ndarray,
                     genre_leaves: list[dict[str, Any]], scene_leaves: list[dict[str, Any]]) -> pd.DataFrame:
    """Leaf titles, descriptions, lineages and filters, looked up per distinct leaf (not per row)."""
    for prefix, leaves, sel in (("genre", genre_leaves, g_sel), ("scene", scene_leaves, s_sel)):
        title = np.array([leaf["title"] for leaf in leaves] or [""], dtype=object)
        desc = np.array([leaf["description"] for leaf in leaves] or [""], dtype=object)
        lineage = np.array([" > ".join(leaf["lineage"]) for leaf in leaves] or [""], dtype=object)
        filt = np.array([json.dumps(leaf["filters"], sort_keys=True) for leaf in leaves] or ["{}"],
                        dtype=object)
        frame[f"{prefix}_title"] = title[sel].astype(str) if len(sel) else []
        frame[f"{prefix}_description"] = desc[sel].astype(str) if len(sel) else []
        frame[f"{prefix}_lineage"] = lineage[sel].astype(str) if len(sel) else []
        frame[f"{prefix}_filters"] = filt[sel].astype(str) if len(sel) else []
    # Merged filters: computed once per distinct (genre, scene) pair of leaves, which is each row.
    pairs = pd.DataFrame({"g": g_sel, "s": s_sel})
    merged = {}
    for g, s in pairs.drop_duplicates().itertuples(index=False):
        merged[(g, s)] = json.dumps(merge_filters(genre_leaves[g]["filters"], scene_leaves[s]["filters"]),
                                    sort_keys=True)
    frame["filters"] = [merged[(g, s)] for g, s in zip(g_sel.tolist(), s_sel.tolist(), strict=True)]
    return frame[list(SEED_COLUMNS)]
