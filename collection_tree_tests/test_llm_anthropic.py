"""The Anthropic provider through the real SDK against the fake API: request shape, retries and fail-fast
per fault kind, re-asks, usage and cost, bounded concurrency, and secret hygiene."""

from __future__ import annotations

import json
import logging
import socket
import traceback
from typing import Any

import pytest
from fake_api import DUMMY_KEY, probe_example, run_parallel

from collection_tree.llm.anthropic_provider import AnthropicProvider, is_quota_error
from collection_tree.llm.client import LLMClient
from collection_tree.llm.fake_server import LatencyModel
from collection_tree.llm.interface import LLMError, redact
from collection_tree.llm.models import cost_usd, get_tiered_model


def ask(client: LLMClient, spec: Any, payload: dict[str, Any] | None = None, phase: str = "p") -> dict[str, Any]:
    return client.for_phase(phase).call(spec.request(payload or spec.example()))


def test_request_shape_structured_output_and_cached_system_prompt(make_client: Any, probe_task: Any,
                                                                  anthropic_env: Any) -> None:
    provider = make_client().provider
    params = provider.params(probe_task.request(probe_example()), "claude-haiku-5-5")
    assert params["output_config"] == {"format": {"type": "json_schema", "schema": probe_task.schema}}
    assert params["system"] == [{"type": "text", "text": probe_task.system, "cache_control": {"type": "ephemeral"}}]
    assert [m["role"] for m in params["messages"]] == ["user"]  # no prefill
    assert not {"temperature", "top_p", "top_k", "tool_choice", "tools"} & set(params)


def test_answer_usage_cost_request_id_and_prompt_cache(make_client: Any, probe_task: Any, anthropic_env: Any) -> None:
    client = make_client()
    ask(client, probe_task, probe_example(6))
    ask(client, probe_task, probe_example(8))  # same system prompt, other payload
    first, second = anthropic_env.message_requests()
    assert first.cache_creation_input_tokens > 0 and first.cache_read_input_tokens == 0
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    records = [r for r in client.records if not r.cached]
    model, _ = get_tiered_model("mechanical")
    for record, logged in zip(records, (first, second), strict=True):
        assert record.model == model
        assert record.request_id == f"req_fake_{logged.seq:08d}"
        assert (record.usage.input_tokens, record.usage.output_tokens) == (logged.input_tokens, logged.output_tokens)
        assert record.cost_usd == pytest.approx(cost_usd(model, logged.input_tokens, logged.output_tokens,
                                                         logged.cache_creation_input_tokens,
                                                         logged.cache_read_input_tokens))
    stats = client.stats("p")
    assert stats["cache_write_tokens"] == first.cache_creation_input_tokens
    assert stats["cache_read_tokens"] == second.cache_read_input_tokens
    assert stats["cost_usd"] == pytest.approx(sum(r.cost_usd for r in records), abs=1e-6)


@pytest.mark.parametrize("fault", ["429", "529", "500", "503", "disconnect", "hang"])
def test_transient_faults_are_retried_by_the_sdk(fault: str, make_client: Any, probe_task: Any,
                                                 anthropic_env: Any) -> None:
    anthropic_env.script([fault, "ok"])
    client = make_client(timeout_s=0.5)
    answer = ask(client, probe_task)
    assert answer == probe_task.normalise(probe_task.solve_offline(probe_example()), probe_example())
    logged = anthropic_env.message_requests()
    assert [r.fault for r in logged] == [fault, "ok"]
    assert [r.retry_count for r in logged] == [0, 1]  # the SDK's x-stainless-retry-count
    stats = client.stats("p")
    assert (stats["llm_calls"], stats["llm_retries"], stats["llm_failures"]) == (1, 1, 0)


@pytest.mark.parametrize(("fault", "kind"), [("529", "unavailable"), ("500", "unavailable"),
                                             ("429", "rate_limited"), ("hang", "timeout"),
                                             ("disconnect", "unavailable")])
def test_persistent_faults_fail_after_the_retries(fault: str, kind: str, make_client: Any, probe_task: Any,
                                                  anthropic_env: Any) -> None:
    anthropic_env.add_rule(fault, task=probe_task.name)
    client = make_client(timeout_s=0.3, max_retries=2)
    with pytest.raises(LLMError) as info:
        ask(client, probe_task)
    assert info.value.kind == kind and not info.value.fatal
    assert len(anthropic_env.message_requests()) == 3  # 1 + max_retries, then give up
    assert client.stats("p")["llm_failures"] == 1
    assert client.stats("p")["failures_by_kind"] == {kind: 1}


