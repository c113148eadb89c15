"""A failing API never passes for success (issue 12, defect 2): when more than ``max_fallback_share`` of a
phase's calls end in their fallback (every request answered 529, or nothing listening on the port), the
phase fails naming itself, the count and the last API error (never the key), nothing downstream is
written, the last good tree stays byte for byte, and a resume once the API is back continues with the
answers that did arrive taken from the cache."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    Definitions,
    JobDefinition,
    ReexecutionOptions,
    build_reconstructable_job,
    execute_job,
    in_process_executor,
)
from fake_api import DUMMY_KEY

from collection_tree import settings
from collection_tree.assets.modes import TEST
from collection_tree.assets.pipeline import build_assets, build_checks
from collection_tree.jobs import collection_tree_test_job
from collection_tree.operations import TEST_JOB
from collection_tree.resources.factory import build_resources

pytestmark = pytest.mark.dagster_instance
BIN = Path(sys.executable).parent


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "collection-tree"), *args], env=env, capture_output=True, text=True,
                          timeout=600)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("outage", ["529", "closed_port"])
def test_an_outage_fails_the_build_and_leaves_the_last_tree(build_env, outage):
    env, api = dict(build_env.env), build_env.api
    tree = build_env.out / "test_run" / "curated_collection.json"
    good = cli({**env, "COLLECTION_TREE_LLM": "offline"}, "build", "--test")
    assert good.returncode == 0, good.stderr[-3000:]
    last_good = tree.read_bytes()

    if outage == "529":
        api.add_rule("529")
    else:
        env["ANTHROPIC_BASE_URL"] = f"http://127.0.0.1:{closed_port()}"
    failed = cli(env, "build", "--test")
    assert failed.returncode != 0
    assert tree.read_bytes() == last_good  # the outage did not replace the last good tree
    last = failed.stderr.strip().splitlines()[-1]
    assert "[named_clusters] 1 of 1 LLM calls ended in a fallback" in last, failed.stderr[-3000:]
    assert ("HTTP 529 overloaded_error" if outage == "529" else "cannot reach the API") in last
    assert DUMMY_KEY not in failed.stderr + failed.stdout
    assert "--resume" in failed.stderr  # the API may come back: resuming is the advice
    with DagsterInstance.from_config(str(build_env.home)) as instance:
        run = instance.get_runs(limit=1)[0]
        assert run.status.value == "FAILURE"
        assert instance.get_latest_materialization_event(TEST.key("named_clusters")).run_id != run.run_id

    if outage == "529":
        api.clear_faults()
        resumed = cli(env, "build", "--test", "--resume")
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert tree.read_bytes() != last_good
        assert api.message_requests("name_clusters_brief")[-1].status == 200


def job_under_test() -> JobDefinition:
    """The test run wired as definitions.py wires it, from the environment (reconstructable)."""
    resources = build_resources(settings.current().with_values(llm="anthropic"))
    defs = Definitions(assets=build_assets(TEST), asset_checks=build_checks(TEST), jobs=[collection_tree_test_job],
                       resources=resources, executor=in_process_executor)
    return defs.resolve_job_def(TEST_JOB)


def test_a_partial_outage_fails_the_phase_and_the_resume_pays_only_for_the_rest(build_env, monkeypatch):
    for name, value in build_env.env.items():
        monkeypatch.setenv(name, value)
    api, solver = build_env.api, build_env.solver
    # 20 seeds named 2 per call (fixed batches: max_batch_size 0), one call at a time: 10 calls. The first
    # 3 requests are answered, every later one (retries included) is a 529: 7 of 10 calls end in the fallback.
    naming = {"ops": {"test_run__named_clusters": {"config": {"batch_size": 2, "max_batch_size": 0, "workers": 1}}}}
    api.add_rule("529", task="name_clusters_brief", calls=range(4, 10_000))
    job = build_reconstructable_job(__name__, "job_under_test")
    with DagsterInstance.get() as instance:
        with execute_job(job, instance, run_config=naming) as first:
            assert not first.success
            failures = [e for e in first.all_events if e.is_step_failure]
        assert [e.step_key for e in failures] == ["test_run__named_clusters"]
        failure = failures[0].step_failure_data
        assert failure.user_failure_data is not None
        description = failure.user_failure_data.description
        assert "7 of 10 LLM calls ended in a fallback (70%, more than max_fallback_share 20%)" in description
        assert "HTTP 529 overloaded_error" in description and DUMMY_KEY not in description
        assert instance.get_latest_materialization_event(TEST.key("named_clusters")) is None
        answered = set(solver.payloads("name_clusters_brief"))
        assert len(answered) == 3

        api.clear_faults()
        options = ReexecutionOptions.from_failure(first.run_id, instance)
        with execute_job(job, instance, run_config=naming, reexecution_options=options) as second:
            assert second.success
        again = solver.payloads("name_clusters_brief")[3:]
        assert len(again) == 7 and answered.isdisjoint(again)  # the 3 answers came from the cache
        mat = instance.get_latest_materialization_event(TEST.key("named_clusters")).asset_materialization
        assert (mat.metadata["llm_cache_hits"].value, mat.metadata["llm_calls"].value) == (3, 7)
        assert instance.get_latest_materialization_event(AssetKey(["test_run", "collection_tree"])) is not None


def test_a_looser_max_fallback_share_lets_the_degraded_phase_through(build_env, monkeypatch):
    """The threshold is run config: at 1.0 the same outage falls back everywhere and the build completes."""
    for name, value in build_env.env.items():
        monkeypatch.setenv(name, value)
    build_env.api.add_rule("529", task="name_clusters_brief")
    config = {"ops": {"test_run__named_clusters": {"config": {"max_fallback_share": 1.0}}}}
    with DagsterInstance.get() as instance:
        result = execute_job(build_reconstructable_job(__name__, "job_under_test"), instance, run_config=config)
        with result:
            assert result.success
        mat = instance.get_latest_materialization_event(TEST.key("named_clusters")).asset_materialization
        assert mat.metadata["named_by"].value["fallback"] == mat.metadata["clusters"].value == 20
