"""LLMClient: the response cache saves every repeated request, stop, accounting, prices, JSON repair."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from fake_api import PROBE_TASK, probe_example

from collection_tree.llm.cache import SQLiteResponseCache
from collection_tree.llm.client import LLMClient, ProviderAnswer, _max_overlap, _union_length, cache_key
from collection_tree.llm.interface import LLMError, LLMRequest, StopRequested, TokenUsage
from collection_tree.llm.models import cost_usd, get_tiered_model
from collection_tree.llm.normalise import parse_json_answer
from collection_tree.llm.offline import OfflineProvider
from collection_tree.tasks import TASKS, solve_offline


def example_requests() -> list[LLMRequest]:
    return [spec.request(spec.example()) for _, spec in sorted(TASKS.items()) if spec.example is not None]


def test_a_repeated_run_costs_no_request(make_client: Any, probe_task: Any, anthropic_env: Any, tmp_path: Any) -> None:
    requests = example_requests()
    assert any(r.task == PROBE_TASK for r in requests)
    first = make_client(cache=SQLiteResponseCache(tmp_path / "cache.sqlite"))
    answers = [first.call(r, "run1") for r in requests]
    sent = len(anthropic_env.message_requests())
    assert sent == len(requests)
    # a new run (new client, new provider, same cache file): every answer from the cache
    second = make_client(cache=SQLiteResponseCache(tmp_path / "cache.sqlite"))
    assert [second.call(r, "run2") for r in requests] == answers
    assert len(anthropic_env.message_requests()) == sent
    stats = second.stats("run2")
    assert (stats["llm_calls"], stats["llm_cache_hits"], stats["cost_usd"]) == (0, len(requests), 0)
    # a changed payload is a new request
    second.call(probe_task.request(probe_example(9)), "run2")
    assert len(anthropic_env.message_requests()) == sent + 1


def test_cache_key_covers_provider_endpoint_model_prompt_payload_schema_and_max_tokens(probe_task: Any) -> None:
    base = probe_task.request(probe_example())
    fake = {"provider": "anthropic", "endpoint": "http://127.0.0.1:8765"}
    key = cache_key(base, "m", **fake)
    variants = [
        cache_key(base, "m", provider="offline", endpoint=""),
        cache_key(base, "m", provider="anthropic", endpoint="https://api.anthropic.com"),
        cache_key(base, "m", provider="anthropic-batch", endpoint="http://127.0.0.1:8765"),
        cache_key(base, "other-model", **fake),
        cache_key(LLMRequest(base.task, base.tier, base.system + ".", base.payload, base.schema), "m", **fake),
        cache_key(probe_task.request(probe_example(7)), "m", **fake),
        cache_key(LLMRequest(base.task, base.tier, base.system, base.payload, {**base.schema, "title": "x"}), "m",
                  **fake),
        cache_key(LLMRequest(base.task, base.tier, base.system, base.payload, base.schema, max_tokens=5), "m", **fake),
    ]
    assert key not in variants and len(set(variants)) == len(variants)
    assert cache_key(probe_task.request(probe_example()), "m", **fake) == key


def test_an_offline_answer_never_serves_a_keyed_build(make_client: Any, probe_task: Any, anthropic_env: Any,
                                                      tmp_path: Any) -> None:
    """The README's path: `make run` (offline) fills the cache, then the same build with a key must ask the
    API. Before the provider was part of the key, every answer came from the offline heuristics' entries."""
    cache = SQLiteResponseCache(tmp_path / "cache.sqlite")
    request = probe_task.request(probe_example())
    offline = LLMClient(OfflineProvider(), cache=cache)
    offline.call(request, "p")
    assert offline.stats("p")["llm_calls"] == 1 and cache.count() == 1
    keyed = make_client(cache=cache)
    keyed.call(request, "p")
    assert len(anthropic_env.message_requests()) == 1
    assert (keyed.stats("p")["llm_cache_hits"], keyed.stats("p")["llm_provider"]) == (0, "anthropic")
    keyed.call(request, "p")  # its own answer is cached for the next keyed build
    assert len(anthropic_env.message_requests()) == 1 and cache.count() == 2
    assert cache.stats()["by_provider"] == {"offline": 1, f"anthropic {anthropic_env.base_url}": 1}


