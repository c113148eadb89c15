"""One downstream asset re-materialised alone, in a new process (`dagster asset materialize`): its
upstream loads from storage, its LLM batches come from the cache, and no other asset gets a new
materialisation (the last tree JSON stays byte for byte)."""

import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance

pytestmark = pytest.mark.dagster_instance
BIN = Path(sys.executable).parent
PROJECT = Path(__file__).resolve().parents[1]


def latest_materialisations(instance: DagsterInstance) -> dict[str, int]:
    records = instance.get_asset_records()
    return {r.asset_entry.asset_key.to_user_string(): r.asset_entry.last_materialization_record.storage_id
            for r in records if r.asset_entry.last_materialization_record is not None}


def test_collection_leaves_alone_in_a_new_process(build_env):
    env, solver = build_env.env, build_env.solver
    build = subprocess.run([str(BIN / "collection-tree"), "build"], env=env, capture_output=True, text=True,
                           timeout=300)
    assert build.returncode == 0, build.stderr[-3000:]
    tree = (build_env.out / "curated_collection.json").read_bytes()
    with DagsterInstance.from_config(str(build_env.home)) as instance:
        before = latest_materialisations(instance)
    asked_before = len(solver.answered)
    assert "collection_leaves" in before and "collection_tree" in before

    single = subprocess.run([str(BIN / "dagster"), "asset", "materialize", "-m", "collection_tree.definitions",
                             "--select", "collection_leaves"], env=env, cwd=PROJECT, capture_output=True, text=True,
                            timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]

    with DagsterInstance.from_config(str(build_env.home)) as instance:
        after = latest_materialisations(instance)
        changed = sorted(k for k in after if after[k] != before.get(k))
        assert changed == ["collection_leaves"]
        run = instance.get_runs(limit=1)[0]
        started = {r.event_log_entry.step_key for r in
                   instance.get_records_for_run(run.run_id, of_type=DagsterEventType.STEP_START).records}
        assert "collection_leaves" in started
        assert all(step.startswith("collection_leaves") for step in started), started  # the asset and its checks
        loaded = [r.event_log_entry.dagster_event.event_specific_data.input_name for r in
                  instance.get_records_for_run(run.run_id, of_type=DagsterEventType.LOADED_INPUT).records]
        assert {"categories", "refined_clusters", "tracks"} <= set(loaded)  # upstream read from the store
        mat = instance.get_latest_materialization_event(AssetKey("collection_leaves")).asset_materialization
        assert mat.metadata["llm_calls"].value == 0 and mat.metadata["llm_cache_hits"].value > 0
    assert len(solver.answered) == asked_before  # every answer came from the LLM cache
    assert (build_env.out / "curated_collection.json").read_bytes() == tree
