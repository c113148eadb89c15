"""A CLI build or update carries the sensors' inputs tag: a sensor tick while it runs requests no second
run of the same input files (it used to queue one behind the build lock, which then rebuilt them)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterRun, DagsterRunStatus, build_sensor_context
from helpers import collection_resources

from collection_tree.sensors import INPUTS_TAG, input_digests, inputs_key, tracks_change_sensor


def _tick_during_the_run(monkeypatch, folder: Path, out: Path) -> dict[str, Any]:
    """``operations.run_job`` replaced: the run is recorded as started with the CLI's tags, the tracks
    sensor ticks (after a tracks change it has not seen), then the CLI is interrupted."""
    from collection_tree import operations as ops

    seen: dict[str, Any] = {}

    def run_job(instance: Any, job_name: str, *, run_config: Any = None, tags: Any = None) -> Any:
        seen["job"], seen["tags"] = job_name, dict(tags or {})
        instance.add_run(DagsterRun(job_name=job_name, run_id=str(uuid.uuid4()), status=DagsterRunStatus.STARTED,
                                    tags=dict(tags or {})))
        cursor = json.dumps({"tracks": {"path": str(folder / "tracks.csv"), "sha256": "an earlier file"}})
        resources = collection_resources(out, folder)
        with build_sensor_context(cursor=cursor, instance=instance,
                                  resources={k: resources[k] for k in ("inputs", "pipeline_settings")}) as context:
            seen["tick"] = tracks_change_sensor.evaluate_tick(context)
        raise KeyboardInterrupt

    monkeypatch.setattr(ops, "run_job", run_job)
    return seen


@pytest.mark.parametrize("command", [["build"], ["update", "--full"]])
def test_a_sensor_tick_during_a_cli_build_requests_no_second_run(offline_cli_env, small_collection, monkeypatch,
                                                                  command):
    from collection_tree.cli import main

    seen = _tick_during_the_run(monkeypatch, small_collection, offline_cli_env)
    assert main(command) == 130  # interrupted, as the replaced run_job does
    paths = {name: small_collection / f"{name}.{'csv' if name == 'tracks' else 'json'}"
             for name in ("tracks", "genre_tree", "scene_tree")}
    assert seen["job"] == "collection_tree_build"
    assert seen["tags"][INPUTS_TAG] == inputs_key(input_digests(paths))
    assert seen["tick"].run_requests == []
    assert seen["tick"].skip_message.endswith("already builds these inputs")


def test_the_test_run_carries_no_inputs_tag(offline_cli_env, small_collection, monkeypatch):
    """The sensors never request the test run, and it builds only 20 seeds: it must not stand in for a build."""
    from collection_tree.cli import main

    seen = _tick_during_the_run(monkeypatch, small_collection, offline_cli_env)
    assert main(["build", "--test"]) == 130
    assert seen["job"] == "collection_tree_test" and INPUTS_TAG not in seen["tags"]
    assert len(seen["tick"].run_requests) == 1
