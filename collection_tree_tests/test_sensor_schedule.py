"""tree_version_sensor (new tree versions request one full build; half-written or missing files skip
without moving the cursor) and weekly_rebuild (cron and time zone from the environment)."""

import json
import os
import shutil
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dagster import (
    AssetMaterialization,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    build_schedule_context,
    build_sensor_context,
)
from dagster._utils.schedules import cron_string_iterator
from helpers import collection_resources

from collection_tree.core.inputs import file_sha256
from collection_tree.resources.llm import UNATTENDED_TAG
from collection_tree.schedules import CRON_ENV, TIMEZONE_ENV, build_weekly_rebuild
from collection_tree.sensors import (
    CHANGED_TAG,
    INPUTS_TAG,
    TRIGGER_TAG,
    tracks_change_sensor,
    tree_version_sensor,
)

GENIUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "genius-2000s"


def settle(path: Path) -> None:
    """Make a file look written a while ago (the sensor skips files modified in the last 2 s)."""
    past = time.time() - 30
    os.utime(path, (past, past))


def write_tree(path: Path, tree_id: str, created_at: str, extra: str = "") -> None:
    doc = json.loads((GENIUS / path.name).read_text())
    doc["id"], doc["created_at"] = tree_id, created_at
    if extra:
        doc["lineages"][0]["description"] += extra
    path.write_text(json.dumps(doc))
    settle(path)


@pytest.fixture
def trees(tmp_path: Path) -> Path:
    for name in ("tracks.csv", "genre_tree.json", "scene_tree.json"):
        shutil.copy(GENIUS / name, tmp_path / name)
        settle(tmp_path / name)
    return tmp_path


def sensor_resources(output: Path, folder: Path | None = None, **values: str) -> dict:
    """The resources the sensor needs (``inputs`` and the settings it depends on), as the code
    location builds them for these settings."""
    resources = collection_resources(output, folder, **values)
    return {key: resources[key] for key in ("inputs", "pipeline_settings")}


def tick(instance: DagsterInstance, folder: Path, cursor: str | None):
    with build_sensor_context(cursor=cursor, instance=instance,
                              resources=sensor_resources(folder / "out", folder)) as context:
        return tree_version_sensor.evaluate_tick(context)


def tick_tracks(instance: DagsterInstance, folder: Path, cursor: str | None):
    with build_sensor_context(cursor=cursor, instance=instance,
                              resources=sensor_resources(folder / "out", folder)) as context:
        return tracks_change_sensor.evaluate_tick(context)


def queue(instance: DagsterInstance, request) -> DagsterRun:
    """What the sensor daemon does with a run request: a run of its job with its tags, not yet started
    (a queued one would need the code location's origin)."""
    return instance.add_run(DagsterRun(job_name=request.job_name, run_id=str(uuid.uuid4()),
                                       status=DagsterRunStatus.NOT_STARTED, tags=request.tags))


def test_both_sensors_on_one_change_of_tracks_and_trees_request_one_run(trees):
    instance = DagsterInstance.ephemeral()
    tracks_cursor = json.dumps({"tracks": {"path": str(trees / "tracks.csv"), "sha256": "an earlier file"}})
    tree_cursor = tick(instance, trees, None).cursor
    tracks = trees / "tracks.csv"
    tracks.write_text(tracks.read_text() + tracks.read_text().splitlines()[1].replace("1,", "999999,", 1) + "\n")
    settle(tracks)
    write_tree(trees / "genre_tree.json", "genre-v2", "2026-12-01T00:00:00Z")
    first = tick(instance, trees, tree_cursor)
    [request] = first.run_requests
    assert request.tags[INPUTS_TAG] and len(request.tags[INPUTS_TAG]) == 32
    # Without the tree sensor's run the tracks sensor asks for its own ...
    alone = tick_tracks(instance, trees, tracks_cursor)
    assert len(alone.run_requests) == 1 and alone.run_requests[0].tags[INPUTS_TAG] == request.tags[INPUTS_TAG]
    # ... with it queued, the same inputs are not built twice; the cursor moves on.
    run = queue(instance, request)
    second = tick_tracks(instance, trees, tracks_cursor)
    assert second.run_requests == []
    assert second.skip_message == (f"tracks file changed, but run {run.run_id[:8]} (tree_version_sensor, not started) "
                                   "already builds these inputs")
    assert json.loads(second.cursor)["tracks"]["sha256"] == file_sha256(tracks)
    # A run that ended (failed) no longer holds them: the next change is requested again.
    instance.report_run_failed(run)
    assert len(tick_tracks(instance, trees, tracks_cursor).run_requests) == 1


