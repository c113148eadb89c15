"""The code location's executor: Dagster's in-process executor, holding the output folder's build lock
for the whole run.

Every run of the code location goes through it, whoever starts it: ``dagster dev`` launches, the
schedule, the sensor, ``dagster asset materialize`` and single-asset materialisations from the UI, and
``collection-tree build`` and ``update`` (``operations.run_job``, ``resume_run``). A run that finds the
lock taken logs who holds it and waits its turn (Terminate still stops it). ``collection-tree build``
takes the same lock itself before it starts a run, so it can refuse at once or wait (``--wait``) and
name the holder; the executor then re-enters it and records the run's id.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster import DagsterEvent, Executor, Field, Selector, executor, in_process_executor, multiprocess_executor

from collection_tree import settings
from collection_tree.core.atomic import removals_in_background
from collection_tree.core.build_lock import BuildLock, BuildLockBusy
from collection_tree.core.heap import build_heap
from collection_tree.core.workers import build_workers
from collection_tree.event_log import event_log_kept_open


def output_folder(run_config: Any) -> Path:
    """The run's output folder: ``pipeline_settings.output_dir`` when the run configures it (a launch
    with another output folder), else the settings' (the environment's)."""
    resources = (run_config or {}).get("resources") or {}
    configured = ((resources.get("pipeline_settings") or {}).get("config") or {}).get("output_dir")
    return Path(configured) if isinstance(configured, str) and configured else settings.current().output_dir()


class BuildLockedExecutor(Executor):
    """Wraps another executor: takes the build lock, runs the plan, releases the lock."""

    def __init__(self, inner: Executor):
        self.inner = inner

    @property
    def retries(self) -> Any:
        return self.inner.retries

    @property
    def step_dependency_config(self) -> Any:
        return self.inner.step_dependency_config

    def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[DagsterEvent]:
        lock = BuildLock(output_folder(plan_context.run_config))
        command = f"Dagster run of {plan_context.job_name}"
        try:
            lock.acquire(run_id=plan_context.run_id, command=command, wait=False)
        except BuildLockBusy as busy:  # say who holds it, then wait for it
            who = busy.holder.describe() if busy.holder else "another build"
            plan_context.log.info(f"waiting for the build lock on {lock.folder}: held by {who}")
            lock.acquire(run_id=plan_context.run_id, command=command, wait=True)
        try:
            plan_context.log.info(f"build lock on {lock.folder} held by this run")
            # old export folders go as the run goes on; the event log's files stay between events
            with removals_in_background(), build_heap(), build_workers(), \
                    event_log_kept_open(plan_context.instance, plan_context.run_id):
                yield from self.inner.execute(plan_context, execution_plan)
        finally:
            lock.release()


# ``execution: {config: {in_process: {}}}`` (the default) or ``{multiprocess: {max_concurrent: N}}``:
# the same choice as Dagster's ``multi_or_in_process_executor``, but in-process unless asked.
EXECUTION_CONFIG = Field(
    Selector({"in_process": in_process_executor.config_schema.as_field(),
              "multiprocess": multiprocess_executor.config_schema.as_field()}),
    default_value={"in_process": {}},
    description="in_process (default: one process, no process start per step) or multiprocess (independent "
                "steps such as the exports run in parallel child processes, max_concurrent at a time)",
)


def _inner_executor(init_context: Any) -> Executor:
    """Dagster's own executor for the chosen mode, built from its own config."""
    mode, config = next(iter(init_context.executor_config.items()))
    inner = multiprocess_executor if mode == "multiprocess" else in_process_executor
    return inner.executor_creation_fn(init_context._replace(executor_config=config or {}))


@executor(name="build_locked_executor", config_schema=EXECUTION_CONFIG)
def build_locked_executor(init_context: Any) -> BuildLockedExecutor:
    """The run under the output folder's build lock, its steps in one process (default) or, with
    ``multiprocess``, in child processes. Only this orchestrating process takes the lock: a child runs
    one step and never enters ``BuildLockedExecutor.execute``, so it cannot wait on its parent's lock."""
    return BuildLockedExecutor(_inner_executor(init_context))
