"""``collection-tree diff OLD NEW``: what changed between two builds' Collection Tree JSON files
(leaves added, removed, renamed, merged, split; tracks moved), matching NEW's leaves to OLD's by
membership first (``phases/identity.py``) so equal ids mean the same leaf."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from collection_tree.exports import ExportError, load_tree_json
from collection_tree.phases.changes import diff_trees, markdown
from collection_tree.phases.identity import carry_identity


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("diff", help="what changed between two builds' curated_collection.json files")
    parser.add_argument("old", help="the earlier build's curated_collection.json")
    parser.add_argument("new", help="the later build's curated_collection.json")
    parser.add_argument("--json", action="store_true", help="print the whole diff as JSON (every moved track)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        old, new = load_tree_json(Path(args.old)), load_tree_json(Path(args.new))
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    carried, _ = carry_identity(old, new)
    changes = diff_trees(old, carried)
    print(json.dumps(changes, indent=1) if args.json else markdown(changes))
    return 0
