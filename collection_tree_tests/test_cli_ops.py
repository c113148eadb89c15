"""Operating the build: asset states from Dagster's staleness, orphaned (SIGKILLed) runs and their pool
slots, the progress bar, and the ``build`` / ``status`` / ``delete`` commands as a user runs them."""

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from dagster import DagsterInstance, DagsterRunStatus, Definitions, materialize
from dagster._core.instance.ref import InstanceRef
from helpers import collection_resources

from collection_tree import operations as ops
from collection_tree.assets.llm_step import LLM_POOL
from collection_tree.assets.modes import FULL
from collection_tree.assets.pipeline import build_assets
from collection_tree.assets.progress import PhaseProgress
from collection_tree.commands.build import ProgressBar
from collection_tree.demo import input_paths
from collection_tree.settings import Places

PROJECT = Path(__file__).resolve().parents[1]
GENIUS = PROJECT.parent / "shared" / "data" / "genius-2000s"
BIN = Path(sys.executable).parent
FOUNDATION = ("tracks", "genre_tree", "scene_tree", "seed_clusters")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A DAGSTER_HOME with the project's dagster.yaml (run queue, pool limit 1)."""
    path = tmp_path / "home"
    path.mkdir()
    shutil.copy(PROJECT / ".dagster_home" / "dagster.yaml", path / "dagster.yaml")
    return path


@pytest.fixture
def instance(home: Path):
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as inst:
        yield inst


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(GENIUS, folder)
    past = time.time() - 60
    for path in folder.iterdir():
        os.utime(path, (past, past))
    return folder


def foundation_defs(tmp_path: Path, data: Path) -> Definitions:
    assets = [a for a in build_assets(FULL) if a.key.path[-1] in FOUNDATION]
    return Definitions(assets=assets, resources=collection_resources(tmp_path / "out", data, llm_cache="off"))


def states(instance, defs, out: Path, data: Path) -> dict[str, tuple[str, str]]:
    inputs = input_paths(data)  # the demo's file names are the real collection's
    return {s.key: (s.state, s.detail) for s in ops.asset_states(instance, defs, FULL.group, Places.at(out), inputs)}