@pytest.mark.parametrize(("fault", "kind"), [("quota", "quota"), ("401", "auth"), ("403", "permission")])
def test_fatal_errors_fail_fast_and_stop_later_calls(fault: str, kind: str, make_client: Any, probe_task: Any,
                                                     anthropic_env: Any) -> None:
    anthropic_env.add_rule(fault, task=probe_task.name)
    client = make_client(max_retries=4)
    with pytest.raises(LLMError) as info:
        ask(client, probe_task)
    assert info.value.kind == kind and info.value.fatal
    assert len(anthropic_env.message_requests()) == 1  # not retried
    with pytest.raises(LLMError) as again:
        ask(client, probe_task, probe_example(9))
    assert again.value.kind == kind
    assert len(anthropic_env.message_requests()) == 1  # no request for a call that cannot succeed
    assert client.stats()["llm_failures"] == 2


@pytest.mark.parametrize(("fault", "kind"), [("400", "bad_request"), ("404", "not_found"), ("413", "too_large")])
def test_client_errors_are_not_retried(fault: str, kind: str, make_client: Any, probe_task: Any,
                                       anthropic_env: Any) -> None:
    anthropic_env.script([fault])
    client = make_client(max_retries=4)
    with pytest.raises(LLMError) as info:
        ask(client, probe_task)
    assert info.value.kind == kind and not info.value.fatal
    assert len(anthropic_env.message_requests()) == 1
    ask(client, probe_task)  # the next call goes through
    assert len(anthropic_env.message_requests()) == 2


def test_rejected_parameters_come_back_as_bad_request(anthropic_env: Any, probe_task: Any) -> None:
    """The fake API, like current models, refuses sampling parameters and prefill (checked via raw SDK)."""
    import anthropic

    with anthropic.Anthropic(base_url=anthropic_env.base_url, max_retries=0) as sdk:
        with pytest.raises(anthropic.BadRequestError, match="temperature"):
            sdk.messages.create(model="claude-haiku-5-5", max_tokens=10, extra_body={"temperature": 0.2},
                                messages=[{"role": "user",
                                           "content": probe_task.request(probe_example()).user_message()}])
        with pytest.raises(anthropic.BadRequestError, match="prefill"):
            sdk.messages.create(model="claude-haiku-5-5", max_tokens=10,
                                messages=[{"role": "user", "content": "<task>x</task><input>{}</input>"},
                                          {"role": "assistant", "content": "{"}])


def test_malformed_answer_is_asked_again_once(make_client: Any, probe_task: Any, anthropic_env: Any) -> None:
    anthropic_env.script(["malformed", "ok"])
    client = make_client()
    assert ask(client, probe_task)["track_ids"]
    stats = client.stats("p")
    assert (stats["llm_calls"], stats["llm_rejected_answers"], stats["llm_failures"]) == (2, 1, 0)


@pytest.mark.parametrize(("fault", "kind"), [("malformed", "malformed"), ("empty", "malformed"),
                                             ("truncated", "truncated"), ("refusal", "refused")])
def test_bad_answers_fail_after_one_reask(fault: str, kind: str, make_client: Any, probe_task: Any,
                                          anthropic_env: Any) -> None:
    anthropic_env.add_rule(fault, task=probe_task.name)
    client = make_client()
    with pytest.raises(LLMError) as info:
        ask(client, probe_task)
    assert info.value.kind == kind
    logged = anthropic_env.message_requests()
    assert len(logged) == 2
    if fault == "truncated":  # the re-ask has twice the room
        assert [r.max_tokens for r in logged] == [probe_task.max_tokens, 2 * probe_task.max_tokens]
    stats = client.stats("p")
    assert (stats["llm_calls"], stats["llm_rejected_answers"], stats["llm_failures"]) == (2, 2, 1)
    assert stats["output_tokens"] > 0 if fault in ("malformed", "truncated") else True


