"""``collection-tree export-m3u NODE [--out DIR]``: one playlist for one category or leaf of the
built tree (the reference's per-node export), named by id or title. A category's playlist holds its
leaves one after another, each in its play order; the per-leaf playlists are already in
``<output>/playlists``. Paths are absolute like the build's playlists: relative locations are
anchored at ``--music-root``, ``COLLECTION_TREE_MUSIC_ROOT`` or the tracks file's folder."""

from __future__ import annotations

import argparse
import sys

from collection_tree.exports import ExportError, load_tree_json
from collection_tree.exports.m3u import export_node
from collection_tree.exports.paths import MUSIC_ROOT_ENV, default_music_root, load_tracks_table
from collection_tree.settings import current


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("export-m3u", help="write one category's or leaf's M3U8 playlist")
    parser.add_argument("node_id", metavar="NODE", help="a category or leaf of curated_collection.json (id or title)")
    parser.add_argument("--out", default=None,
                        help="folder for the playlist, inside the output folder (relative: to it); default exports/")
    parser.add_argument("--music-root", default=None,
                        help=f"folder relative track locations are under (default: {MUSIC_ROOT_ENV}, else the "
                             "tracks file's folder, as the build's playlists)")
    parser.add_argument("--tracks", default=None, help="tracks file (default: the build's stored tracks table)")
    parser.add_argument("--test", action="store_true", help="use the test run's tree (<output>/test_run)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = current()
    places = cfg.places().for_test_run(args.test)
    try:
        tree = load_tree_json(places.tree_file)
        tracks = load_tracks_table(places, args.tracks, cfg.tracks)
        demo_tracks = places.demo / "tracks.csv"
        tracks_file = args.tracks or cfg.tracks or (demo_tracks if demo_tracks.exists() else None)
        path, report = export_node(tree, tracks, args.node_id, places.output, args.out,
                                   default_music_root(args.music_root or cfg.music_root, tracks_file))
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({report.tracks_written} tracks)")
    if report.missing_location:
        print(f"  {report.missing_location} tracks without a location left out")
    if report.outside_music_root:
        print(f"  {report.outside_music_root} tracks refused: their '..' location climbs out of the music root")
    if report.unrepresentable:
        print(f"  {report.unrepresentable} tracks refused: control or bidi characters in the path")
    if report.relative_paths:
        print(f"  {report.relative_paths} paths are relative: set {MUSIC_ROOT_ENV} or --music-root to anchor them")
    return 0
