"""Resume: a build that failed in phase 4, or whose process was SIGKILLed in phase 3, is re-executed
from failure; finished phases load from storage and the finished LLM batches of the broken phase come
from the LLM cache (counted at the fake Anthropic API)."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    Definitions,
    JobDefinition,
    ReexecutionOptions,
    build_reconstructable_job,
    execute_job,
    in_process_executor,
)

from collection_tree import settings
from collection_tree.assets.modes import FULL
from collection_tree.assets.pipeline import build_assets, build_checks
from collection_tree.jobs import collection_tree_job
from collection_tree.llm.client import LLMClient
from collection_tree.operations import FULL_JOB
from collection_tree.resources.factory import build_resources
from collection_tree.resources.llm import LLMResource

pytestmark = pytest.mark.dagster_instance
BIN = Path(sys.executable).parent


# -- a phase-4 failure -------------------------------------------------------------------------------
# The phases answer every LLM fault the fake API can inject (429/5xx after retries, timeouts, bad JSON,
# even a fatal 401/quota) with their documented fallback, so such a fault never fails a step. What fails
# one is an exception the phase does not handle (a crash, a bug, a full disk): the provider below raises
# one on the (n+1)-th score_clusters call, after n calls really went to the fake API.

class _CrashingProvider:
    def __init__(self, inner: Any, task: str, after: int):
        self.inner, self.name, self.task, self.after = inner, inner.name, task, after
        self.calls = 0
        self._lock = threading.Lock()

    def complete(self, request: Any, model: str) -> Any:
        if request.task == self.task:
            with self._lock:
                self.calls += 1
                crash = self.calls > self.after
            if crash:
                raise RuntimeError(f"simulated crash in {self.task} call {self.calls}")
        return self.inner.complete(request, model)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class CrashingLLMResource(LLMResource):
    crash_task: str = ""
    crash_after: int = -1  # < 0: never

    def make_client(self, model_config: dict[str, Any] | None = None, stop_event: Any = None,
                    **options: Any) -> LLMClient:
        client = super().make_client(model_config=model_config, stop_event=stop_event, **options)
        if self.crash_after >= 0:
            client.provider = _CrashingProvider(client.provider, self.crash_task, self.crash_after)
        return client


def job_under_test(crash_after: int) -> JobDefinition:
    """The full build wired as definitions.py wires it, from the environment (reconstructable)."""
    resources = build_resources(settings.current(), llm=CrashingLLMResource, crash_task="score_clusters",
                                crash_after=crash_after)
    defs = Definitions(assets=build_assets(FULL), asset_checks=build_checks(FULL), jobs=[collection_tree_job],
                       resources=resources, executor=in_process_executor)
    return defs.resolve_job_def(FULL_JOB)


def steps(instance: DagsterInstance, run_id: str, event: DagsterEventType) -> set[str]:
    records = instance.get_records_for_run(run_id, of_type=event).records
    return {r.event_log_entry.step_key for r in records}


def wait_idle(api: Any, timeout: float = 120) -> None:
    """Until no request is still in flight at the fake API (``timeout`` only guards against a hang)."""
    deadline = time.monotonic() + timeout
    while api.in_flight and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.in_flight == 0, "requests still in flight at the fake API"


def test_failure_in_phase_4_resumes_from_failure(build_env, monkeypatch):
    for name, value in build_env.env.items():
        monkeypatch.setenv(name, value)
    solver = build_env.solver
    with DagsterInstance.get() as instance:
        job = build_reconstructable_job(__name__, "job_under_test", reconstructable_args=(2,))
        with execute_job(job, instance) as first:
            assert not first.success
            failed = [e.step_key for e in first.all_events if e.is_step_failure]
        assert failed == ["refined_clusters"]
        wait_idle(build_env.api)
        failed_at = time.time()
        phase_4_tasks = ("score_clusters", "rename_merged_cluster", "define_subclusters")
        before = {task: set(solver.payloads(task))
                  for task in ("name_clusters_brief", "reassign_tracks", *phase_4_tasks)}
        assert len(before["score_clusters"]) == 2 and before["name_clusters_brief"] and before["reassign_tracks"]

        fixed = build_reconstructable_job(__name__, "job_under_test", reconstructable_args=(-1,))
        options = ReexecutionOptions.from_failure(first.run_id, instance)
        with execute_job(fixed, instance, reexecution_options=options) as second:
            assert second.success
        succeeded_first = steps(instance, first.run_id, DagsterEventType.STEP_SUCCESS)
        ran_second = steps(instance, second.run_id, DagsterEventType.STEP_START)
        # only refined_clusters and what is downstream of it ran again
        assert {"tracks", "seed_clusters", "named_clusters", "assigned_clusters"} <= succeeded_first
        assert ran_second.isdisjoint(succeeded_first)
        assert {"refined_clusters", "categories", "collection_leaves", "collection_tree"} <= ran_second
        assert "refined_clusters" not in succeeded_first

        # the LLM: earlier phases asked nothing again; phase 4's finished calls were cache hits
        assert solver.payloads("name_clusters_brief", after=failed_at) == []
        assert solver.payloads("reassign_tracks", after=failed_at) == []
        again = solver.payloads("score_clusters", after=failed_at)
        assert again and before["score_clusters"].isdisjoint(again)
        refined = instance.get_latest_materialization_event(AssetKey("refined_clusters"))
        assert refined.run_id == second.run_id
        # (2 scoring calls, and the merges and splits of the first iteration when it finished before the crash;
        # a later iteration scoring a batch that did not change since the previous one hits the cache too)
        answered_before = sum(len(before[task]) for task in phase_4_tasks)
        assert refined.asset_materialization.metadata["llm_cache_hits"].value >= answered_before >= 2
        # upstream materialisations are still the first run's (loaded from storage, not recomputed)
        for name in ("named_clusters", "assigned_clusters"):
            assert instance.get_latest_materialization_event(AssetKey(name)).run_id == first.run_id
    assert (build_env.out / "curated_collection.json").exists()


# -- SIGKILL mid-phase 3 ------------------------------------------------------------------------------

def cached_answers(out: Path, task: str) -> int:
    """Answers of ``task`` in the build's LLM cache (what a re-execution will not ask again)."""
    from collection_tree.llm.cache import SQLiteResponseCache

    path = out / "llm_cache.sqlite"
    if not path.exists():
        return 0
    cache = SQLiteResponseCache(path)
    try:
        return int(cache.stats()["by_task"].get(task, 0))
    finally:
        cache.close()


