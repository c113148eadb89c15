"""Stop and one-build-at-a-time through a real ``dagster dev`` (webserver + daemon, queued run
coordinator, default run launcher) on 127.0.0.1: two builds launched together over GraphQL never run
at once; terminating the running one mid-phase-2 cancels it within seconds, no new LLM request starts,
the last tree JSON is untouched, and the UI's "re-execute from failure" finishes it without asking the
finished batches again."""

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


def test_terminate_stops_mid_phase_and_the_run_resumes(build_env, dagster_dev):
    solver, api = build_env.solver, build_env.api
    tree = build_env.out / "curated_collection.json"
    tree.parent.mkdir(parents=True, exist_ok=True)
    tree.write_bytes(b'{"id": "the last complete tree", "status": "complete"}')
    solver.latency = {"name_clusters": (1.0, 2.5)}
    two_workers = {"ops": {"named_clusters": {"config": {"workers": 2}}}}  # 11 batches, 2 at a time

    first = dagster_dev.launch(two_workers)
    second = dagster_dev.launch(two_workers)
    with DagsterInstance.from_config(str(build_env.home)) as instance:
        def status(run_id: str) -> DagsterRunStatus:
            return instance.get_run_by_id(run_id).status

        def mid_phase_2() -> bool:
            active = (DagsterRunStatus.STARTING, DagsterRunStatus.STARTED)
            assert status(second) == DagsterRunStatus.QUEUED, "two builds at once"
            assert status(first) in (DagsterRunStatus.QUEUED, *active)
            return len(solver.payloads("name_clusters", before=time.time() - 0.3)) >= 2

        wait_for(mid_phase_2, 240, "the first build to get half-way through phase 2", interval=0.1)
        assert status(first) == DagsterRunStatus.STARTED

        dagster_dev.terminate(second)  # still queued: canceled without ever starting
        wait_for(lambda: status(second) == DagsterRunStatus.CANCELED, 30, "the queued run to cancel")
        finished = set(solver.payloads("name_clusters", before=time.time() - 0.3))
        terminated_at, terminated_mono = time.time(), time.monotonic()
        dagster_dev.terminate(first)
        wait_for(lambda: status(first) == DagsterRunStatus.CANCELED, 30, "the running build to cancel")
        canceled_after = time.time() - terminated_at

        seen = len(api.requests)
        time.sleep(3)
        assert len(api.requests) == seen, "LLM requests after the run was canceled"
        late = [r for r in api.requests if r.started > terminated_mono + 1.0]  # the server's clock is ours
        assert late == [], f"{len(late)} request(s) started more than 1 s after Terminate"
        asked = len(solver.payloads("name_clusters"))
        assert asked < 11 - 2, f"{asked} naming batches answered: queued batches were not cancelled"
        assert tree.read_bytes() == b'{"id": "the last complete tree", "status": "complete"}'
        assert canceled_after < 30
        print(f"canceled {canceled_after:.1f}s after Terminate; naming batches answered: {asked} of 11")
        assert instance.get_run_by_id(second).status == DagsterRunStatus.CANCELED
        assert not [e for e in instance.all_logs(second) if e.dagster_event and e.dagster_event.is_step_start]

        solver.latency = {}
        resumed = dagster_dev.reexecute_from_failure(first)
        wait_for(lambda: instance.get_run_by_id(resumed).is_finished, 300, "the re-execution to finish",
                 interval=0.5)
        assert status(resumed) == DagsterRunStatus.SUCCESS
        again = solver.payloads("name_clusters", after=terminated_at)
        assert again and finished.isdisjoint(again), "finished batches were asked again"
    assert tree.read_bytes() != b'{"id": "the last complete tree", "status": "complete"}'  # the new tree
