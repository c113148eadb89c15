"""The Message Batches path (half price) through the real SDK against the fake API's batch endpoints."""

from __future__ import annotations

from typing import Any

import pytest
from fake_api import PROBE_TASK, probe_example, run_parallel

from collection_tree.llm.anthropic_provider import AnthropicBatchProvider
from collection_tree.llm.client import LLMClient
from collection_tree.llm.interface import LLMError
from collection_tree.llm.models import cost_usd
from collection_tree.llm.offline import OfflineProvider


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
