"""``collection-tree ungrouped``: the tracks the build left out of every playlist, and why."""

from __future__ import annotations

import argparse
import sys

from collection_tree.exports import ExportError, load_tree_json
from collection_tree.exports.paths import load_tracks_table, strip_control
from collection_tree.exports.ungrouped import ungrouped_tracks, unplaced_reasons
from collection_tree.settings import current


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("ungrouped", help="list ungrouped tracks with the reason each was not placed")
    parser.add_argument("--tracks", default=None, help="tracks file (default: the build's stored tracks table)")
    parser.add_argument("--test", action="store_true", help="the test run's tree (<output>/test_run)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = current()
    places = cfg.places().for_test_run(args.test)
    try:
        tree = load_tree_json(places.tree_file)
        rows = ungrouped_tracks(tree, load_tracks_table(places, args.tracks, cfg.tracks),
                                unplaced_reasons(places.store))
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(rows)} ungrouped of {tree.get('total_tracks', '?')} tracks")
    for row in rows:
        # Control characters stripped: a tag must not be able to drive the terminal.
        shown = {k: strip_control(str(v)) for k, v in row.items()}
        print(f"{shown['track_id']:>7}  {shown['artist']} - {shown['title']}  ({shown['reason']})")
    return 0