def test_asset_states_follow_dagster_staleness_and_the_store(tmp_path, monkeypatch, instance, data):
    defs = foundation_defs(tmp_path, data)
    out = tmp_path / "out"
    assert set(states(instance, defs, out, data).values()) == {("missing", "never materialised")}

    assets = list(defs.assets)
    resources = defs.resources
    assert materialize(assets, resources=resources, instance=instance).success
    assert {s for s, _ in states(instance, defs, out, data).values()} == {"materialised"}

    # a file touched but not changed is not stale: inputs are compared by content, not by time
    os.utime(data / "scene_tree.json")
    assert {s for s, _ in states(instance, defs, out, data).values()} == {"materialised"}

    # an input file edited after it was read: its asset is stale, and so is everything downstream
    scene = data / "scene_tree.json"
    scene.write_text(scene.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    now = states(instance, defs, out, data)
    assert now["scene_tree"][0] == "stale" and "scene_tree.json changed since (sha256" in now["scene_tree"][1]
    assert now["seed_clusters"] == ("stale", "upstream scene_tree is stale")
    assert now["genre_tree"] == now["tracks"] == ("materialised", "")

    # the genre tree read again, same content: same data version, nothing downstream stale
    genre = [a for a in assets if a.key.path[-1] == "genre_tree"]
    assert materialize(assets, resources=resources, instance=instance, selection=genre).success
    # the genre tree read again with the same content: the same data version, nothing new downstream
    assert states(instance, defs, out, data)["seed_clusters"] == ("stale", "upstream scene_tree is stale")
    # the scene tree read again with its new content: a new data version makes seed_clusters stale
    scene_asset = [a for a in assets if a.key.path[-1] == "scene_tree"]
    assert materialize(assets, resources=resources, instance=instance, selection=scene_asset).success
    assert states(instance, defs, out, data)["scene_tree"] == ("materialised", "")
    assert states(instance, defs, out, data)["seed_clusters"] == ("stale", "scene_tree has a new materialization")

    # the stored output deleted behind Dagster's back
    (tmp_path / "out" / "store" / "seed_clusters.parquet").unlink()
    assert states(instance, defs, out, data)["seed_clusters"] == ("missing", "stored output deleted")


def test_status_tells_another_collection_from_the_built_one(tmp_path, monkeypatch, instance, data):
    """Pointed at another collection with older files, the modification times say nothing changed; the
    hashes tell the inputs differ from the ones built."""
    monkeypatch.setenv("COLLECTION_TREE_OUTPUT", str(tmp_path / "out"))
    monkeypatch.delenv("COLLECTION_TREE_STORE", raising=False)
    defs = foundation_defs(tmp_path, data)
    assert materialize(list(defs.assets), resources=defs.resources, instance=instance).success
    other = tmp_path / "other"
    shutil.copytree(data, other)
    tracks = (other / "tracks.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (other / "tracks.csv").write_text("".join(tracks[:-1]), encoding="utf-8")  # one track fewer
    past = time.time() - 3600
    os.utime(other / "tracks.csv", (past, past))
    for name in ("tracks.csv", "genre_tree.json", "scene_tree.json"):
        monkeypatch.setenv(f"COLLECTION_TREE_{name.split('.')[0].upper()}", str(other / name))
    now = states(instance, defs, tmp_path / "out", other)
    assert now["tracks"][0] == "stale"
    assert now["tracks"][1].startswith(f"configured input {other / 'tracks.csv'} is not the built one "
                                       f"({data / 'tracks.csv'}): sha256 ")
    # the trees have the built content (only their tracks differ): stale through the tracks alone
    assert now["genre_tree"] == now["scene_tree"] == ("stale", "upstream tracks is stale")
    assert now["seed_clusters"][0] == "stale"


SLEEPER = textwrap.dedent("""
    import sys, time
    from dagster import DagsterInstance, job, op

    @op(pool=sys.argv[2])
    def hold():
        print("holding", flush=True)
        time.sleep(120)

    @job(name=sys.argv[1])
    def sleeper():
        hold()

    with DagsterInstance.get() as instance:
        sleeper.execute_in_process(instance=instance)
""")


def start_sleeper(tmp_path: Path, home: Path, job_name: str) -> subprocess.Popen:
    """A run (named like a build) holding an LLM pool slot in a child process, until killed."""
    script = tmp_path / "sleeper.py"
    script.write_text(SLEEPER)
    proc = subprocess.Popen([sys.executable, str(script), job_name, LLM_POOL], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "DAGSTER_HOME": str(home)}, start_new_session=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    return proc


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.mark.dagster_instance
def test_a_killed_run_is_detected_marked_failed_and_frees_its_pool_slot(tmp_path, home, instance):
    proc = start_sleeper(tmp_path, home, ops.FULL_JOB)
    try:
        run = ops.latest_run(instance)
        assert run is not None and run.status == DagsterRunStatus.STARTED
        state = ops.run_state(instance, run)
        assert state.pid == proc.pid and state.process_alive and not state.orphaned
        assert [s.run_id for s in ops.active_runs(instance)] == [run.run_id]
        assert instance.event_log_storage.get_concurrency_info(LLM_POOL).claimed_slots
        with pytest.raises(ValueError, match="not orphaned"):
            ops.recover_orphaned_run(instance, run)
    finally:
        kill(proc)

    state = ops.run_state(instance, run)
    assert state.status == "STARTED" and state.orphaned and state.resumable and "--resume" in state.advice
    assert ops.active_runs(instance) == []  # a dead run does not block the next build
    recovered = ops.recover_orphaned_run(instance, run)
    assert recovered.status == DagsterRunStatus.FAILURE
    assert not instance.event_log_storage.get_concurrency_info(LLM_POOL).claimed_slots  # slot back in the pool
    assert ops.run_state(instance, recovered).resumable


def test_progress_logs_the_first_and_last_lines_and_at_most_one_per_interval(monkeypatch):
    """A clock stands in for time: lines between the first and the final one are kept only when
    MIN_LOG_INTERVAL_S has passed since the last logged one (each is an event in the instance)."""
    from collection_tree.assets import progress as progress_module

    clock = iter([0.0, 0.0, 0.4, 0.9, 1.1, 1.5, 1.6])
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: next(clock))
    logged: list[str] = []
    progress = PhaseProgress(SimpleNamespace(log=SimpleNamespace(info=logged.append)), "named_clusters")
    for fraction, message in [(0.1, "batch 1/5"), (0.2, "batch 2/5"), (0.3, "batch 3/5"), (0.4, "batch 4/5"),
                              (0.6, "batch 5/5"), (1.0, "named")]:
        progress(fraction, message)
    assert [ops.parse_progress(line).message for line in logged] == ["batch 1/5", "batch 4/5", "named"]


def test_progress_lines_parse_and_drive_the_bar():
    logged: list[str] = []
    context = SimpleNamespace(log=SimpleNamespace(info=logged.append))
    PhaseProgress(context, "named_clusters")(0.5, "naming batch 7/14 done")
    event = ops.parse_progress(logged[0])
    assert event is not None
    assert (event.step, event.phase_percent, event.build_percent, event.message) == (
        "named_clusters", 50.0, 15, "naming batch 7/14 done")
    assert ops.parse_progress("Loading file from: /x using JsonDocumentIOManager...") is None

    out = io.StringIO()
    bar = ProgressBar(out)
    bar(ops.RunEvent("step", step="tracks"))
    bar(event)
    bar(ops.RunEvent("step", step="genre_tree"))
    bar(ops.RunEvent("warning", step="genre_tree", message="3 unknown track ids dropped\nmore"))
    # Dagster's skip notice for a step that never started is noise after a failure: not shown
    bar(ops.RunEvent("warning", step="seed_clusters", message="Dependencies for step seed_clusters failed: "
                                                             "['tracks']. Not executing."))
    bar.close(done=True)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[....") and lines[0].endswith("0% tracks ...")
    assert "  15% named_clusters 50% | naming batch 7/14 done" in lines[1]
    assert lines[3] == "warning: [genre_tree] 3 unknown track ids dropped"
    assert not any("Not executing" in line for line in lines)
    assert lines[-1] == "[" + "#" * ProgressBar.WIDTH + "] 100% done"


def test_follower_reports_a_runs_progress_while_it_executes(tmp_path, monkeypatch, instance, data):
    defs = foundation_defs(tmp_path, data)
    seen: list[ops.RunEvent] = []
    run_id = "4b1d6c3e-0000-4000-8000-000000000001"
    follower = ops.RunFollower(instance, lambda: run_id, seen.append, interval=0.1)
    follower.start()
    try:
        job = defs.resolve_implicit_global_asset_job_def()
        assert job.execute_in_process(instance=instance, run_id=run_id).success
    finally:
        follower.finish()
    assert [e.step for e in seen if e.kind == "step"] == list(FOUNDATION)
    progress = [e for e in seen if e.kind == "progress"]
    assert progress and progress[-1].step == "seed_clusters" and progress[-1].build_percent == 5


# -- the commands, as a user runs them --------------------------------------------------------------

def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "collection-tree"), *args], env=env, capture_output=True, text=True,
                          input=stdin, timeout=180, cwd=PROJECT)