def test_two_endpoints_do_not_share_answers(make_client: Any, probe_task: Any, anthropic_env: Any,
                                            tmp_path: Any) -> None:
    from collection_tree.llm.anthropic_provider import AnthropicProvider, normalise_endpoint
    from collection_tree.llm.fake_server import FakeAnthropicServer

    cache = SQLiteResponseCache(tmp_path / "cache.sqlite")
    request = probe_task.request(probe_example())
    make_client(cache=cache).call(request, "p")
    with FakeAnthropicServer(solver=solve_offline) as other:
        client = LLMClient(AnthropicProvider(base_url=other.base_url + "/", max_retries=0), cache=cache)
        try:
            client.call(request, "p")
            client.call(request, "p")
        finally:
            client.close()
        assert len(other.message_requests()) == 1 and len(anthropic_env.message_requests()) == 1
    assert normalise_endpoint("HTTPS://API.Anthropic.com:443/") == "https://api.anthropic.com"
    assert normalise_endpoint("http://user:secret@127.0.0.1:8765/v1/") == "http://127.0.0.1:8765/v1"


def test_offline_calls_are_not_reported_under_a_model_name(probe_task: Any) -> None:
    client = LLMClient(OfflineProvider())
    client.call(probe_task.request(probe_example()), "p")
    stats = client.stats("p")
    assert stats["calls_by_model"] == {"offline heuristics": 1} and stats["models_used"] == []


def test_failed_answers_are_not_cached_and_a_bad_entry_is_asked_again(
        make_client: Any, probe_task: Any, anthropic_env: Any, tmp_path: Any) -> None:
    cache = SQLiteResponseCache(tmp_path / "cache.sqlite")
    client = make_client(cache=cache)
    request = probe_task.request(probe_example())
    anthropic_env.script(["malformed", "malformed"])
    with pytest.raises(LLMError):
        client.call(request, "p")
    assert cache.count() == 0
    model, _ = get_tiered_model(request.tier)
    key = cache_key(request, model, provider="anthropic", endpoint=client.provider.endpoint)
    cache.put(key, '{"not": "valid for the schema"}', task=request.task, model=model)
    answer = client.call(request, "p")
    assert answer["track_ids"] and len(anthropic_env.message_requests()) == 3
    assert client.call(request, "p") == answer and len(anthropic_env.message_requests()) == 3


def test_stop_event_stops_before_any_request(make_client: Any, probe_task: Any, anthropic_env: Any) -> None:
    stop = threading.Event()
    client = make_client(stop_event=stop)
    phase = client.for_phase("p")
    assert phase.stop_event is stop and not phase.stopped()
    stop.set()
    with pytest.raises(StopRequested):
        phase.call(probe_task.request(probe_example()))
    assert anthropic_env.message_requests() == []


class ScriptedProvider:
    """Answers from a list (text, stop_reason); records the max_tokens it was asked with."""

    name = "scripted"

    def __init__(self, replies: list[tuple[str, str]]):
        self.replies = list(replies)
        self.max_tokens: list[int] = []

    def complete(self, request: LLMRequest, model: str) -> ProviderAnswer:
        self.max_tokens.append(request.max_tokens)
        text, stop = self.replies.pop(0)
        return ProviderAnswer(text=text, stop_reason=stop, usage=TokenUsage(100, 50))


def test_truncated_answer_is_asked_again_with_more_room(probe_task: Any) -> None:
    good = '{"cluster_id": "rock__usa", "picks": [], "track_ids": [101], "label": "x"}'
    provider = ScriptedProvider([('{"cluster_id": "ro', "max_tokens"), (good, "end_turn")])
    client = LLMClient(provider)
    assert client.call(probe_task.request(probe_example()), "p")["track_ids"] == [101]
    assert provider.max_tokens == [1024, 2048]
    stats = client.stats("p")
    assert (stats["llm_calls"], stats["llm_rejected_answers"], stats["llm_failures"]) == (2, 1, 0)
    model, _ = get_tiered_model("mechanical")
    assert stats["cost_usd"] == pytest.approx(2 * cost_usd(model, 100, 50), abs=1e-6)  # rejected answers are billed


def test_answers_that_are_not_objects_or_break_the_schema_are_rejected(probe_task: Any) -> None:
    # a per-call schema (as a phase specialises one with an enum) that the second answer breaks
    schema = {**probe_task.schema, "properties": {**probe_task.schema["properties"],
                                                  "label": {"type": "string", "enum": ["only this"]}}}
    answer = '{"cluster_id": "rock__usa", "picks": [], "track_ids": [], "label": "something else"}'
    client = LLMClient(ScriptedProvider([("[1, 2]", "end_turn"), (answer, "end_turn")]))
    with pytest.raises(LLMError) as info:
        client.call(probe_task.request(probe_example(), schema=schema), "p")
    assert info.value.kind == "invalid" and "only this" in info.value.reason
    assert [r.error_kind for r in client.records] == ["malformed", "invalid"]
    assert client.stats("p")["failures_by_kind"] == {"invalid": 1}


