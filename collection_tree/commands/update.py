"""``collection-tree update``: the incremental update when the tracks file only gained tracks (and the
trees only gained track ids), else the full build; under the output folder's build lock, like ``build``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from collection_tree import settings
from collection_tree.commands._home import ensure_dagster_home
from collection_tree.commands.build import _build_holding_the_lock, check_settings, input_files, read_run_config


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "update", help="place the tracks file's new tracks into the previous build's tree (incremental); "
                       "a full build when tracks were removed or the trees changed beyond gaining track ids",
        description="Compares the tracks file and the two trees with what the previous build read (Dagster's "
                    "asset history). Only added tracks: runs the collection_tree_update job, which places the new "
                    "tracks into the existing leaves (similarity model, lineage guard, the LLM for ambiguous "
                    "ones), makes genre x scene pairs reaching min_tracks among new and ungrouped tracks new "
                    "leaves, re-describes leaves whose membership changed by more than refresh_share, keeps "
                    "every other leaf's id, title and text, applies overrides.json and writes changes.json and "
                    "the exports. Anything else: says why and runs the full build.")
    parser.add_argument("--full", action="store_true", help="run the full build whatever changed")
    parser.add_argument("--dry-run", action="store_true", help="only say which build would run, and why")
    parser.add_argument("--config", type=Path, default=None, metavar="RUN_YAML",
                        help="run config, as for build (e.g. 'collection_tree: {refresh_share: 0.3}')")
    parser.add_argument("--verbose", action="store_true",
                        help="Dagster's full event log on stderr instead of the progress bar")
    parser.add_argument("--wait", action="store_true",
                        help="when another build is using the output folder, wait for it instead of refusing")
    parser.set_defaults(func=run, test=False, resume=None, playlist_order=None)


def with_update(ops_config: dict[str, Any]) -> dict[str, Any]:
    """The run config with the tree asset's ``update`` switch on (the run.yaml's other values kept)."""
    from collection_tree.jobs import UPDATE_RUN_CONFIG

    ops = dict(ops_config.get("ops") or {})
    for op, value in UPDATE_RUN_CONFIG["ops"].items():
        entry = dict(ops.get(op) or {})
        entry["config"] = {**(entry.get("config") or {}), **value["config"]}
        ops[op] = entry
    return {**ops_config, "ops": ops}


def run(args: argparse.Namespace) -> int:
    cfg = settings.current()
    try:
        home = str(ensure_dagster_home(cfg))
        ops_config = read_run_config(args.config, False) if args.config is not None else {}
        check_settings(cfg)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from collection_tree.core.build_lock import BuildLock, BuildLockBusy

    lock = BuildLock(cfg.places().output)
    try:  # the run's id is recorded by the executor once Dagster has chosen it
        lock.acquire(command="collection-tree update", wait=args.wait,
                     on_wait=lambda holder: print(f"waiting for {holder.describe() if holder else 'another build'} "
                                                  f"to finish with {lock.folder} ...", file=sys.stderr, flush=True))
    except BuildLockBusy as busy:
        print(f"error: {busy}", file=sys.stderr)
        return 1
    try:  # the choice is made holding the lock, so no other build changes what it compared
        from dagster import DagsterInstance

        from collection_tree import operations as ops
        from collection_tree.assets.incremental import choose
        from collection_tree.phases.incremental import BuildChoice

        if args.full:
            choice = BuildChoice("full", "--full")
        else:
            try:
                paths = input_files(cfg)
                with DagsterInstance.get() as instance:
                    choice = choose(instance, paths)
            except ValueError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
        if choice.kind == "update":
            print(f"incremental update: {choice.reason}", file=sys.stderr)
        else:
            print(f"full build: {choice.reason}", file=sys.stderr)
        if args.dry_run:
            return 0
        if choice.kind == "update":
            return _build_holding_the_lock(args, cfg, home, lock, with_update(ops_config), ops.UPDATE_JOB)
        return _build_holding_the_lock(args, cfg, home, lock, ops_config, ops.FULL_JOB)
    finally:
        lock.release()
