"""``collection-tree suggestions show|apply``: review phase 7's metadata suggestions and apply the
accepted ones to a NEW tracks file next to the original (``<name>.curated.<ext>``; never in place)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from collection_tree.exports import ExportError
from collection_tree.exports.paths import strip_control
from collection_tree.exports.suggestions_review import (
    apply_suggestions,
    read_review_table,
    select_rows,
    write_review_table,
)
from collection_tree.settings import Settings, current

STATUSES = ("pending", "accepted", "applied", "skipped")


def confidence(text: str) -> float:
    """``--min-confidence``: a number in [0, 1] (suggestion confidences are)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value


def statuses(text: str) -> tuple[str, ...]:
    """``--status``: comma-separated known statuses, or 'all'."""
    if text.strip() == "all":
        return STATUSES
    wanted = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in wanted if s not in STATUSES]
    if unknown or not wanted:
        raise argparse.ArgumentTypeError(f"expected 'all' or statuses among {', '.join(STATUSES)}, got {text!r}")
    return wanted


def _selection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--accept", default=None,
                        help="'all', 'accepted' (rows marked with `suggestions accept`) or comma-separated ids "
                             "(123:genre or 123)")
    parser.add_argument("--min-confidence", type=confidence, default=None,
                        help="only rows at or above this confidence (0-1)")
    parser.add_argument("--accept-csv", default=None, type=Path,
                        help="a copy of metadata_suggestions.csv with an 'accepted' column (1/yes/x)")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("suggestions", help="review and apply metadata suggestions")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    show = actions.add_parser("show", help="print suggestions as a diff: 'Artist - Title', then 'field: old -> new'")
    show.add_argument("--min-confidence", type=confidence, default=None, help="only rows at or above this (0-1)")
    show.add_argument("--limit", type=int, default=None, help="at most N tracks")
    show.add_argument("--status", type=statuses, default=("pending", "accepted"),
                      help="comma-separated statuses to show (pending, accepted, applied, skipped) or 'all'")
    show.set_defaults(func=run_show)

    accept = actions.add_parser("accept", help="mark suggestions 'accepted' in the review table (apply them "
                                               "later with --accept accepted); changes no tracks file")
    _selection_arguments(accept)
    accept.set_defaults(func=run_accept)

    apply = actions.add_parser("apply", help="write <tracks>.curated.<ext> with the accepted suggestions")
    _selection_arguments(apply)
    apply.add_argument("--tracks", default=None,
                       help=f"the original tracks file (default: {Settings.env_name('tracks')})")
    apply.add_argument("--dry-run", action="store_true",
                       help="show what would change; write nothing (no tracks file, no change to the review table)")
    apply.set_defaults(func=run_apply)


def _clean(value: object) -> str:
    return strip_control(str(value))


def print_diff(table: pd.DataFrame, limit: int | None = None) -> int:
    """Beets-style: ``Artist - Title`` then ``  field: old -> new`` per row; returns tracks shown."""
    shown = 0
    for track_id, rows in table.groupby("track_id", sort=True):
        if limit is not None and shown >= limit:
            break
        first = rows.iloc[0]
        print(f"{_clean(first['artist'])} - {_clean(first['title'])}  "
              f"(track {track_id}, leaf {_clean(first['leaf_title'])!r})")
        for _, row in rows.iterrows():
            old = _clean(row["current"]) or "(empty)"
            print(f"  {row['field']}: {old} -> {_clean(row['proposed'])}  "
                  f"[{row['id']}, {row['confidence']:.2f}, {row['status']}]")
        shown += 1
    return shown


def run_show(args: argparse.Namespace) -> int:
    places = current().places()
    try:
        table = read_review_table(places.output)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    view = table[table["status"].isin(args.status)]
    if args.min_confidence is not None:
        view = view[view["confidence"].fillna(0.0) >= args.min_confidence]
    shown = print_diff(view, args.limit)
    print(f"{len(view)} suggestions for {view['track_id'].nunique()} tracks ({shown} tracks shown); "
          f"apply with: collection-tree suggestions apply --accept IDS|all [--min-confidence X]")
    return 0


def run_apply(args: argparse.Namespace) -> int:
    cfg = current()
    places = cfg.places()
    tracks_path = args.tracks or cfg.tracks
    try:
        if not tracks_path:
            raise ExportError(f"no tracks file: pass --tracks or set {Settings.env_name('tracks')} "
                              f"(the demo collection's is {places.demo / 'tracks.csv'})")
        table = read_review_table(places.output)
        selected = select_rows(table, args.accept, args.min_confidence, args.accept_csv)
        updated, result = apply_suggestions(table, selected, Path(tracks_path), dry_run=args.dry_run)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        print_diff(updated[updated["id"].isin(result.applied)])
        print(f"dry run: {len(result.applied)} changes would be written to {result.output_path}; nothing was "
              "written (mark rows with `suggestions accept`, or apply them without --dry-run)")
    elif result.written:
        print(f"wrote {result.output_path}: {len(result.applied)} changes")
        if result.backup_path:
            print(f"  previous curated file kept as {result.backup_path}")
    else:
        print(f"no change to write: {result.output_path} already holds the accepted suggestions"
              if result.output_path.exists() else "no change to write")
    if result.already:
        print(f"  {len(result.already)} rows already hold the proposed value")
    if result.skipped:
        print(f"skipped {len(result.skipped)} rows:")
        for row_id, why in result.skipped:
            print(f"  {row_id}: {_clean(why)}")
    if not args.dry_run:
        _, csv_path = write_review_table(updated, places.output)
        print(f"review table updated: {csv_path}")
    return 0


def run_accept(args: argparse.Namespace) -> int:
    """Mark the selected pending rows 'accepted' (a review step: no tracks file is read or written)."""
    places = current().places()
    try:
        table = read_review_table(places.output)
        selected = select_rows(table, args.accept, args.min_confidence, args.accept_csv)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    marked = selected & (table["status"] == "pending")
    table.loc[marked, ["status", "accepted"]] = ["accepted", "yes"]
    _, csv_path = write_review_table(table, places.output)
    print(f"{int(marked.sum())} suggestions marked accepted ({int(selected.sum() - marked.sum())} selected rows "
          f"were not pending); apply them with: collection-tree suggestions apply --accept accepted")
    print(f"review table updated: {csv_path}")
    return 0