def test_first_tick_builds_then_unchanged_skips(trees):
    instance = DagsterInstance.ephemeral()
    first = tick(instance, trees, None)
    assert len(first.run_requests) == 1
    request = first.run_requests[0]
    assert request.tags[CHANGED_TAG] == "both" and request.tags[TRIGGER_TAG] == "tree_version_sensor"
    assert request.tags[UNATTENDED_TAG] == "true"
    assert request.tags["collection_tree/genre_tree"].startswith("genre-bea9a5cf sha256:")
    cursor = json.loads(first.cursor)
    assert cursor["genre"]["id"] == "genre-bea9a5cf" and len(cursor["genre"]["sha256"]) == 64
    assert cursor["genre"]["sha256"][:16] in request.run_key and cursor["scene"]["sha256"][:16] in request.run_key

    second = tick(instance, trees, first.cursor)
    assert second.run_requests == [] and second.skip_message == "unchanged"
    assert second.cursor == first.cursor


@pytest.mark.parametrize("which", ["genre", "scene", "both"])
def test_a_new_version_says_which_tree_changed(trees, which):
    instance = DagsterInstance.ephemeral()
    cursor = tick(instance, trees, None).cursor
    for tree in (["genre", "scene"] if which == "both" else [which]):
        write_tree(trees / f"{tree}_tree.json", f"{tree}-v2", "2026-12-01T00:00:00Z")
    result = tick(instance, trees, cursor)
    assert [r.tags[CHANGED_TAG] for r in result.run_requests] == [which]
    assert json.loads(result.cursor)[which if which != "both" else "genre"]["id"].endswith("-v2")
    # no previous build to update: the full build
    assert [r.job_name for r in result.run_requests] == ["collection_tree_build"]


def test_same_id_new_content_is_a_new_version(trees):
    instance = DagsterInstance.ephemeral()
    cursor = tick(instance, trees, None).cursor
    created = json.loads(cursor)["genre"]["created_at"]
    write_tree(trees / "genre_tree.json", "genre-bea9a5cf", created, extra=" (edited)")
    result = tick(instance, trees, cursor)
    assert [r.tags[CHANGED_TAG] for r in result.run_requests] == ["genre"]


def test_revert_to_an_earlier_file_still_requests_a_build(trees):
    instance = DagsterInstance.ephemeral()
    original = (trees / "genre_tree.json").read_bytes()
    first = tick(instance, trees, None)
    write_tree(trees / "genre_tree.json", "genre-v2", "2026-12-01T00:00:00Z")
    second = tick(instance, trees, first.cursor)
    (trees / "genre_tree.json").write_bytes(original)
    settle(trees / "genre_tree.json")
    third = tick(instance, trees, second.cursor)
    keys = [r.run_key for r in (*first.run_requests, *second.run_requests, *third.run_requests)]
    assert len(keys) == 3 and len(set(keys)) == 3  # Dagster drops a request whose run key it has seen


def test_missing_file_skips_naming_it_and_keeps_the_cursor(trees):
    instance = DagsterInstance.ephemeral()
    cursor = tick(instance, trees, None).cursor
    (trees / "scene_tree.json").unlink()
    result = tick(instance, trees, cursor)
    assert result.run_requests == []
    assert "scene_tree.json" in result.skip_message and "not found" in result.skip_message
    assert result.cursor in (None, cursor)


