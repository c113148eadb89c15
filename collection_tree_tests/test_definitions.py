"""The code location loads as Dagster serves it: every asset described and grouped, both jobs, the
sensor and the schedule, LLM assets in the shared pool, and the project's dagster.yaml is a valid
instance config with the run queue and pool limits we rely on."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import DagsterInstance, Definitions
from dagster._core.instance.config import PoolGranularity
from dagster._core.instance.ref import InstanceRef
from dagster._core.run_coordinator import QueuedRunCoordinator

from collection_tree.assets.llm_step import LLM_POOL
from collection_tree.assets.modes import FULL, TEST
from collection_tree.assets.pipeline import OWNERS
from collection_tree.definitions import defs
from collection_tree.jobs import BUILD_TAG
from collection_tree.operations import FULL_JOB, TEST_JOB

PROJECT = Path(__file__).resolve().parents[1]


def test_definitions_load():
    Definitions.validate_loadable(defs)


def test_every_asset_has_a_description_and_a_build_group():
    graph = defs.resolve_asset_graph()
    keys = list(graph.toposorted_asset_keys)
    assert keys, "no assets"
    for key in keys:
        node = graph.get(key)
        assert node.description and len(node.description) > 20, f"{key.to_user_string()}: no description"
        assert node.group_name in (FULL.group, TEST.group), f"{key.to_user_string()}: group {node.group_name}"
        assert (node.group_name == TEST.group) == (key.path[0] == "test_run"), key.to_user_string()


def test_both_jobs_resolve_and_cover_their_group():
    graph = defs.resolve_asset_graph()
    for name, mode in ((FULL_JOB, FULL), (TEST_JOB, TEST)):
        job = defs.resolve_job_def(name)
        assert job.tags[BUILD_TAG] == mode.name
        selected = set(job.asset_layer.selected_asset_keys)
        in_group = {k for k in graph.toposorted_asset_keys if graph.get(k).group_name == mode.group}
        assert selected == in_group


def test_llm_assets_share_the_api_pool():
    assets_defs = defs.resolve_asset_graph().assets_defs
    assert assets_defs
    for assets_def in assets_defs:
        uses_llm = "llm" in assets_def.required_resource_keys
        assert (assets_def.op.pool == LLM_POOL) == uses_llm, (
            f"{assets_def.key.to_user_string()}: pool {assets_def.op.pool!r}, uses llm: {uses_llm}")


def test_sensors_target_full_build_and_update_schedule_the_full_build():
    schedule = defs.resolve_schedule_def("weekly_rebuild")
    assert schedule.job_name == FULL_JOB
    for name in ("tree_version_sensor", "tracks_change_sensor"):
        sensor = defs.resolve_sensor_def(name)
        assert sorted(job.name for job in sensor.jobs) == [FULL_JOB, "collection_tree_update"]
        assert sensor.minimum_interval_seconds == 60
        assert sensor.required_resource_keys == {"inputs"}
        assert sensor.default_status.value == "STOPPED"  # opt-in: a build may spend LLM money
    assert schedule.default_status.value == "STOPPED"


@pytest.fixture
def project_instance(tmp_path):
    """An instance from the project's dagster.yaml (copied, so storage goes to tmp_path)."""
    shutil.copy(PROJECT / ".dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path))) as instance:
        yield instance


def test_dagster_yaml_queue_and_limits(project_instance):
    assert isinstance(project_instance.run_coordinator, QueuedRunCoordinator)
    config = project_instance.get_concurrency_config()
    limits = config.run_queue_config.tag_concurrency_limits
    # no value: one run across all values of the tag (full build and test run alike)
    assert {"key": BUILD_TAG, "limit": 1} in limits
    assert config.pool_config.default_pool_limit == 1
    assert config.pool_config.pool_granularity == PoolGranularity.OP
    assert project_instance.run_monitoring_enabled


def test_llm_pool_gets_the_configured_limit(project_instance):
    storage = project_instance.event_log_storage
    assert storage.supports_global_concurrency_limits
    storage.initialize_concurrency_limit_to_default(LLM_POOL)
    assert storage.get_concurrency_info(LLM_POOL).slot_count == 1


def test_every_asset_has_owners():
    specs = defs.resolve_all_asset_specs()
    assert specs and all(spec.owners == list(OWNERS) for spec in specs)


def dg(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DAGSTER_HOME": str(home), "VIRTUAL_ENV": str(Path(sys.executable).parents[1])}
    shutil.copy(PROJECT / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return subprocess.run([str(Path(sys.executable).with_name("dg")), *args], cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.dagster_instance
def test_dg_checks_and_lists_the_definitions(tmp_path):
    """The project is a dg project ([tool.dg] in pyproject.toml): `dg check defs` passes and `dg list defs`
    shows the assets, checks, jobs, sensor and schedule."""
    check = dg("check", "defs", home=tmp_path)
    assert check.returncode == 0 and "All definitions loaded successfully" in check.stdout, check.stdout + check.stderr
    listed = dg("list", "defs", "--json", home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    graph = defs.resolve_asset_graph()
    assert {a["asset_key"] for a in found["assets"]} == {k.to_user_string() for k in graph.toposorted_asset_keys}
    assert all(a["owners"] == [{"team": "collection-tree"}] for a in found["assets"])
    assert len(found["asset_checks"]) == sum(len(c.check_keys) for c in defs.asset_checks)
    assert {j["name"] for j in found["jobs"]} == {FULL_JOB, TEST_JOB, "collection_tree_update"}
    assert sorted(s["name"] for s in found["sensors"]) == ["tracks_change_sensor", "tree_version_sensor"]
    assert [s["name"] for s in found["schedules"]] == ["weekly_rebuild"]
