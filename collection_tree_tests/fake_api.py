"""Pytest fixtures for the LLM layer: the fake Anthropic API on 127.0.0.1, an environment pointing the
SDK at it with a dummy key (the real API is never contacted), clients built on it, and a test-only task.

Registered from ``conftest.py`` (``pytest_plugins``), so any test module can ask for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from collection_tree.llm.anthropic_provider import AnthropicProvider
from collection_tree.llm.client import LLMClient
from collection_tree.llm.fake_server import FakeAnthropicServer
from collection_tree.llm.normalise import as_int, as_int_ids, as_score, as_str_id, as_text
from collection_tree.tasks import TASKS, solve_offline
from collection_tree.tasks.base import TaskSpec

# Recognisable, so a test can prove it never shows up in logs, errors or metadata.
DUMMY_KEY = "sk-ant-api03-DUMMY-never-leak-4f1c2b9e7a6d5c3b1a0f9e8d"

# ---------------------------------------------------------------------------- a test-only task
PROBE_TASK = "probe_pick"
PROBE_SYSTEM = ("You pick the most energetic tracks of a playlist and score them from 1 to 10. "
                "Copy track_id and cluster_id values exactly; never invent ids. " * 130)  # > 4,096 tokens: cacheable
# on every model (models.CACHE_MIN_TOKENS)
PROBE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["cluster_id", "picks", "track_ids", "label"],
    "properties": {
        "cluster_id": {"type": "string"},
        "picks": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["track_id", "score"],
            "properties": {"track_id": {"type": "integer"}, "score": {"type": "number", "minimum": 1,
                                                                       "maximum": 10}}}},
        "track_ids": {"type": "array", "items": {"type": "integer"}},
        "label": {"type": "string", "minLength": 1},
    },
}


def probe_normalise(answer: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    tracks = [int(t["track_id"]) for t in payload["tracks"]]
    clusters = [str(c["cluster_id"]) for c in payload["clusters"]]
    picks, seen = [], set()
    for item in answer["picks"]:  # no picks at all: not an answer (KeyError -> rejected as invalid)
        if not isinstance(item, dict):
            continue
        tid = as_int(item.get("track_id"))
        if tid is None or tid not in tracks or tid in seen:
            continue
        seen.add(tid)
        picks.append({"track_id": tid, "score": as_score(item.get("score"))})
    return {"cluster_id": as_str_id(answer.get("cluster_id"), clusters) or clusters[0], "picks": picks,
            "track_ids": as_int_ids(answer.get("track_ids"), tracks), "label": as_text(answer.get("label"), "?")}


def probe_solve(payload: dict[str, Any]) -> dict[str, Any]:
    ranked = sorted(payload["tracks"], key=lambda t: (-t["energy"], t["track_id"]))[: payload["k"]]
    return {"cluster_id": payload["clusters"][0]["cluster_id"],
            "picks": [{"track_id": t["track_id"], "score": round(1 + 9 * t["energy"], 2)} for t in ranked],
            "track_ids": [t["track_id"] for t in ranked],
            "label": f"top {payload['k']} by energy"}


def probe_example(n: int = 6, k: int = 3) -> dict[str, Any]:
    return {"clusters": [{"cluster_id": "rock__usa"}, {"cluster_id": "jazz__uk"}],
            "tracks": [{"track_id": 100 + i, "title": f"Song {i}", "energy": round((i * 37 % 10) / 10, 2)}
                       for i in range(n)],
            "k": k}


PROBE = TaskSpec(name=PROBE_TASK, tier="mechanical", system=PROBE_SYSTEM, schema=PROBE_SCHEMA,
                 normalise=probe_normalise, solve_offline=probe_solve, max_tokens=1024, example=probe_example)


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture
def probe_task(monkeypatch: pytest.MonkeyPatch) -> TaskSpec:
    """The test-only task, registered in ``collection_tree.tasks.TASKS`` for this test."""
    monkeypatch.setitem(TASKS, PROBE_TASK, PROBE)
    return PROBE


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropicServer]:
    """A running fake API (127.0.0.1, free port); a hanging request is released after 5 s."""
    with FakeAnthropicServer(solver=solve_offline, hang_s=5.0) as server:
        yield server


@pytest.fixture
def anthropic_env(monkeypatch: pytest.MonkeyPatch, fake_anthropic: FakeAnthropicServer) -> FakeAnthropicServer:
    """The SDK's environment: the dummy key and the fake server's URL; other credential sources unset."""
    for name in ("ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_PROFILE", "ANTHROPIC_CONFIG_DIR", "ANTHROPIC_IDENTITY_TOKEN",
                 "ANTHROPIC_IDENTITY_TOKEN_FILE", "COLLECTION_TREE_LLM", "COLLECTION_TREE_LLM_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", DUMMY_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_anthropic.base_url)
    return fake_anthropic


@pytest.fixture
def make_client(anthropic_env: FakeAnthropicServer) -> Iterator[Callable[..., LLMClient]]:
    """``make_client(timeout_s=1.0, max_retries=3, max_concurrency=4, provider_concurrency=None, **client_kw)``:
    an LLMClient on an AnthropicProvider talking to the fake server, with short timeouts."""
    made: list[LLMClient] = []

    def make(*, timeout_s: float = 1.0, max_retries: int = 3, max_concurrency: int = 4,
             provider_concurrency: int | None = None, **client_kw: Any) -> LLMClient:
        provider = AnthropicProvider(base_url=anthropic_env.base_url, timeout_s=timeout_s, max_retries=max_retries,
                                     max_concurrency=provider_concurrency or max_concurrency)
        client = LLMClient(provider, max_concurrency=max_concurrency, **client_kw)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def run_parallel(fn: Callable[[int], Any], n: int) -> list[Any]:
    """``fn(0..n-1)`` on n threads started together; results (or exceptions) in order."""
    results: list[Any] = [None] * n
    barrier = threading.Barrier(n)

    def worker(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as exc:  # returned, so the test can assert on it
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results