def test_offline_answers_are_free_and_counted(probe_task: Any) -> None:
    client = LLMClient(OfflineProvider())
    client.call(probe_task.request(probe_example()), "p")
    stats = client.stats("p")
    assert stats["llm_calls"] == 1 and stats["cost_usd"] == 0 and stats["input_tokens"] > 0


def test_timeline_and_overlap_figures(probe_task: Any) -> None:
    client = LLMClient(OfflineProvider(), max_concurrency=2)
    for n in (4, 5, 6):
        client.call(probe_task.request(probe_example(n)), "p")
    client.call(probe_task.request(probe_example(4)), "q")
    rows = client.timeline("p")
    assert [r["task"] for r in rows] == [PROBE_TASK] * 3
    assert all(0 <= r["started"] <= r["ended"] for r in rows)
    assert [r["started"] for r in rows] == sorted(r["started"] for r in rows)
    stats = client.stats("p")
    assert stats["llm_max_concurrency"] == 1  # one thread: calls never overlap
    assert 0 <= stats["llm_busy_s"] <= stats["llm_wall_s"]
    assert len(client.timeline()) == 4


def test_interval_helpers() -> None:
    intervals = [(0.0, 2.0), (1.0, 3.0), (5.0, 6.0), (5.5, 5.7)]
    assert _union_length(intervals) == pytest.approx(4.0)
    assert _max_overlap(intervals) == 2
    assert _max_overlap([(0.0, 1.0), (1.0, 2.0)]) == 1  # touching is not overlapping
    assert _union_length([]) == 0 and _max_overlap([]) == 0


def test_list_prices_long_prompt_band_and_batch_discount() -> None:
    assert cost_usd("claude-sonnet-5-5", 1_000_000, 1_000_000) == pytest.approx(12.0)
    assert cost_usd("claude-sonnet-5-5", 0, 0, cache_write=1_000_000, cache_read=1_000_000) == pytest.approx(2.6)
    assert cost_usd("claude-haiku-5-5", 100_000, 1_000) == pytest.approx(0.01 + 0.0005)
    assert cost_usd("claude-haiku-5-5", 100_001, 1_000) == pytest.approx((100_001 * 0.5 + 1_000 * 2.5) / 1e6)
    assert cost_usd("claude-haiku-5-5", 90_000, 0, cache_read=20_000) == pytest.approx(
        (90_000 * 0.5 + 20_000 * 0.05) / 1e6)
    assert cost_usd("claude-sonnet-5-5", 1000, 1000, batch=True) == pytest.approx(cost_usd("claude-sonnet-5-5",
                                                                                         1000, 1000) / 2)
    assert cost_usd("some-unknown-model", 1_000_000, 0) > 0


@pytest.mark.parametrize(("text", "expected"), [
    ('{"a": 1}', {"a": 1}),
    ('```json\n{"a": [1, 2]}\n```', {"a": [1, 2]}),
    ('Here you go:\n```\n{"a": 2}\n```\nAnything else?', {"a": 2}),
    ('Sure: {"a": {"b": 3}} hope this helps', {"a": {"b": 3}}),
    ('[1, 2]', [1, 2]),
])
def test_json_answers_are_found_in_fences_and_prose(text: str, expected: Any) -> None:
    assert parse_json_answer(text) == expected


@pytest.mark.parametrize("text", ['{"a": [1, 2', "no json here", "", '```json\n{"a":\n```'])
def test_broken_json_is_reported(text: str) -> None:
    with pytest.raises(ValueError, match="not JSON"):
        parse_json_answer(text)


def test_llm_error_survives_pickling() -> None:
    import pickle

    error = LLMError("t", "spend limit", kind="quota")
    error.retries = 2
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.task, copy.reason, copy.kind, copy.retries, copy.fatal, str(copy)) == (
        "t", "spend limit", "quota", 2, True, str(error))


