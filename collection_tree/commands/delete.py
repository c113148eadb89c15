"""``collection-tree delete``: remove the curated tree, its exports and the stored phase outputs
(optionally the LLM response cache) after confirmation. The Dagster run history in DAGSTER_HOME is
kept; ``status`` then shows the assets as missing and the next build recreates them."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("delete", help="delete the curated tree, exports and stored phase outputs")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--cache", action="store_true",
                        help="also delete the LLM response cache (the next build pays for every call again)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from collection_tree import settings

    cfg = settings.current()
    from collection_tree.commands._home import ensure_dagster_home

    ensure_dagster_home(cfg)
    from dagster import DagsterInstance

    from collection_tree import operations as ops

    with DagsterInstance.get() as instance:
        busy = ops.active_runs(instance)
    if busy:
        print(f"error: run {busy[0].run_id} ({busy[0].job_name}) is {busy[0].status}; delete after it ends",
              file=sys.stderr)
        return 1
    from collection_tree.core.build_lock import BuildLock, BuildLockBusy

    lock = BuildLock(cfg.places().output)
    try:
        lock.acquire(command="collection-tree delete")  # never delete under a running build
    except BuildLockBusy as busy:
        print(f"error: {busy}", file=sys.stderr)
        return 1
    try:
        return _delete(args, ops, cfg)
    finally:
        lock.release()


def _delete(args: argparse.Namespace, ops: Any, cfg: Any) -> int:
    paths = ops.deletable_paths(cfg.places(), include_cache=args.cache)
    if not paths:
        print("nothing to delete")
        return 0
    print("to delete:")
    for path in paths:
        print(f"  {path}")
    if not args.yes:
        if not sys.stdin.isatty():
            print("error: not a terminal; pass --yes to delete without confirmation", file=sys.stderr)
            return 1
        if input("delete these? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    removed = ops.delete_paths(paths)
    print(f"deleted {len(removed)} path(s); the Dagster run history is kept"
          + ("" if args.cache else "; the LLM cache is kept (--cache deletes it)"))
    return 0
