"""One build at a time per output folder (issue 12, defect 3), whoever starts it: the lock itself (a
second holder is refused with the first one named, a killed holder's lock is taken over, re-entry within
a process), ``collection-tree build`` refusing or waiting (``--wait``), two builds started together on
one folder never mixing, and a Dagster run (``dagster asset materialize``) waiting for the lock."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from dagster import DagsterEventType, DagsterInstance

from collection_tree.core.build_lock import HOLDER_NAME, BuildLock, BuildLockBusy

BIN = Path(sys.executable).parent
PROJECT = Path(__file__).resolve().parents[1]
GENIUS = PROJECT.parent / "shared" / "data" / "genius-2000s"

HOLDER = textwrap.dedent("""
    import sys
    from collection_tree.core.build_lock import BuildLock
    BuildLock(sys.argv[1]).acquire(run_id="run-held-elsewhere", command="a test holder")
    print("held", flush=True)
    sys.stdin.read()  # hold until killed or stdin closes
""")


def start_holder(folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def wait_for(predicate, timeout: float, what: str):
    """Poll until ``predicate()`` is truthy (``timeout`` only guards against a hang)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_second_holder_is_refused_with_the_first_named_and_a_killed_holder_is_taken_over(tmp_path):
    proc = start_holder(tmp_path)
    try:
        with pytest.raises(BuildLockBusy) as busy:
            BuildLock(tmp_path).acquire(run_id="mine")
        message = str(busy.value)
        assert "run run-held-elsewhere (a test holder)" in message and f"pid {proc.pid}" in message
        assert "started 20" in message and str(tmp_path.resolve()) in message
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    # the kernel dropped the dead process's lock; its holder record is stale and gets replaced
    lock = BuildLock(tmp_path)
    lock.acquire(run_id="mine")
    try:
        assert lock.holder().run_id == "mine" and lock.holder().pid == os.getpid()
    finally:
        lock.release()
    assert not (tmp_path / HOLDER_NAME).exists()


def test_the_lock_is_reentrant_within_a_process(tmp_path):
    outer, inner = BuildLock(tmp_path), BuildLock(tmp_path)
    outer.acquire(command="collection-tree build")
    inner.acquire(run_id="the-run", command="Dagster run")  # the run's executor, same process
    assert outer.holder().run_id == "the-run"
    inner.release()
    assert outer.held_here() and outer.holder().run_id == "the-run"
    outer.release()
    assert not outer.held_here() and outer.holder() is None


# -- the CLI -----------------------------------------------------------------------------------------

def user_env(tmp_path: Path, name: str, collection: Path, out: Path) -> dict[str, str]:
    home = tmp_path / f"home-{name}"  # different Dagster instances: only the lock can keep them apart
    home.mkdir()
    shutil.copy(PROJECT / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COLLECTION_TREE_", "ANTHROPIC_"))}
    env.update({"DAGSTER_HOME": str(home), "COLLECTION_TREE_OUTPUT": str(out), "COLLECTION_TREE_LLM": "offline",
                "COLLECTION_TREE_TRACKS": str(collection / "tracks.csv"),
                "COLLECTION_TREE_GENRE_TREE": str(collection / "genre_tree.json"),
                "COLLECTION_TREE_SCENE_TREE": str(collection / "scene_tree.json")})
    return env


def sample_collection(folder: Path, n: int, seed: int) -> Path:
    folder.mkdir()
    tracks = pd.read_csv(GENIUS / "tracks.csv")
    tracks.sample(n=n, random_state=seed).sort_values("track_id").to_csv(folder / "tracks.csv", index=False)
    for name in ("genre_tree.json", "scene_tree.json"):
        shutil.copy(GENIUS / name, folder / name)
    return folder


@pytest.mark.dagster_instance
def test_build_is_refused_while_another_build_holds_the_output_folder(tmp_path):
    out = tmp_path / "out"
    env = user_env(tmp_path, "a", GENIUS, out)
    proc = start_holder(out)
    try:
        refused = subprocess.run([str(BIN / "collection-tree"), "build", "--test"], env=env, capture_output=True,
                                 text=True, timeout=120)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert refused.returncode == 1
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: another build is using {out.resolve()}: run run-held-elsewhere")
    assert f"pid {proc.pid}" in last and "--wait" in last
    assert not (out / "store").exists()  # nothing was started


@pytest.mark.dagster_instance
@pytest.mark.slow
def test_two_builds_started_together_on_one_folder_never_mix(tmp_path):
    out = tmp_path / "out"
    sizes = {"a": 1500, "b": 1100}
    envs = {name: user_env(tmp_path, name, sample_collection(tmp_path / f"collection-{name}", n, seed=n), out)
            for name, n in sizes.items()}
    procs = {name: subprocess.Popen([str(BIN / "collection-tree"), "build", "--wait"], env=env, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE) for name, env in envs.items()}
    results = {name: proc.communicate(timeout=900) for name, proc in procs.items()}
    for name, (stdout, stderr) in results.items():
        assert procs[name].returncode == 0, stderr[-3000:]
        # each prints the tree it built itself, not the other build's
        assert f"/{sizes[name]} (" in next(line for line in stdout.splitlines() if line.startswith("tracks assigned"))
    waited = [name for name, (_, stderr) in results.items() if "waiting for" in stderr]
    assert len(waited) == 1  # one ran, the other waited its turn


@pytest.mark.dagster_instance
def test_a_dagster_run_waits_for_the_lock(tmp_path):
    out = tmp_path / "out"
    env = user_env(tmp_path, "ui", GENIUS, out)
    proc = start_holder(out)
    try:
        run = subprocess.Popen([str(BIN / "dagster"), "asset", "materialize", "-m", "collection_tree.definitions",
                                "--select", "tracks"], env=env, cwd=PROJECT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            def waiting() -> str | None:
                runs = instance.get_runs(limit=1)
                if not runs:
                    return None
                logs = [e.user_message or (e.dagster_event.message if e.dagster_event else "")
                        for e in instance.all_logs(runs[0].run_id)]
                return runs[0].run_id if any("waiting for the build lock" in (m or "") for m in logs) else None

            run_id = wait_for(waiting, 120, "the run to wait for the lock")
            started = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_START).records
            assert started == []  # no step runs while another build holds the folder
            proc.kill()
            proc.wait(timeout=30)
            output, _ = run.communicate(timeout=300)
            assert run.returncode == 0, output[-3000:]
            steps = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_SUCCESS).records
            assert [r.event_log_entry.step_key for r in steps] == ["tracks"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
