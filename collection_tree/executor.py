"""The code location's executor: Dagster's in-process executor, holding the output folder's build lock
for the whole run.

Every run of the code location goes through it, whoever starts it: ``dagster dev`` launches, the
schedule, the sensor, ``dagster asset materialize`` and single-asset materialisations from the UI, and
``collection-tree build --resume`` (re-execution). A run that finds the lock taken logs who holds it and
waits its turn (Terminate still stops it). ``collection-tree build`` takes the same lock itself before
it starts a run (``execute_in_process`` bypasses the job's executor), and refuses or waits (``--wait``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dagster import executor, in_process_executor
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.execution.retries import RetryMode
from dagster._core.execution.step_dependency_config import StepDependencyConfig
from dagster._core.executor.base import Executor

from collection_tree import settings
from collection_tree.core.build_lock import BuildLock, BuildLockBusy


class BuildLockedExecutor(Executor):
    """Wraps another executor: takes the build lock, runs the plan, releases the lock."""

    def __init__(self, inner: Executor):
        self.inner = inner

    @property
    def retries(self) -> RetryMode:
        return self.inner.retries

    @property
    def step_dependency_config(self) -> StepDependencyConfig:
        return self.inner.step_dependency_config

    def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[DagsterEvent]:
        lock = BuildLock(settings.output_dir())
        command = f"Dagster run of {plan_context.job_name}"
        try:
            lock.acquire(run_id=plan_context.run_id, command=command, wait=False)
        except BuildLockBusy as busy:  # say who holds it, then wait for it
            who = busy.holder.describe() if busy.holder else "another build"
            yield DagsterEvent.engine_event(plan_context, f"waiting for the build lock on {lock.folder}: held by "
                                                          f"{who}", EngineEventData())
            lock.acquire(run_id=plan_context.run_id, command=command, wait=True)
        try:
            yield DagsterEvent.engine_event(plan_context, f"build lock on {lock.folder} held by this run",
                                            EngineEventData())
            yield from self.inner.execute(plan_context, execution_plan)
        finally:
            lock.release()


@executor(name="in_process_with_build_lock", config_schema=in_process_executor.config_schema)
def in_process_with_build_lock(init_context: Any) -> BuildLockedExecutor:
    """Steps in one process (no ~2 s process start per step) under the output folder's build lock."""
    return BuildLockedExecutor(in_process_executor.executor_creation_fn(init_context))