@pytest.fixture
def env(tmp_path, home, data) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "COLLECTION_TREE_"))}
    values.update({
        "DAGSTER_HOME": str(home), "COLLECTION_TREE_OUTPUT": str(tmp_path / "out"),
        "COLLECTION_TREE_TRACKS": str(data / "tracks.csv"),
        "COLLECTION_TREE_GENRE_TREE": str(data / "genre_tree.json"),
        "COLLECTION_TREE_SCENE_TREE": str(data / "scene_tree.json"), "COLLECTION_TREE_LLM": "offline",
    })
    return values


@pytest.mark.dagster_instance
def test_build_status_delete(tmp_path, env):
    out = tmp_path / "out"
    nothing = cli(env, "build", "--test", "--resume")
    assert nothing.returncode == 1 and "no collection_tree_test run to resume" in nothing.stderr

    build = cli(env, "build", "--test")
    assert build.returncode == 0, build.stderr
    bar = build.stderr.splitlines()
    assert any("seed_clusters 100% | 20 seed clusters" in line for line in bar)
    assert bar[-1].endswith("100% done")
    assert "test run finished" in build.stdout

    status = json.loads(cli(env, "status", "--test", "--json").stdout)
    assert status["latest_run"]["status"] == "SUCCESS" and not status["latest_run"]["resumable"]
    assert {a["state"] for a in status["assets"]} == {"materialised"}

    (out / "curated_collection.json").write_text("{}")
    (out / "llm_cache.sqlite").write_bytes(b"cache")
    kept = [out / "history" / "run-1.json", out / ".playlists.reuse.json", out / ".Subcrates.reuse.json"]
    kept[0].parent.mkdir()
    for path in kept:  # the kept trees (diff RUN_A RUN_B) and the exports' reuse records
        path.write_text("{}")
    refused = cli(env, "delete", stdin="")  # not a terminal and no --yes
    assert refused.returncode == 1 and (out / "store").exists()
    deleted = cli(env, "delete", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert not (out / "store").exists() and not (out / "curated_collection.json").exists()
    assert not any(path.exists() for path in kept) and not (out / "history").exists()
    assert (out / "llm_cache.sqlite").exists() and "run history is kept" in deleted.stdout

    status = json.loads(cli(env, "status", "--test", "--json").stdout)
    assert {(a["state"], a["detail"]) for a in status["assets"]} == {("missing", "stored output deleted")}
    assert status["latest_run"]["status"] == "SUCCESS"  # history kept
    assert cli(env, "delete", "--yes", "--cache").returncode == 0
    assert not (out / "llm_cache.sqlite").exists()


@pytest.mark.dagster_instance
def test_one_build_at_a_time_and_recovery_of_a_killed_one(tmp_path, home, env):
    proc = start_sleeper(tmp_path, home, ops.TEST_JOB)
    try:
        busy = cli(env, "build", "--test")
        assert busy.returncode == 1 and "one build at a time" in busy.stderr
        text = cli(env, "status", "--test").stdout
        assert "latest run:" in text and "STARTED" in text and "in progress" in text
    finally:
        kill(proc)
    status = json.loads(cli(env, "status", "--test", "--json").stdout)["latest_run"]
    assert status["orphaned"] and status["status"] == "STARTED"
    build = cli(env, "build", "--test")  # marks the dead run failed, frees its slot, builds
    assert build.returncode == 0, build.stderr
    assert "was interrupted" in build.stderr


def test_a_failed_update_is_advised_to_run_update_again_not_build_resume():
    """``build --resume`` re-executes the last full build, never an update: a failed update's advice
    is the update itself; a failed build's stays ``build --resume``."""
    from dagster import DagsterRun

    with DagsterInstance.ephemeral() as instance:
        update = instance.add_run(DagsterRun(job_name=ops.UPDATE_JOB, run_id="u" * 32,
                                             status=DagsterRunStatus.FAILURE))
        build = instance.add_run(DagsterRun(job_name=ops.FULL_JOB, run_id="b" * 32,
                                            status=DagsterRunStatus.FAILURE))
        update_state, build_state = ops.run_state(instance, update), ops.run_state(instance, build)
    assert update_state.resumable and update_state.advice.startswith("`collection-tree update` again")
    assert "--resume" not in update_state.advice
    assert build_state.resumable and "`collection-tree build --resume`" in build_state.advice
