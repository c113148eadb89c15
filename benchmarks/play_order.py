"""Play order (issue 18): ``order_playlists`` over a big leaf set, in this process vs in worker processes.

    python -m benchmarks.play_order                                  # synthetic 300K-track leaf set
    python -m benchmarks.play_order --tracks 6303                    # a smaller synthetic set
    python -m benchmarks.play_order --tree OUT/curated_collection.json --tracks-file DATA/tracks.csv

The synthetic set has leaves of 5 to 150 tracks (median ~22, like a 300K demo build's ~11K leaves)
with repeated tempos and keys and some tracks without them. With ``--tree`` the leaves of a built
tree are ordered again (exemplars matched back to their tracks by title and artist). Both runs must
give the same orders, transitions and report (the benchmark fails otherwise); the figures are
printed, not asserted, and vary with the machine's load (``load_avg_1m``, taken after the runs; the
CPU seconds include the workers': on a busy machine they show the work the wall time hides).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.harness import markdown_table, write_results
from collection_tree.core.clusters import Cluster, ClusterSet
from collection_tree.core.mix import camelot_label
from collection_tree.core.workers import pool_workers
from collection_tree.phases.playlist_order import PlaylistOrderParams, order_playlists


def synthetic_leaves(tracks: int, seed: int = 18) -> tuple[ClusterSet, pd.DataFrame]:
    """About ``tracks`` tracks in leaves of 5-150 tracks (log-normal sizes), tempos and keys drawn
    around a few values per leaf so that most pairs can mix and ties occur."""
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    while sum(sizes) < tracks:
        sizes.append(int(np.clip(round(rng.lognormal(3.1, 0.6)), 5, 150)))
    n = sum(sizes)
    leaf_of = np.repeat(np.arange(len(sizes)), sizes)
    leaf_bpm = rng.choice([90.0, 100.0, 120.0, 124.0, 128.0, 140.0, 174.0], len(sizes))
    bpm = np.where(rng.random(n) < 0.03, np.nan, (leaf_bpm[leaf_of] * rng.normal(1.0, 0.03, n)).round())
    keys = [None if rng.random() < 0.03 else camelot_label(int(k)) for k in rng.integers(0, 24, n)]
    frame = pd.DataFrame({"track_id": np.arange(1, n + 1), "year": rng.integers(1960, 2025, n), "bpm": bpm,
                          "key": keys, "energy": np.where(rng.random(n) < 0.1, np.nan, rng.integers(1, 11, n))})
    clusters, start = [], 1
    for k, size in enumerate(sizes):
        ids = list(range(start, start + size))
        start += size
        clusters.append(Cluster(id=f"leaf-{k}", track_ids=ids, examples=[{"track_id": ids[size // 2]}]))
    return ClusterSet(clusters=clusters, all_track_ids=list(range(1, n + 1))), frame


def tree_leaves(tree: Path, tracks_file: Path) -> tuple[ClusterSet, pd.DataFrame]:
    """A built tree's leaves with their tracks' facts."""
    doc = json.loads(tree.read_text())
    frame = pd.read_csv(tracks_file, usecols=["track_id", "title", "artist", "year", "bpm", "key", "energy"])
    by_name = {(t, a): int(i) for i, t, a in zip(frame["track_id"], frame["title"], frame["artist"], strict=True)}
    clusters = []
    for category in doc["categories"]:
        for leaf in category["leaves"]:
            named = ((e.get("title"), e.get("artist")) for e in leaf.get("examples", []))
            clusters.append(Cluster(id=leaf["id"], track_ids=[int(t) for t in leaf["track_ids"]],
                                    examples=[{"track_id": by_name[k]} for k in named if k in by_name]))
    ids = sorted({t for c in clusters for t in c.track_ids})
    return ClusterSet(clusters=clusters, all_track_ids=ids), frame.drop(columns=["title", "artist"])


def _cpu_s() -> float:
    """CPU seconds of this process and of its ended children (the workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(leaves: ClusterSet, frame: pd.DataFrame, **kwargs: Any) -> tuple[float, float, Any]:
    """Wall and CPU seconds of one ``order_playlists`` call, and its result."""
    start, cpu = time.perf_counter(), _cpu_s()
    result = order_playlists(leaves, frame, PlaylistOrderParams(), **kwargs)
    return time.perf_counter() - start, _cpu_s() - cpu, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=300_000, help="synthetic leaf set size (tracks)")
    parser.add_argument("--tree", type=Path, help="a built curated_collection.json instead of synthetic leaves")
    parser.add_argument("--tracks-file", type=Path, help="the tracks.csv the tree was built from (with --tree)")
    args = parser.parse_args(argv)
    if args.tree:
        if not args.tracks_file:
            parser.error("--tree needs --tracks-file")
        leaves, frame = tree_leaves(args.tree, args.tracks_file)
        source = str(args.tree)
    else:
        leaves, frame = synthetic_leaves(args.tracks)
        source = f"synthetic {args.tracks:,}"
    serial_s, serial_cpu_s, serial = timed(leaves, frame, workers=1)
    workers = pool_workers()
    pooled_s, pooled_cpu_s, pooled = timed(leaves, frame, pool_min_tracks=0, workers=workers)
    same = serial == pooled
    row = {"leaves": source, "tracks": sum(len(c.track_ids) for c in leaves.clusters),
           "playlists": len(leaves.clusters), "serial_s": round(serial_s, 2), "serial_cpu_s": round(serial_cpu_s, 2),
           "workers": workers, "pooled_s": round(pooled_s, 2), "pooled_cpu_s": round(pooled_cpu_s, 2),
           "ratio": round(serial_s / pooled_s, 2), "load_avg_1m": round(os.getloadavg()[0], 2), "same_orders": same}
    table = markdown_table([row], list(row))
    print(table)
    write_results("play_order", "Play order: order_playlists serial vs worker processes", {"play_order": table},
                  {"rows": [row]})
    if not same:
        raise SystemExit("the worker processes gave other orders or another report than the serial run")
    return 0


if __name__ == "__main__":  # the spawned workers import this module again: run only as the main program
    raise SystemExit(main())
