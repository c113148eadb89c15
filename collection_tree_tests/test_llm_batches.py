"""The Message Batches path (half price) through the real SDK against the fake API's batch endpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fake_api import DUMMY_KEY, PROBE_TASK, probe_example, run_parallel

from collection_tree.llm.anthropic_provider import AnthropicBatchProvider
from collection_tree.llm.batch_journal import BatchJournal
from collection_tree.llm.client import LLMClient
from collection_tree.llm.fake_server import FakeAnthropicServer
from collection_tree.llm.interface import LLMError
from collection_tree.llm.models import cost_usd
from collection_tree.llm.offline import OfflineProvider
from collection_tree.tasks import TASKS, solve_offline


@pytest.fixture
def batch_client(anthropic_env: Any) -> Any:
    provider = AnthropicBatchProvider(base_url=anthropic_env.base_url, timeout_s=2.0, max_retries=1,
                                      linger_s=0.05, poll_s=0.01, max_wait_s=30)
    client = LLMClient(provider, max_concurrency=8)
    yield client
    client.close()


def test_concurrent_calls_travel_in_batches_at_half_price(batch_client: Any, probe_task: Any,
                                                          anthropic_env: Any) -> None:
    payloads = [probe_example(4 + i) for i in range(6)]
    answers = run_parallel(lambda i: batch_client.call(probe_task.request(payloads[i]), "batch"), 6)
    offline = LLMClient(OfflineProvider())
    assert answers == [offline.call(probe_task.request(p), "x") for p in payloads]
    items = [r for r in anthropic_env.requests if r.path == "/v1/messages/batches"]
    assert len(items) == 6 and anthropic_env.message_requests() == []  # nothing went through /v1/messages
    assert 1 <= batch_client.provider.batches_sent < 6  # calls were grouped
    for record in batch_client.records:
        usage = record.usage
        assert record.cost_usd == pytest.approx(cost_usd(record.model, usage.input_tokens, usage.output_tokens,
                                                         usage.cache_creation_input_tokens,
                                                         usage.cache_read_input_tokens) / 2)


def test_errored_and_expired_items_fail_alone(batch_client: Any, probe_task: Any, anthropic_env: Any) -> None:
    anthropic_env.add_rule("500", task=PROBE_TASK, calls=[2])
    anthropic_env.add_rule("hang", task=PROBE_TASK, calls=[3])
    provider = batch_client.provider
    model = "claude-haiku-5-5"
    results = provider.complete_many([(probe_task.request(probe_example(4 + i)), model) for i in range(4)])
    assert [type(r).__name__ for r in results] == ["ProviderAnswer", "LLMError", "LLMError", "ProviderAnswer"]
    assert results[1].kind == "unavailable" and "errored" in results[1].reason
    assert "expired" in results[2].reason
    assert provider.batches_sent == 1


def test_a_spend_limit_error_on_a_batch_item_is_a_quota_error(batch_client: Any, probe_task: Any,
                                                        anthropic_env: Any) -> None:
    anthropic_env.add_rule("quota", task=PROBE_TASK)
    results = batch_client.provider.complete_many([(probe_task.request(probe_example()), "claude-haiku-5-5")])
    assert isinstance(results[0], LLMError) and results[0].kind == "quota"


# ------------------------------------------------------------------ a restart collects, never resends
CHILD = """
import sys
from collection_tree.llm.anthropic_provider import AnthropicBatchProvider
from collection_tree.llm.batch_journal import BatchJournal
from collection_tree.tasks import TASKS
task = TASKS["name_clusters"]
provider = AnthropicBatchProvider(base_url=sys.argv[1], timeout_s=5.0, max_retries=1, linger_s=0.05,
                                  poll_s=0.05, journal=BatchJournal(sys.argv[2]))
