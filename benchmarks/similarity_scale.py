"""Scale of the track similarity model and the placement steps built on it, on one collection.

Prints, for a tracks file and its genre and scene trees: the model's build time and size, the cluster
centroids of the seed clusters, ranking the tracks outside every seed against them under the lineage
guard (top k), and the similarity split of the largest seed down to ``--max-leaf`` tracks; peak RSS.

    python -m benchmarks.similarity_scale --collection DIR [--k 24] [--max-leaf 150]

DIR holds tracks.csv, genre_tree.json and scene_tree.json (``collection-tree demo-data --tracks N``
makes one of any size).
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np

from collection_tree.core.clusters import clusters_from_seeds
from collection_tree.core.inputs import load_tracks, load_tree
from collection_tree.core.lineage import GenreLineages
from collection_tree.core.similarity import TrackSimilarity
from collection_tree.phases.placement import Guard, split_oversized
from collection_tree.phases.seed_clusters import build_seed_clusters


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collection", type=Path, required=True)
    parser.add_argument("--k", type=int, default=24, help="clusters kept per track (default 24: 8 candidates x 3)")
    parser.add_argument("--max-leaf", type=int, default=150)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    tracks = load_tracks(args.collection / "tracks.csv")
    known = set(tracks["track_id"].tolist())
    genre = load_tree(args.collection / "genre_tree.json", "genre", known).doc
    scene = load_tree(args.collection / "scene_tree.json", "scene", known).doc
    clusters = clusters_from_seeds(build_seed_clusters(genre, scene))
    t_load = time.perf_counter() - t0
    print(f"{len(tracks):,} tracks, {len(clusters):,} seed clusters (inputs and seeds {t_load:.1f} s)")

    t0 = time.perf_counter()
    model = TrackSimilarity(tracks)
    t_model = time.perf_counter() - t0
    print(f"model: {t_model:.2f} s, {model.matrix.shape[1]:,} features, {model.matrix.nnz:,} non-zeros "
          f"({model.matrix.data.nbytes / 2**20:.0f} MiB of values), blocks {list(model.blocks)}")

    t0 = time.perf_counter()
    lineages = GenreLineages.from_tree(genre)
    guard = Guard(lineages, clusters)
    centroids = model.centroids([c.track_ids for c in clusters])
    t_centroids = time.perf_counter() - t0
    seeded = {t for c in clusters for t in c.track_ids}
    orphans = np.array([t for t in tracks["track_id"].tolist() if t not in seeded], dtype=np.int64)
    t0 = time.perf_counter()
    ranked = guard.ranked(model, orphans, centroids, args.k)
    t_rank = time.perf_counter() - t0
    placeable = int((ranked.columns[:, 0] >= 0).sum()) if len(orphans) else 0
    print(f"lineages and centroids: {t_centroids:.2f} s; top {args.k} of {len(orphans):,} tracks outside the seeds: "
          f"{t_rank:.2f} s ({len(orphans) / max(t_rank, 1e-9):,.0f} tracks/s), {placeable:,} with a cluster of their "
          f"lineage")

    largest = max(clusters, key=lambda c: c.track_count)
    t0 = time.perf_counter()
    parts = split_oversized(largest, model, args.max_leaf, 5, {largest.id}, "offline")
    t_split = time.perf_counter() - t0
    print(f"split of the largest seed ({largest.track_count:,} tracks) into {len(parts)} parts of "
          f"{min(p.track_count for p in parts)}-{max(p.track_count for p in parts)}: {t_split:.2f} s")
    print(f"peak RSS {peak_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
