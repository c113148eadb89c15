"""``collection-tree demo-data``: generate the synthetic demo collection (tracks, genre tree, scene
tree, ground truth) into a folder and print its paths and key figures."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from collection_tree import settings


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo-data", help="generate the synthetic demo collection (tracks + genre and scene trees)")
    parser.add_argument("--tracks", type=int, default=settings.DEMO_TRACKS,
                        help=f"number of tracks (default {settings.DEMO_TRACKS})")
    parser.add_argument("--seed", type=int, default=settings.DEMO_SEED,
                        help=f"random seed: same --tracks and --seed, same files (default {settings.DEMO_SEED})")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: the demo collection folder the build uses, "
                             "<output>/demo_collection)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from collection_tree.demo import collection_stats, generate_demo_collection, save_demo_collection
    from collection_tree.phases.seed_clusters import SeedParams

    out = args.out if args.out is not None else settings.current().places().demo
    started = time.monotonic()
    try:
        collection = generate_demo_collection(args.tracks, args.seed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    paths = save_demo_collection(collection, out)
    seconds = time.monotonic() - started
    stats = collection_stats(collection)
    print(f"demo collection ({args.tracks:,} tracks, seed {args.seed}) written in {seconds:.1f}s:")
    for key, path in paths.items():
        print(f"  {key:<13} {path}")
    share = stats["tracks_in_no_seed"] / stats["tracks"]
    print(f"tracks {stats['tracks']:,} | artists {stats['artists']:,} | genre leaves {stats['genre_leaves']} | "
          f"scene leaves {stats['scene_leaves']} | "
          f"seed clusters >= {SeedParams.min_tracks}: {stats['seed_clusters']} | "
          f"tracks in no seed: {stats['tracks_in_no_seed']:,} ({share:.0%})")
    return 0
