"""A build holds a step's output only while that step stores it: the next steps load theirs from the
store. ``execute_in_process`` kept every output until the run ended (for its result to offer them);
at 1M tracks that was every phase's tracks, trees and clusters at once."""

from __future__ import annotations

import gc
import os
import shutil
import weakref
from pathlib import Path
from typing import Any

import pandas as pd

from collection_tree.core.clusters import ClusterSet
from collection_tree.resources.io_managers import JsonDocumentIOManager, ParquetTableIOManager


def _cli_env(monkeypatch, tmp_path: Path, collection: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(Path(__file__).resolve().parents[1] / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
    for name in [n for n in os.environ if n.startswith(("COLLECTION_TREE_", "ANTHROPIC_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("COLLECTION_TREE_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("COLLECTION_TREE_LLM", "offline")
    monkeypatch.setenv("COLLECTION_TREE_LLM_CACHE", "off")
    for name in ("tracks", "genre_tree", "scene_tree"):
        suffix = "csv" if name == "tracks" else "json"
        monkeypatch.setenv(f"COLLECTION_TREE_{name.upper()}", str(collection / f"{name}.{suffix}"))


def test_a_cli_build_lets_go_of_each_output_once_it_is_stored(tmp_path, small_collection, monkeypatch) -> None:
    """Every table and cluster set a step returns is gone by the time a later step stores its own."""
    from collection_tree.cli import main

    _cli_env(monkeypatch, tmp_path, small_collection)
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


def test_the_build_lock_names_the_run_dagster_chose(tmp_path, small_collection, monkeypatch) -> None:
    """The CLI takes the lock before Dagster has a run id; the executor records it as the run starts."""
    from dagster import DagsterInstance

    from collection_tree.cli import main
    from collection_tree.core.build_lock import BuildLock

    _cli_env(monkeypatch, tmp_path, small_collection)
    holders: list[str] = []
    real_dump = ParquetTableIOManager.dump_to_path

    def watched_dump(self: Any, context: Any, obj: pd.DataFrame, path: Any) -> None:
        holder = BuildLock(tmp_path / "out").holder()
        holders.append(holder.run_id if holder else "")
        real_dump(self, context, obj, path)

    monkeypatch.setattr(ParquetTableIOManager, "dump_to_path", watched_dump)
    assert main(["build", "--test"]) == 0
    with DagsterInstance.get() as instance:
        run_ids = [run.run_id for run in instance.get_runs()]
    assert len(run_ids) == 1
    assert holders and set(holders) == {run_ids[0]}