def test_process_killed_mid_phase_3_resumes_without_repeating_finished_batches(build_env):
    """Ordered by the cache, not by time: kill once three reassignment answers are cached; the resume asks
    exactly the batches whose answers did not reach the cache (the killed process also held the build
    lock: the kernel released it, and the resume takes it over)."""
    solver, env, api = build_env.solver, build_env.env, build_env.api
    solver.latency = {"reassign_tracks": 2.5}
    # fixed batches of 10, 2 at a time (the default's one wave would answer every batch at once)
    config = build_env.out.parent / "run.yaml"
    config.write_text("assigned_clusters:\n  batch_size: 10\n  max_batch_size: 0\n  workers: 2\n", encoding="utf-8")
    log = (build_env.out.parent / "build.log").open("w")
    proc = subprocess.Popen([str(BIN / "collection-tree"), "build", "--config", str(config)], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300  # a guard against a hang, not a measurement
        while cached_answers(build_env.out, "reassign_tracks") < 3:
            assert proc.poll() is None, "the build ended before phase 3 had answers"
            assert time.monotonic() < deadline, "phase 3 never got going"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        log.close()
    wait_idle(api)  # the dead process's calls in flight end at the server
    answered = set(solver.payloads("reassign_tracks"))
    cached = cached_answers(build_env.out, "reassign_tracks")
    named = set(solver.payloads("name_clusters_brief"))
    asked_before = len(solver.answered)
    assert proc.returncode == -signal.SIGKILL and cached >= 3

    status = subprocess.run([str(BIN / "collection-tree"), "status", "--json"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert '"orphaned": true' in status.stdout and '"status": "STARTED"' in status.stdout, status.stdout

    solver.latency = {}
    resume = subprocess.run([str(BIN / "collection-tree"), "build", "--resume"], env=env, capture_output=True,
                            text=True, timeout=600)
    assert resume.returncode == 0, resume.stderr[-3000:]
    again = [digest for task, digest, _ in solver.answered[asked_before:] if task == "reassign_tracks"]
    assert again, "phase 3 was not finished when the process died"
    # only the answered batches whose answer never reached the cache were asked again
    assert len(answered & set(again)) == len(answered) - cached
    assert not named & {d for t, d, _ in solver.answered[asked_before:] if t == "name_clusters_brief"}

    with DagsterInstance.from_config(str(build_env.home)) as instance:
        runs = instance.get_runs()
        resumed, killed = runs[0], runs[1]
        assert killed.status.value == "FAILURE" and resumed.parent_run_id == killed.run_id
        assert resumed.status.value == "SUCCESS"
        ran = steps(instance, resumed.run_id, DagsterEventType.STEP_START)
        assert "assigned_clusters" in ran and ran.isdisjoint({"tracks", "seed_clusters", "named_clusters"})
        assert instance.get_latest_materialization_event(AssetKey("named_clusters")).run_id == killed.run_id
        # the killed run's pool slot was freed (else the resumed LLM steps would wait for ever)
        assert not instance.event_log_storage.get_concurrency_info("anthropic_api").claimed_slots
