"""``collection-tree diff [OLD NEW]``: what changed between two builds (leaves added, removed, renamed,
merged, split; tracks moved), matching NEW's leaves to OLD's by membership first (``phases/identity.py``)
so equal ids mean the same leaf (two runs' trees already match: each build kept the ids of the one
before). OLD and NEW are Dagster run ids (or a unique start of one) whose
``collection_tree`` materialisation kept its tree (``tree_snapshot`` metadata: the last builds'
trees, ``assets/evolution.keep_tree``), or Collection Tree JSON files; none: the latest two builds."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from collection_tree import settings
from collection_tree.exports import ExportError, load_tree_json
from collection_tree.phases.changes import diff_trees, markdown
from collection_tree.phases.identity import carry_identity


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("diff", help="what changed between two builds (run ids, tree files, or the latest two)")
    parser.add_argument("old", nargs="?", help="the earlier build: a Dagster run id (or its unique start) or a "
                                                "curated_collection.json file")
    parser.add_argument("new", nargs="?", help="the later build, the same way")
    parser.add_argument("--json", action="store_true", help="print the whole diff as JSON (every moved track)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        if (args.old is None) != (args.new is None):
            raise ExportError("give two builds (run ids or tree files), or none for the latest two builds")
        if args.old is None:
            (old, new), files = _latest_two(), False
        else:
            (old, old_file), (new, new_file) = _tree(args.old), _tree(args.new)
            files = old_file or new_file
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # Two builds' trees carry their ids already (each build matched the one before it); carrying them
    # again would put the old titles back over a rename. A file may come from anywhere: matched first.
    changes = diff_trees(old, carry_identity(old, new)[0] if files else new)
    print(json.dumps(changes, indent=1) if args.json else markdown(changes))
    return 0


def _tree(given: str) -> tuple[dict[str, Any], bool]:
    """A tree file when ``given`` names one, else the tree a run of the Dagster instance kept; and
    whether it was a file."""
    path = Path(given)
    if path.exists() or path.suffix == ".json" or "/" in given:
        return load_tree_json(path), True
    with _instance() as instance:
        return load_tree_json(_snapshot(instance, _run_id(instance, given))), False


def _instance() -> Any:
    from dagster import DagsterInstance

    from collection_tree.commands._home import ensure_dagster_home

    ensure_dagster_home(settings.current())
    return DagsterInstance.get()


def _run_id(instance: Any, given: str) -> str:
    ids = [run_id for run_id in instance.get_run_ids() if run_id.startswith(given.strip())]
    if len(ids) == 1 and given.strip():
        return ids[0]
    where = f"the Dagster instance at {instance.root_directory}"
    if not ids or not given.strip():
        raise ExportError(f"{given!r}: expected a tree file or a run id of {where}; no such file or run")
    raise ExportError(f"{given!r} starts {len(ids)} run ids of {where} ({', '.join(ids[:5])}): give more of it")


def _snapshot(instance: Any, run_id: str) -> Path:
    """The tree file the run's ``collection_tree`` materialisation kept (its ``tree_snapshot`` metadata)."""
    from dagster import DagsterEventType

    from collection_tree.assets.evolution import TREES_KEPT

    entries = [entry for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
               if entry.asset_materialization is not None
               and entry.asset_materialization.asset_key.path[-1] == "collection_tree"]
    if not entries:
        raise ExportError(f"run {run_id} materialised no collection tree: expected the run id of a build or update")
    snapshot = entries[-1].asset_materialization.metadata.get("tree_snapshot")
    if snapshot is None:
        raise ExportError(f"run {run_id} kept no copy of its tree (a build before trees were kept): diff its "
                          "curated_collection.json file instead, if you have it")
    path = Path(str(snapshot.value))
    if not path.exists():
        raise ExportError(f"run {run_id}'s tree ({path}) is no longer kept: the last {TREES_KEPT} builds' trees are")
    return path


def _latest_two() -> tuple[dict[str, Any], dict[str, Any]]:
    from collection_tree.assets.modes import FULL

    with _instance() as instance:
        records = instance.fetch_materializations(FULL.key("collection_tree"), limit=2).records
        if len(records) < 2:
            raise ExportError("fewer than two builds in the Dagster instance: give two tree files or run ids")
        new, old = (_snapshot(instance, record.run_id) for record in records)
        return load_tree_json(old), load_tree_json(new)