provider.complete(task.request(task.example()), "claude-haiku-5-5")  # killed while the batch runs
"""


def test_a_batch_sent_before_a_kill_is_collected_by_the_next_process_not_sent_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", DUMMY_KEY)
    journal_path = tmp_path / "llm_batches.json"
    with FakeAnthropicServer(solver=solve_offline, batch_poll_delay_s=3.0) as server:
        child = subprocess.Popen([sys.executable, "-c", CHILD, server.base_url, str(journal_path)], env=os.environ)
        try:
            deadline = time.monotonic() + 60
            while not (journal_path.exists() and BatchJournal(journal_path).open_batches()):
                assert child.poll() is None and time.monotonic() < deadline, "the child never sent its batch"
                time.sleep(0.02)
        finally:
            child.kill()
            child.wait()
        sent = BatchJournal(journal_path).open_batches()
        assert len(sent) == 1

        task = TASKS["name_clusters"]
        provider = AnthropicBatchProvider(base_url=server.base_url, timeout_s=5.0, max_retries=1, linger_s=0.05,
                                          poll_s=0.05, journal=BatchJournal(journal_path))
        answer = provider.complete(task.request(task.example()), "claude-haiku-5-5")
        assert answer.batch and json.loads(answer.text) == solve_offline(task.name, task.example())
        assert provider.batches_sent == 0  # collected the batch the killed process paid for
        assert {r.batch_id for r in server.requests if r.path == "/v1/messages/batches"} == set(sent)
        assert BatchJournal(journal_path).open_batches() == []  # read back: struck off


def test_unattended_runs_use_batches_when_they_would_call_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    from collection_tree.llm.factory import choose_provider_name
    from collection_tree.settings import Settings

    keyed = Settings.from_env({"ANTHROPIC_API_KEY": "x"})
    assert choose_provider_name(cfg=keyed) == "anthropic"
    assert choose_provider_name(cfg=keyed, unattended=True) == "anthropic-batch"
    assert choose_provider_name(cfg=Settings.from_env({}), unattended=True) == "offline"  # no key: no API
    interactive = Settings.from_env({"ANTHROPIC_API_KEY": "x", "COLLECTION_TREE_UNATTENDED_LLM": "anthropic"})
    assert choose_provider_name(cfg=interactive, unattended=True) == "anthropic"
    with pytest.raises(ValueError, match="COLLECTION_TREE_UNATTENDED_LLM"):
        choose_provider_name(cfg=Settings.from_env({"ANTHROPIC_API_KEY": "x",
                                                   "COLLECTION_TREE_UNATTENDED_LLM": "cheap"}), unattended=True)


def test_a_scheduled_run_calls_the_api_through_batches_and_an_interactive_one_does_not(
        tmp_path: Path, anthropic_env: Any) -> None:
    from dagster import AssetSelection, DagsterInstance, materialize
    from helpers import collection_resources

    from collection_tree.assets.modes import FULL
    from collection_tree.assets.pipeline import build_assets
    from collection_tree.demo import write_demo_collection
    from collection_tree.resources.llm import UNATTENDED_TAG

    folder = tmp_path / "demo"
    write_demo_collection(folder, 300, 5)
    phase2 = AssetSelection.assets(FULL.key("named_clusters")).upstream()
    for tags, out in (({UNATTENDED_TAG: "true"}, "scheduled"), ({}, "interactive")):
        anthropic_env.reset()
        result = materialize(build_assets(FULL), selection=phase2, instance=DagsterInstance.ephemeral(), tags=tags,
                             resources=collection_resources(tmp_path / out, folder, llm_cache="off", llm="anthropic"))
        assert result.success
        items = [r for r in anthropic_env.requests if r.path == "/v1/messages/batches"]
        if out == "scheduled":
            assert items and anthropic_env.message_requests() == []  # every call a batch item, at half price
            assert (tmp_path / out / "llm_batches.json").exists()
            assert BatchJournal(tmp_path / out / "llm_batches.json").open_batches() == []  # all read back
        else:
            assert not items and anthropic_env.message_requests()
