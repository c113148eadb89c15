"""Stop and one-build-at-a-time through a real ``dagster dev`` (webserver + daemon, queued run
coordinator, default run launcher) on 127.0.0.1: two builds launched together over GraphQL never run
at once; terminating the running one mid-phase-2 cancels it, no LLM request starts after its step ended,
the last tree JSON is untouched, and the UI's "re-execute from failure" finishes it without asking the
cached batches again. Everything is ordered by events (cache contents, run events, the fake API's request
log), never by elapsed time."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from dagster import DagsterInstance, DagsterRunStatus

from collection_tree import operations as ops

pytestmark = pytest.mark.dagster_instance
BIN = Path(sys.executable).parent
PROJECT = Path(__file__).resolve().parents[1]

LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
  ... on LaunchRunSuccess { run { runId status } } ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } } ... on InvalidSubsetError { message } } }"""
REEXECUTE = """mutation($params: ReexecutionParams!) { launchRunReexecution(reexecutionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""
TERMINATE = """mutation($runId: String!) { terminateRun(runId: $runId) { __typename
  ... on TerminateRunSuccess { run { runId } } ... on TerminateRunFailure { message }
  ... on PythonError { message } } }"""
LOCATION = """{ workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class DagsterDev:
    """``dagster dev`` in its own process group; ``gql`` posts to its GraphQL endpoint."""

    def __init__(self, env: dict[str, str], log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/graphql"
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(self.port)],
            cwd=PROJECT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        response = requests.post(self.url, json={"query": query, "variables": variables}, timeout=30)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    def loaded(self) -> bool:
        assert self.proc.poll() is None, "dagster dev exited"
        try:
            entries = self.gql(LOCATION)["workspaceOrError"]["locationEntries"]
        except (requests.RequestException, KeyError, TypeError):
            return False
        kinds = {e["name"]: (e["locationOrLoadError"] or {}).get("__typename") for e in entries}
        assert kinds.get("collection_tree") != "PythonError", entries
        return kinds.get("collection_tree") == "RepositoryLocation"

    def launch(self, run_config: dict[str, Any]) -> str:
        selector = {"repositoryLocationName": "collection_tree", "repositoryName": "__repository__",
                    "jobName": "collection_tree_build"}
        result = self.gql(LAUNCH, params={"selector": selector, "runConfigData": run_config})["launchRun"]
        assert result["__typename"] == "LaunchRunSuccess", result
        return result["run"]["runId"]

    def terminate(self, run_id: str) -> None:
        result = self.gql(TERMINATE, runId=run_id)["terminateRun"]
        assert result["__typename"] == "TerminateRunSuccess", result

    def reexecute_from_failure(self, run_id: str) -> str:
        params = {"parentRunId": run_id, "strategy": "FROM_FAILURE"}
        result = self.gql(REEXECUTE, params=params)["launchRunReexecution"]
        assert result["__typename"] == "LaunchRunSuccess", result
        return result["run"]["runId"]

    def stop(self) -> None:
        try:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=30)
            with contextlib.suppress(ProcessLookupError):  # what is left: webserver, daemon, code server, runs
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        finally:
            self._log.close()


@pytest.fixture
def dagster_dev(build_env, tmp_path) -> Iterator[DagsterDev]:
    dev = DagsterDev(build_env.env, tmp_path / "dagster_dev.log")
    try:
        wait_for(dev.loaded, 180, "dagster dev to load the code location", interval=1.0)
        yield dev
    finally:
        dev.stop()


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


def test_terminate_stops_mid_phase_and_the_run_resumes(build_env, dagster_dev):
    """Ordered by events, never by elapsed time: the cache holds some naming answers, Terminate, the run
    process is gone, then no request started after the step ended, and the re-execution asks exactly
    the batches whose answers were not cached."""
    solver, api = build_env.solver, build_env.api
    tree = build_env.out / "curated_collection.json"
    tree.parent.mkdir(parents=True, exist_ok=True)
    tree.write_bytes(b'{"id": "the last complete tree", "status": "complete"}')
    solver.latency = {"name_clusters_brief": (1.0, 2.5)}  # slow calls, so Terminate finds the phase mid-way
    # 11 fixed batches of 20 (max_batch_size 0: the default would grow them into one wave), 2 at a time
    two_workers = {"ops": {"named_clusters": {"config": {"workers": 2, "batch_size": 20, "max_batch_size": 0}}}}
    batches = 11

    first = dagster_dev.launch(two_workers)
    second = dagster_dev.launch(two_workers)
    with DagsterInstance.from_config(str(build_env.home)) as instance:
        def status(run_id: str) -> DagsterRunStatus:
            return instance.get_run_by_id(run_id).status

        def mid_phase_2() -> bool:
            active = (DagsterRunStatus.STARTING, DagsterRunStatus.STARTED)
            assert status(second) == DagsterRunStatus.QUEUED, "two builds at once"
            assert status(first) in (DagsterRunStatus.QUEUED, *active)
            return cached_answers(build_env.out, "name_clusters_brief") >= 2

        wait_for(mid_phase_2, 240, "the first build to cache two naming answers", interval=0.1)
        assert status(first) == DagsterRunStatus.STARTED

        dagster_dev.terminate(second)  # still queued: canceled without ever starting
        wait_for(lambda: status(second) == DagsterRunStatus.CANCELED, 120, "the queued run to cancel")
        dagster_dev.terminate(first)
        wait_for(lambda: status(first) == DagsterRunStatus.CANCELED, 120, "the running build to cancel")
        pid = ops.run_pid(instance, first)
        assert pid is not None
        wait_for(lambda: not ops.process_alive(pid), 120, "the run's process to exit")
        wait_for(lambda: api.in_flight == 0, 120, "the calls in flight to end")

        # nothing started once the step had stopped: every request began before its failure event
        [step_end] = [e.timestamp for e in instance.all_logs(first)
                      if e.dagster_event and e.dagster_event.is_step_failure and e.step_key == "named_clusters"]
        requests = api.message_requests("name_clusters_brief")
        assert requests and all(r.started_at <= step_end for r in requests)
        answered = set(solver.payloads("name_clusters_brief"))
        cached = cached_answers(build_env.out, "name_clusters_brief")
        assert 2 <= cached <= len(answered) < batches - 2, "queued batches were not cancelled"
        assert tree.read_bytes() == b'{"id": "the last complete tree", "status": "complete"}'
        assert not [e for e in instance.all_logs(second) if e.dagster_event and e.dagster_event.is_step_start]
        print(f"naming batches answered before the stop: {len(answered)} of {batches}, cached: {cached}")

        solver.latency = {}
        asked_before = len(solver.answered)
        resumed = dagster_dev.reexecute_from_failure(first)
        wait_for(lambda: instance.get_run_by_id(resumed).is_finished, 300, "the re-execution to finish",
                 interval=0.5)
        assert status(resumed) == DagsterRunStatus.SUCCESS
        again = [digest for task, digest, _ in solver.answered[asked_before:] if task == "name_clusters_brief"]
        # exactly the batches without a cached answer: none of the cached ones was asked again
        assert len(again) == batches - cached
        assert len(answered & set(again)) == len(answered) - cached
    assert tree.read_bytes() != b'{"id": "the last complete tree", "status": "complete"}'  # the new tree
