"""The code location's executor in multiprocess mode: independent steps run in child processes while
the orchestrating process holds the output folder's build lock, and a child neither takes nor waits
on it."""

import gc
import json
import os
from pathlib import Path

import pytest
from dagster import DagsterInstance, In, Nothing, execute_job, job, op
from dagster._core.definitions.reconstruct import ReconstructableJob  # a job by file path, for the step processes

from collection_tree.core.build_lock import BuildLock, BuildLockBusy
from collection_tree.core.heap import BUILD_THRESHOLDS
from collection_tree.executor import build_locked_executor


def _record_step(name: str) -> None:
    """Runs in the step's process: notes its pid and whether the build lock is free to it."""
    folder = Path(os.environ["COLLECTION_TREE_OUTPUT"])
    lock = BuildLock(folder)
    try:
        lock.acquire(command=f"step {name}", wait=False)
        lock.release()
        busy = False
    except BuildLockBusy:
        busy = True
    holder = lock.holder()
    (folder / f"{name}.json").write_text(json.dumps(
        {"pid": os.getpid(), "lock_busy": busy, "holder_pid": holder.pid if holder else None,
         "gc_threshold": list(gc.get_threshold())}))


@op
def export_a() -> None:
    _record_step("export_a")


@op
def export_b() -> None:
    _record_step("export_b")


@op(ins={"after": In(Nothing)})
def after_exports() -> None:
    _record_step("after_exports")


@job(executor_def=build_locked_executor)
def two_exports():
    after_exports(after=[export_a(), export_b()])


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, execution: dict | None) -> dict[str, dict]:
    out = tmp_path / "output"
    out.mkdir()
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("COLLECTION_TREE_OUTPUT", str(out))
    run_config = {"execution": {"config": execution}} if execution is not None else {}
    with DagsterInstance.local_temp(str(tmp_path / "home")) as instance:
        job_by_file = ReconstructableJob.for_file(__file__, "two_exports")
        result = execute_job(job_by_file, instance=instance, run_config=run_config)
        assert result.success
    return {name: json.loads((out / f"{name}.json").read_text()) for name in ("export_a", "export_b", "after_exports")}


def test_multiprocess_steps_run_in_children_under_the_parents_lock(tmp_path, monkeypatch):
    steps = _run(tmp_path, monkeypatch, {"multiprocess": {"max_concurrent": 2}})
    pids = {step["pid"] for step in steps.values()}
    assert os.getpid() not in pids and len(pids) == 3  # one child process per step
    for step in steps.values():
        assert step["lock_busy"]  # held by the orchestrating process, not re-entered by the child
        assert step["holder_pid"] == os.getpid()


def test_in_process_is_the_default(tmp_path, monkeypatch):
    before = gc.get_threshold()
    steps = _run(tmp_path, monkeypatch, None)
    assert gc.get_threshold() == before  # the build's collector settings end with the run
    for step in steps.values():
        assert step["pid"] == os.getpid()
        assert tuple(step["gc_threshold"]) == BUILD_THRESHOLDS  # the run's steps ran under core.heap.build_heap
        assert not step["lock_busy"]  # re-entrant within the process that holds it
        assert step["holder_pid"] == os.getpid()
