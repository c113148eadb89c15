"""Prompt caching kept honest: the fake API's cache follows the API's rules (prefix identity to the breakpoint,
minimum length per model, readable once the writing response has started, 5-minute lifetime refreshed on read,
at most 4 breakpoints), the provider adds a breakpoint only where the prefix reaches the minimum and staggers
calls sharing it so the rest read, and the accounting prices writes and reads. The clock is injected: no sleeps."""

from __future__ import annotations

import dataclasses
from typing import Any

import anthropic
import pytest
from fake_api import DUMMY_KEY, probe_example, run_parallel

from collection_tree.llm.anthropic_provider import PrefixGate
from collection_tree.llm.client import LLMClient
from collection_tree.llm.fake_prompt_cache import PromptCache, render
from collection_tree.llm.fake_server import FakeAnthropicServer, LatencyModel
from collection_tree.llm.models import (
    CACHE_MIN_TOKENS,
    approx_tokens,
    cache_min_tokens,
    cache_savings_usd,
    cost_usd,
    prices_for,
)
from collection_tree.tasks import TASKS, solve_offline

SONNET, HAIKU = "claude-sonnet-5-5", "claude-haiku-5-5"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def body(system: str, user: str = "<task>x</task><input>{}</input>", model: str = SONNET, *,
         cached: bool = True, tools: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": system}
    if cached:
        block["cache_control"] = {"type": "ephemeral"}
    out: dict[str, Any] = {"model": model, "max_tokens": 100, "system": [block],
                           "messages": [{"role": "user", "content": user}]}
    if tools is not None:
        out["tools"] = tools
    return out


def long_text(tokens: int, seed: str = "a") -> str:
    return (seed * 4 * tokens)[: 4 * tokens]


# ---------------------------------------------------------------------------- the cache's rules
def test_identical_prefix_above_the_minimum_is_written_then_read() -> None:
    clock = Clock()
    cache = PromptCache(clock)
    system = long_text(cache_min_tokens(SONNET) + 10)
    first = cache.usage(render(body(system, "<task>x</task><input>{\"a\":1}</input>")))
    clock.now += 1
    second = cache.usage(render(body(system, "<task>x</task><input>{\"a\":2,\"b\":3}</input>")))
    prefix = approx_tokens(system)
    assert first == {"input_tokens": first["input_tokens"], "cache_creation_input_tokens": prefix,
                     "cache_read_input_tokens": 0}
    assert second["cache_read_input_tokens"] == prefix and second["cache_creation_input_tokens"] == 0
    # the three parts add up to the prompt, as the API reports them
    assert sum(second.values()) == render(body(system, "<task>x</task><input>{\"a\":2,\"b\":3}</input>")).total_tokens


@pytest.mark.parametrize("model", [SONNET, HAIKU])
def test_below_the_models_minimum_nothing_is_written_or_read(model: str) -> None:
    clock = Clock()
    cache = PromptCache(clock)
    short = long_text(cache_min_tokens(model) - 1)
    for _ in range(3):
        usage = cache.usage(render(body(short, model=model)))
        clock.now += 1
        assert usage["cache_creation_input_tokens"] == usage["cache_read_input_tokens"] == 0
    assert len(cache) == 0
    # the same length is cacheable on a model whose minimum it reaches
    assert CACHE_MIN_TOKENS[SONNET] < CACHE_MIN_TOKENS[HAIKU]
    if model == HAIKU:  # a Sonnet-sized prefix is below Haiku's minimum
        between = long_text(CACHE_MIN_TOKENS[SONNET] + 1)
        assert cache.usage(render(body(between, model=SONNET)))["cache_creation_input_tokens"] > 0
        assert cache.usage(render(body(between, model=HAIKU)))["cache_creation_input_tokens"] == 0


def test_a_call_sent_before_the_writing_response_started_gets_no_read() -> None:
    clock = Clock()
    cache = PromptCache(clock)
    system = long_text(2000)
    first = cache.usage(render(body(system)), first_token_s=5.0)  # its response starts 5 s later
    clock.now += 4.9  # sent concurrently: the first answer has not started
    concurrent = cache.usage(render(body(system)), first_token_s=5.0)
    clock.now += 0.2  # now it has
    later = cache.usage(render(body(system)), first_token_s=5.0)
    assert first["cache_creation_input_tokens"] == concurrent["cache_creation_input_tokens"] == approx_tokens(system)
    assert concurrent["cache_read_input_tokens"] == 0
    assert later == {**later, "cache_read_input_tokens": approx_tokens(system), "cache_creation_input_tokens": 0}


def test_an_entry_lives_five_minutes_from_its_last_use() -> None:
    clock = Clock()
    cache = PromptCache(clock)
    prompt = render(body(long_text(2000)))
    assert cache.usage(prompt)["cache_creation_input_tokens"] > 0
    clock.now += 299
    assert cache.usage(prompt)["cache_read_input_tokens"] > 0  # read at 4:59, which refreshes it
    clock.now += 299
    assert cache.usage(prompt)["cache_read_input_tokens"] > 0  # 9:58 after the write, 4:59 after the read
    clock.now += 300
    expired = cache.usage(prompt)
    assert expired["cache_read_input_tokens"] == 0 and expired["cache_creation_input_tokens"] > 0


def test_an_hour_ttl_lives_an_hour() -> None:
    clock = Clock()
    cache = PromptCache(clock)
    hour = body(long_text(2000))
    hour["system"][0]["cache_control"]["ttl"] = "1h"
    cache.usage(render(hour))
    clock.now += 3599
    assert cache.usage(render(hour))["cache_read_input_tokens"] > 0


def test_a_changed_byte_before_the_breakpoint_misses_one_after_it_does_not() -> None:
    clock = Clock()
    cache = PromptCache(clock)
    system = long_text(2000)
    cache.usage(render(body(system, "<task>x</task><input>{}</input>")))
    clock.now += 1
    changed = system[:1000] + "b" + system[1001:]
    missed = cache.usage(render(body(changed, "<task>x</task><input>{}</input>")))
    after = cache.usage(render(body(system, "<task>y</task><input>{\"other\":true}</input>")))
    other_model = cache.usage(render(body(system, model="claude-opus-5-5")))
    assert missed["cache_read_input_tokens"] == 0 and missed["cache_creation_input_tokens"] > 0
    assert after["cache_read_input_tokens"] == approx_tokens(system)
    assert other_model["cache_read_input_tokens"] == 0  # entries belong to one model


def test_tools_come_before_system_in_the_prefix() -> None:
    clock = Clock()
    cache = PromptCache(clock)
    system = long_text(2000)
    tool = {"name": "lookup", "description": "d", "input_schema": {"type": "object"}}
    cache.usage(render(body(system, tools=[tool])))
    clock.now += 1
    other_tool = {**tool, "description": "e"}
    assert cache.usage(render(body(system, tools=[other_tool])))["cache_read_input_tokens"] == 0
    assert cache.usage(render(body(system, tools=[tool])))["cache_read_input_tokens"] > 0


def test_the_longest_cached_prefix_is_read_and_the_rest_written() -> None:
    clock = Clock()
    cache = PromptCache(clock)
    system = long_text(2000)
    doc = long_text(1500, "d")
    two = body(system)
    two["messages"] = [{"role": "user", "content": [
        {"type": "text", "text": doc, "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "<task>x</task><input>{}</input>"}]}]
    cache.usage(render(body(system)))  # only the system prompt is cached
    clock.now += 1
    usage = cache.usage(render(two))
    assert usage["cache_read_input_tokens"] == approx_tokens(system)
    assert usage["cache_creation_input_tokens"] == approx_tokens(doc)


# ---------------------------------------------------------------------------- through the fake server and the SDK
@pytest.fixture
def clocked_server() -> Any:
    clock = Clock()
    # the server sleeps fixed_s * scale = 10 ms per answer; its cache sees that as the time to the first token
    latency = LatencyModel(fixed_s=1.0, scale=0.01)
    with FakeAnthropicServer(solver=solve_offline, latency=latency, clock=clock) as server:
        yield server, clock


def sdk_create(server: FakeAnthropicServer, args: dict[str, Any]) -> Any:
    with anthropic.Anthropic(api_key=DUMMY_KEY, base_url=server.base_url, max_retries=0) as client:
        return client.messages.create(**args)


def probe_args(probe: Any, n: int, model: str = SONNET, system: str | None = None) -> dict[str, Any]:
    request = probe.request(probe_example(n))
    return {"model": model, "max_tokens": 512,
            "system": [{"type": "text", "text": system or request.system, "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": request.user_message()}]}


def test_server_reports_writes_then_reads_and_expiry(clocked_server: Any, probe_task: Any) -> None:
    server, clock = clocked_server
    first = sdk_create(server, probe_args(probe_task, 6)).usage
    clock.now += 0.005  # "sent" before the first response started (10 ms): no read
    concurrent = sdk_create(server, probe_args(probe_task, 7)).usage
    clock.now += 1
    read = sdk_create(server, probe_args(probe_task, 8)).usage
    clock.now += 301
    expired = sdk_create(server, probe_args(probe_task, 9)).usage
    prefix = approx_tokens(probe_task.system)
    assert (first.cache_creation_input_tokens, first.cache_read_input_tokens) == (prefix, 0)
    assert (concurrent.cache_creation_input_tokens, concurrent.cache_read_input_tokens) == (prefix, 0)
    assert (read.cache_creation_input_tokens, read.cache_read_input_tokens) == (0, prefix)
    assert (expired.cache_creation_input_tokens, expired.cache_read_input_tokens) == (prefix, 0)
    assert [r.cache_read_input_tokens for r in server.message_requests()] == [0, 0, prefix, 0]


def test_server_below_minimum_no_cache_and_no_error(clocked_server: Any, probe_task: Any) -> None:
    server, clock = clocked_server
    short = "Score tracks by energy. " * 10
    usages = []
    for n in (6, 7):
        usages.append(sdk_create(server, probe_args(probe_task, n, system=short)).usage)
        clock.now += 1
    assert all(u.cache_creation_input_tokens == u.cache_read_input_tokens == 0 for u in usages)


def test_server_rejects_more_than_four_breakpoints(clocked_server: Any, probe_task: Any) -> None:
    server, _ = clocked_server
    args = probe_args(probe_task, 6)
    args["system"] = [{"type": "text", "text": f"part {i}", "cache_control": {"type": "ephemeral"}} for i in range(5)]
    with pytest.raises(anthropic.BadRequestError, match="maximum of 4 blocks with cache_control"):
        sdk_create(server, args)


# ---------------------------------------------------------------------------- the provider: breakpoints and staggering
def test_breakpoint_only_where_the_prefix_reaches_the_minimum(make_client: Any, probe_task: Any) -> None:
    provider = make_client().provider
    long_request = probe_task.request(probe_example())
    assert approx_tokens(long_request.system) >= cache_min_tokens(HAIKU)
    assert provider.params(long_request, HAIKU)["system"][0]["cache_control"] == {"type": "ephemeral"}
    short_request = dataclasses.replace(long_request, system=long_request.system[: 4 * CACHE_MIN_TOKENS[SONNET] + 40])
    assert "cache_control" in provider.params(short_request, SONNET)["system"][0]  # >= Sonnet's 1,024
    assert "cache_control" not in provider.params(short_request, HAIKU)["system"][0]  # < Haiku's 4,096
    assert provider.cache_prefix(short_request, HAIKU) is None


def test_no_task_prompt_is_padded_and_each_gets_a_breakpoint_only_if_long_enough(make_client: Any) -> None:
    provider = make_client().provider
    for spec in TASKS.values():
        request = spec.request(spec.example())
        for model in (SONNET, HAIKU):
            marked = "cache_control" in provider.params(request, model)["system"][0]
            assert provider.params(request, model)["system"][0]["text"] == spec.system  # never padded
            assert marked == (approx_tokens(spec.system) >= cache_min_tokens(model))


def test_calls_sharing_a_long_prefix_are_staggered_so_the_rest_read(make_client: Any, probe_task: Any,
                                                                    anthropic_env: FakeAnthropicServer) -> None:
    anthropic_env.latency = LatencyModel(fixed_s=0.05)
    client: LLMClient = make_client(max_concurrency=6)
    results = run_parallel(lambda i: client.for_phase("p").call(probe_task.request(probe_example(6 + i))), 6)
    assert not [r for r in results if isinstance(r, Exception)]
    logged = anthropic_env.message_requests()
    prefix = approx_tokens(probe_task.system)
    assert sorted(r.cache_creation_input_tokens for r in logged) == [0] * 5 + [prefix]
    assert sorted(r.cache_read_input_tokens for r in logged) == [0] + [prefix] * 5
    leader = min(logged, key=lambda r: r.started)
    assert leader.cache_creation_input_tokens == prefix
    # the five others were sent after the leader's answer, then together
    assert all(r.started >= leader.started + leader.latency_s - 1e-3 for r in logged if r is not leader)
    assert client.provider.prefix_gate.waits == 5
    stats = client.stats("p")
    assert stats["cache_read_tokens"] == 5 * prefix and stats["cache_write_tokens"] == prefix
    model = logged[0].model
    expected = sum(cache_savings_usd(model, r.input_tokens, r.cache_creation_input_tokens, r.cache_read_input_tokens)
                   for r in logged)
    assert stats["cache_saved_usd"] == pytest.approx(expected, abs=1e-6) and expected > 0


def test_short_prefix_calls_are_not_held_back(make_client: Any, probe_task: Any,
                                              anthropic_env: FakeAnthropicServer) -> None:
    client: LLMClient = make_client(max_concurrency=4)
    short = dataclasses.replace(probe_task, system="Score tracks by energy.")
    results = run_parallel(lambda i: client.for_phase("p").call(short.request(probe_example(6 + i))), 4)
    assert not [r for r in results if isinstance(r, Exception)]
    assert client.provider.prefix_gate.waits == 0
    assert not any(r.cache_control for r in anthropic_env.message_requests())


def test_gate_a_failed_leader_hands_over_and_an_alive_entry_goes_at_once() -> None:
    clock = Clock()
    gate = PrefixGate(ttl_s=300, clock=clock)
    with pytest.raises(RuntimeError), gate.turn("k"):
        raise RuntimeError("the leader's call failed")
    with gate.turn("k"):  # no entry was written: this call leads (does not wait forever)
        pass
    assert gate.waits == 0
    clock.now += 299
    with gate.turn("k"):  # alive: goes at once
        pass
    clock.now += 301  # 301 s after the last send: expired, leads again
    assert gate._wait("k") is True


# ---------------------------------------------------------------------------- prices and savings
def test_write_surcharge_and_read_price_and_savings() -> None:
    price_in, _, price_write, price_read = prices_for(SONNET)
    assert price_write == pytest.approx(1.25 * price_in)
    assert prices_for(HAIKU)[2] == pytest.approx(1.25 * prices_for(HAIKU)[0])
    assert price_read == pytest.approx(0.10)  # Sonnet 5.5 since 2026-10-07 (models.py cites the sources)
    # one write and five reads of a 2,000-token prefix against six uncached sends
    uncached = 6 * cost_usd(SONNET, 2000 + 50, 100)
    cached = cost_usd(SONNET, 50, 100, cache_write=2000) + 5 * cost_usd(SONNET, 50, 100, cache_read=2000)
    saved = cache_savings_usd(SONNET, 50, 2000, 0) + 5 * cache_savings_usd(SONNET, 50, 0, 2000)
    assert uncached - cached == pytest.approx(saved)
    assert cache_savings_usd(SONNET, 50, 2000, 0) < 0  # a write never read costs the surcharge
    halved = cache_savings_usd(SONNET, 50, 0, 2000) / 2
    assert cache_savings_usd(SONNET, 50, 0, 2000, batch=True) == pytest.approx(halved)
