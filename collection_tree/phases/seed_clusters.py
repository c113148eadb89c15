"""Phase 1: genre leaf x scene leaf intersections with at least ``min_tracks`` shared tracks.

The reference walks all G x S leaf pairs and intersects Python sets. Here every (leaf, track)
membership becomes one row; joining genre and scene memberships on the track gives exactly the
pairs that share a track, so the work is proportional to the memberships, not to G x S.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa

from collection_tree.core.inputs import collect_leaves
from collection_tree.core.search import merge_filters
from collection_tree.phases.common import PhaseParams, param

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class SeedParams(PhaseParams):
    min_tracks: int = param(5, "Keep genre x scene pairs sharing at least this many tracks")

    PHASE: ClassVar[str] = "seed clusters"

    def validate(self) -> None:
        self.require_at_least(1, "min_tracks")

SEED_COLUMNS = (
    "id", "track_count", "track_ids", "genre_leaf_id", "scene_leaf_id", "genre_title", "scene_title",
    "genre_description", "scene_description", "genre_lineage", "scene_lineage", "genre_filters",
    "scene_filters", "filters",
)


def leaf_memberships(leaves: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(leaf position, track id) for every distinct membership, sorted by track then leaf."""
    sizes = np.fromiter((len(leaf["track_ids"]) for leaf in leaves), dtype=np.int64, count=len(leaves))
    leaf_pos = np.repeat(np.arange(len(leaves), dtype=np.int64), sizes)
    tracks = np.array(list(chain.from_iterable(leaf["track_ids"] for leaf in leaves)), dtype=np.int64)
    order = np.argsort(tracks, kind="stable")  # stable: leaves stay in order within a track
    leaf_pos, tracks = leaf_pos[order], tracks[order]
    distinct = np.ones(len(tracks), dtype=bool)  # a leaf may list a track twice
    distinct[1:] = (tracks[1:] != tracks[:-1]) | (leaf_pos[1:] != leaf_pos[:-1])
    return leaf_pos[distinct], tracks[distinct]


def intersect_leaves(
    genre_pos: np.ndarray, genre_tracks: np.ndarray, scene_pos: np.ndarray, scene_tracks: np.ndarray,
    n_scene: int, min_tracks: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs sharing >= min_tracks tracks: (genre pos, scene pos, offsets, sorted track ids).

    Both membership lists come sorted by track. For each genre membership of track t we emit one
    (genre, scene) pair per scene membership of t: a per-track Cartesian product, done with
    repeat/cumsum instead of a join. Offsets delimit each kept pair's track ids in the flat array
    (pair i: values[offsets[i]:offsets[i+1]])."""
    # Scene memberships per track, as [start, start + count) runs into the sorted scene arrays.
    s_tracks, s_start, s_count = np.unique(scene_tracks, return_index=True, return_counts=True)
    where = np.searchsorted(s_tracks, genre_tracks)
    where = np.minimum(where, max(len(s_tracks) - 1, 0))
    hit = (s_tracks[where] == genre_tracks) if len(s_tracks) else np.zeros(len(genre_tracks), bool)
    g_pos, g_track, where = genre_pos[hit], genre_tracks[hit], where[hit]
    reps = s_count[where]
    total = int(reps.sum())
    # For genre row i, its scene rows are s_start[where[i]] + 0..reps[i]-1.
    row_start = np.repeat(s_start[where] - (np.cumsum(reps) - reps), reps)
    scene_rows = row_start + np.arange(total, dtype=np.int64)
    pair = np.repeat(g_pos, reps) * np.int64(n_scene) + scene_pos[scene_rows]
    track = np.repeat(g_track, reps)
    order = np.argsort(pair, kind="stable")  # pairs were emitted in track order: stays sorted by track
    pair, track = pair[order], track[order]
    boundary = np.flatnonzero(np.diff(pair)) + 1
    starts = np.concatenate(([0], boundary)) if len(pair) else np.zeros(0, dtype=np.int64)
    counts = np.diff(np.concatenate((starts, [len(pair)]))) if len(pair) else np.zeros(0, dtype=np.int64)
    codes = pair[starts]
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
    min_tracks: int = SeedParams.min_tracks,
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
    """Leaf titles, descriptions, lineages and filters, computed once per distinct leaf used."""
    filters_of: dict[str, dict[int, dict[str, Any]]] = {}
    for prefix, leaves, sel in (("genre", genre_leaves, g_sel), ("scene", scene_leaves, s_sel)):
        used, inverse = np.unique(sel, return_inverse=True)
        chosen = [leaves[i] for i in used.tolist()]
        columns = {
            "title": [leaf["title"] for leaf in chosen],
            "description": [leaf["description"] for leaf in chosen],
            "lineage": [" > ".join(leaf["lineage"]) for leaf in chosen],
            "filters": [json.dumps(leaf["filters"], sort_keys=True) for leaf in chosen],
        }
        for name, values in columns.items():
            frame[f"{prefix}_{name}"] = np.array(values, dtype=object)[inverse].astype(str) if len(sel) else []
        filters_of[prefix] = {i: leaves[i]["filters"] for i in used.tolist()}
    # Each row is a distinct (genre, scene) pair, so merged filters are computed once per row.
    genre_f, scene_f = filters_of["genre"], filters_of["scene"]
    frame["filters"] = [json.dumps(merge_filters(genre_f[g], scene_f[s]), sort_keys=True)
                        for g, s in zip(g_sel.tolist(), s_sel.tolist(), strict=True)]
    return frame[list(SEED_COLUMNS)]