def test_truncated_then_complete_answer_succeeds(make_client: Any, probe_task: Any, anthropic_env: Any) -> None:
    anthropic_env.script(["truncated", "ok"])
    client = make_client()
    assert ask(client, probe_task)["picks"]
    assert [r.max_tokens for r in anthropic_env.message_requests()] == [1024, 2048]


def test_concurrency_is_bounded_by_the_client(make_client: Any, probe_task: Any, anthropic_env: Any) -> None:
    anthropic_env.latency = LatencyModel(fixed_s=0.05)
    client = make_client(max_concurrency=3, provider_concurrency=10)
    results = run_parallel(lambda i: ask(client, probe_task, probe_example(4 + i)), 10)
    assert all(isinstance(r, dict) for r in results), results
    assert 2 <= anthropic_env.max_in_flight <= 3
    assert client.max_in_flight <= 3
    assert 2 <= client.stats()["llm_max_concurrency"] <= 3


def test_concurrency_is_bounded_by_the_provider(make_client: Any, probe_task: Any, anthropic_env: Any) -> None:
    anthropic_env.latency = LatencyModel(fixed_s=0.05)
    client = make_client(max_concurrency=10, provider_concurrency=2)
    results = run_parallel(lambda i: ask(client, probe_task, probe_example(4 + i)), 10)
    assert all(isinstance(r, dict) for r in results), results
    assert anthropic_env.max_in_flight == 2
    assert client.provider.max_in_flight == 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_api_key_never_leaks(make_client: Any, probe_task: Any, anthropic_env: Any,
                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # the SDK's and httpx's debug logs included
    client = make_client(timeout_s=0.3, max_retries=1)
    texts: list[str] = [repr(client.provider), repr(client)]
    anthropic_env.script(["ok", "401"])
    ask(client, probe_task)
    failures: list[BaseException] = []
    try:
        ask(client, probe_task, probe_example(7))
    except LLMError as exc:
        failures.append(exc)
    dead = LLMClient(AnthropicProvider(base_url=f"http://127.0.0.1:{_free_port()}", timeout_s=0.3, max_retries=1))
    try:
        ask(dead, probe_task)
    except LLMError as exc:
        failures.append(exc)
    quota = make_client(max_retries=1)
    anthropic_env.script(["quota"])
    try:
        ask(quota, probe_task, probe_example(8))
    except LLMError as exc:
        failures.append(exc)
    assert [e.kind for e in failures] == ["auth", "unavailable", "quota"]  # type: ignore[attr-defined]
    for exc in failures:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    for c in (client, dead, quota):
        texts += [json.dumps(c.stats()), json.dumps(c.timeline()), repr(c.records)]
    texts.append(caplog.text)
    texts.append(json.dumps([vars(r) for r in anthropic_env.requests]))
    assert any("HTTP Request" in t or "Sending HTTP Request" in t for t in texts)  # debug logs were captured
    for text in texts:
        assert DUMMY_KEY not in text
        assert DUMMY_KEY[12:30] not in text


def test_error_text_is_redacted(anthropic_env: Any) -> None:
    error = LLMError("t", f"proxy said: bad key {DUMMY_KEY} and sk-ant-admin01-SOMETHINGELSE")
    assert DUMMY_KEY not in str(error) and "SOMETHINGELSE" not in str(error)
    assert redact(f"x {DUMMY_KEY} y") == "x [redacted] y"


def test_missing_key_is_a_clear_configuration_error(monkeypatch: pytest.MonkeyPatch, anthropic_env: Any) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(ValueError, match="ANTHROPIC_API_KEY"):
        AnthropicProvider(base_url=anthropic_env.base_url)


def test_quota_detection() -> None:
    spend = {"error": {"type": "rate_limit_error", "message": "slow down",
                       "details": {"error_code": "enforced_spend_limit_reached"}}}
    assert is_quota_error(429, spend)
    assert is_quota_error(400, {"error": {"type": "invalid_request_error",
                                          "message": "Your credit balance is too low to access the API"}})
    assert is_quota_error(402, {"error": {"type": "billing_error", "message": "payment"}})
    assert not is_quota_error(429, {"error": {"type": "rate_limit_error", "message": "Number of requests has "
                                              "exceeded your per-minute rate limit"}})
    assert not is_quota_error(400, {"error": {"type": "invalid_request_error", "message": "max_tokens: too big"}})