def test_half_written_file_skips_until_it_settles(trees):
    instance = DagsterInstance.ephemeral()
    cursor = tick(instance, trees, None).cursor
    path = trees / "genre_tree.json"
    whole = path.read_text().replace("genre-bea9a5cf", "genre-v3")
    path.write_text(whole[: len(whole) // 2])  # a writer stopped half-way
    settle(path)
    broken = tick(instance, trees, cursor)
    assert broken.run_requests == [] and "not valid JSON" in broken.skip_message
    assert broken.cursor in (None, cursor)

    path.write_text(whole)  # complete, but modified just now: maybe still being written
    fresh = tick(instance, trees, cursor)
    assert fresh.run_requests == [] and "being written" in fresh.skip_message
    assert fresh.cursor in (None, cursor)

    settle(path)
    settled = tick(instance, trees, cursor)
    assert [r.tags[CHANGED_TAG] for r in settled.run_requests] == ["genre"]


def test_first_tick_after_a_build_of_the_same_trees_does_not_rebuild(trees):
    instance = DagsterInstance.ephemeral()
    for tree in ("genre", "scene"):  # what the tree assets record when they materialise
        doc = json.loads((trees / f"{tree}_tree.json").read_text())
        instance.report_runless_asset_event(AssetMaterialization(
            asset_key=f"{tree}_tree", metadata={"tree_id": doc["id"], "created_at": doc["created_at"]}))
    result = tick(instance, trees, None)
    assert result.run_requests == [] and result.skip_message == "unchanged since the last build"
    assert json.loads(result.cursor)["scene"]["sha256"]  # the cursor starts here

    write_tree(trees / "scene_tree.json", "scene-v2", "2026-12-01T00:00:00Z")
    assert [r.tags[CHANGED_TAG] for r in tick(instance, trees, result.cursor).run_requests] == ["scene"]


def test_demo_default_and_partial_configuration(tmp_path, monkeypatch):
    instance = DagsterInstance.ephemeral()
    with build_sensor_context(instance=instance, resources=sensor_resources(tmp_path / "out")) as context:
        result = tree_version_sensor.evaluate_tick(context)
    assert str(tmp_path / "out" / "demo_collection" / "genre_tree.json") in result.skip_message
    assert not (tmp_path / "out" / "demo_collection").exists()  # a tick never generates the demo

    partial = sensor_resources(tmp_path / "out", genre_tree=str(GENIUS / "genre_tree.json"))
    with build_sensor_context(instance=instance, resources=partial) as context:
        result = tree_version_sensor.evaluate_tick(context)
    assert result.run_requests == [] and "COLLECTION_TREE_TRACKS" in result.skip_message


# -- schedule ---------------------------------------------------------------------------------------

def test_weekly_rebuild_defaults(monkeypatch):
    monkeypatch.delenv(CRON_ENV, raising=False)
    monkeypatch.delenv(TIMEZONE_ENV, raising=False)
    schedule = build_weekly_rebuild()
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 3 * * 1", "UTC")
    assert schedule.job_name == "collection_tree_build"
    start = datetime(2026, 11, 24, 12, 0, tzinfo=UTC).timestamp()  # a Tuesday
    upcoming = cron_string_iterator(start, schedule.cron_schedule, schedule.execution_timezone)
    assert next(upcoming).isoformat() == "2026-11-30T03:00:00+00:00"  # next Monday 03:00


def test_weekly_rebuild_from_the_environment(monkeypatch):
    monkeypatch.setenv(CRON_ENV, "30 4 * * 0")
    monkeypatch.setenv(TIMEZONE_ENV, "Europe/Berlin")
    schedule = build_weekly_rebuild()
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 4 * * 0", "Europe/Berlin")
    start = datetime(2026, 11, 24, 12, 0, tzinfo=UTC).timestamp()
    fire = next(cron_string_iterator(start, schedule.cron_schedule, schedule.execution_timezone))
    assert fire.isoformat() == "2026-11-29T04:30:00+01:00"  # Sunday 04:30 Berlin time
    context = build_schedule_context(scheduled_execution_time=fire)
    requests = schedule.evaluate_tick(context).run_requests
    assert len(requests) == 1 and requests[0].tags["collection_tree/trigger"] == "weekly_rebuild"
    assert requests[0].tags[UNATTENDED_TAG] == "true"  # nobody waits: batches at half price


@pytest.mark.parametrize(("env", "value"), [(CRON_ENV, "every monday"), (TIMEZONE_ENV, "Mars/Olympus")])
def test_weekly_rebuild_rejects_bad_settings_naming_the_variable(monkeypatch, env, value):
    monkeypatch.setenv(env, value)
    with pytest.raises(ValueError, match=env):
        build_weekly_rebuild()