def test_a_request_carries_its_tasks_normaliser_and_offline_solver() -> None:
    spec = TASKS["name_clusters"]
    request = spec.request(spec.example())
    assert request.normalise is spec.normalise and request.solve_offline is spec.solve_offline
    bare = LLMRequest(request.task, request.tier, request.system, request.payload, request.schema)
    key = {"provider": "offline", "endpoint": ""}
    assert bare == request and cache_key(bare, "m", **key) == cache_key(request, "m", **key)  # not in the key
    answer = OfflineProvider().complete(request, "m")
    assert parse_json_answer(answer.text) == spec.solve_offline(spec.example())
    with pytest.raises(LLMError, match="no offline solver"):
        OfflineProvider().complete(bare, "m")
    # The client repairs an answer with the request's own normaliser: ids the payload did not offer go.
    raw = spec.solve_offline(spec.example())
    raw["clusters"].append({**raw["clusters"][0], "cluster_id": "invented__id"})

    class Echo:
        name = "echo"

        def complete(self, req: LLMRequest, model: str) -> ProviderAnswer:
            return ProviderAnswer(text=json.dumps(raw), priced=False)

    got = LLMClient(Echo()).call(request, "named_clusters")
    assert "invented__id" not in {c["cluster_id"] for c in got["clusters"]}


# ------------------------------------------------------------- concurrency from the published limits
def _provider_after_calls(anthropic_env: Any, task: Any, rpm: int, adapt: bool = True) -> Any:
    """A provider (8 slots) after one call, which tells it the limits, then 8 calls at once."""
    from fake_api import probe_example, run_parallel

    from collection_tree.llm.anthropic_provider import AnthropicProvider
    from collection_tree.llm.fake_server import LatencyModel

    anthropic_env.rate_limits = {"requests": rpm}
    anthropic_env.latency = LatencyModel(fixed_s=0.05)
    provider = AnthropicProvider(base_url=anthropic_env.base_url, timeout_s=5.0, max_retries=1, max_concurrency=8,
                                 adapt_concurrency=adapt)
    provider.complete(task.request(probe_example(4)), "claude-haiku-5-5")
    anthropic_env.reset()
    run_parallel(lambda i: provider.complete(task.request(probe_example(5 + i)), "claude-haiku-5-5"), 8)
    provider.close()
    return provider


def test_a_tight_request_limit_brings_the_calls_in_flight_down_to_what_it_sustains(
        probe_task: Any, anthropic_env: Any) -> None:
    # 6 requests a minute at ~0.05 s each sustain far less than one call in flight: one at a time.
    provider = _provider_after_calls(anthropic_env, probe_task, rpm=6)
    assert provider.concurrency_limit == 1 and anthropic_env.max_in_flight == 1


def test_a_generous_limit_or_adapting_off_keeps_the_configured_concurrency(probe_task: Any,
                                                                            anthropic_env: Any) -> None:
    assert _provider_after_calls(anthropic_env, probe_task, rpm=10_000_000).concurrency_limit == 8
    assert _provider_after_calls(anthropic_env, probe_task, rpm=6, adapt=False).concurrency_limit == 8


def test_per_request_schemas_are_checked_against_the_metaschema_once_per_shape(monkeypatch):
    """Schemas that differ only in their enum members (ids per request) share one metaschema check;
    a schema of another shape is checked, and a broken one still fails."""
    import jsonschema

    from collection_tree.llm import client as client_module

    calls = []
    real = jsonschema.Draft202012Validator.check_schema
    monkeypatch.setattr(jsonschema.Draft202012Validator, "check_schema",
                        classmethod(lambda cls, schema: calls.append(schema) or real.__func__(cls, schema)))
    client_module._validators_for.cache_clear()
    client_module._check_schema.cache_clear()

    def schema(ids, kind="string"):
        return {"type": "object", "properties": {"id": {"type": kind, "enum": ids}}, "required": ["id"]}

    first = client_module._validator(schema(["c1", "c2"]))
    second = client_module._validator(schema(["c3", "c4", "c5"]))
    assert len(calls) == 1
    assert first.is_valid({"id": "c1"}) and not first.is_valid({"id": "c3"})
    assert second.is_valid({"id": "c5"}) and not second.is_valid({"id": "c1"})
    client_module._validator(schema(["c1"], kind="integer"))
    assert len(calls) == 2
    with pytest.raises(jsonschema.SchemaError):
        client_module._validator(schema(["c1"], kind="strin"))
    with pytest.raises(jsonschema.SchemaError):
        client_module._validator({"type": "object", "properties": {"id": {"enum": "c1"}}})
