"""A build holds a step's output only while that step stores it: the next steps load theirs from the
store. ``execute_in_process`` kept every output until the run ended (for its result to offer them);
at 1M tracks that was every phase's tracks, trees and clusters at once."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pandas as pd

from collection_tree.core.clusters import ClusterSet
from collection_tree.resources.io_managers import JsonDocumentIOManager, ParquetTableIOManager


def test_a_cli_build_lets_go_of_each_output_once_it_is_stored(offline_cli_env, monkeypatch) -> None:
    """Every table and cluster set a step returns is gone by the time a later step stores its own."""
    from collection_tree.cli import main

    stored: list[tuple[str, weakref.ref[Any]]] = []
    alive_later: list[tuple[str, list[str]]] = []  # (the step storing, earlier outputs still alive)

    def watch(manager: type) -> None:
        real_dump = manager.dump_to_path

        def watched_dump(self: Any, context: Any, obj: Any, path: Any) -> None:
            gc.collect()
            alive_later.append((context.step_key, [name for name, ref in stored if ref() is not None]))
            real_dump(self, context, obj, path)
            if isinstance(obj, pd.DataFrame | ClusterSet):
                stored.append((context.step_key, weakref.ref(obj)))

        monkeypatch.setattr(manager, "dump_to_path", watched_dump)

    watch(ParquetTableIOManager)
    watch(JsonDocumentIOManager)
    assert main(["build"]) == 0
    steps = [name for name, _ in stored]
    assert {"tracks", "seed_clusters", "named_clusters", "assigned_clusters", "refined_clusters"} <= set(steps)
    assert len(alive_later) > len(stored) > 5
    assert all(alive == [] for _, alive in alive_later), [entry for entry in alive_later if entry[1]]


def test_the_build_lock_names_the_run_dagster_chose(offline_cli_env, monkeypatch) -> None:
    """The CLI takes the lock before Dagster has a run id; the executor records it as the run starts."""
    from dagster import DagsterInstance

    from collection_tree.cli import main
    from collection_tree.core.build_lock import BuildLock

    holders: list[str] = []
    real_dump = ParquetTableIOManager.dump_to_path

    def watched_dump(self: Any, context: Any, obj: pd.DataFrame, path: Any) -> None:
        holder = BuildLock(offline_cli_env).holder()
        holders.append(holder.run_id if holder else "")
        real_dump(self, context, obj, path)

    monkeypatch.setattr(ParquetTableIOManager, "dump_to_path", watched_dump)
    assert main(["build", "--test"]) == 0
    with DagsterInstance.get() as instance:
        run_ids = [run.run_id for run in instance.get_runs()]
    assert len(run_ids) == 1
    assert holders and set(holders) == {run_ids[0]}
