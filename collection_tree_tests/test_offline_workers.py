"""The offline provider's worker processes (``llm/offline.py``, ``core/workers.py``): a big collection's
offline answers are computed in spawned processes, and they are the in-process answers exactly."""

from __future__ import annotations

from typing import Any

import pytest

from collection_tree.core.workers import POOL_MIN_TRACKS, workers_for
from collection_tree.llm.client import LLMClient
from collection_tree.llm.offline import OfflineProvider
from collection_tree.tasks import TASKS

# The project's own tasks: a worker imports a task's solver by its module, as a build's would.
PROJECT_TASKS = sorted(name for name, spec in TASKS.items()
                       if spec.example is not None and spec.solve_offline.__module__.startswith("collection_tree."))


@pytest.fixture(scope="module")
def pooled() -> Any:
    provider = OfflineProvider(workers=2)
    yield provider
    provider.close()


def test_there_are_tasks_to_check() -> None:
    assert len(PROJECT_TASKS) >= 10


@pytest.mark.parametrize("name", PROJECT_TASKS)
def test_pooled_answers_and_token_counts_are_the_in_process_ones(pooled: OfflineProvider, name: str) -> None:
    spec = TASKS[name]
    request = spec.request(spec.example())
    here, there = OfflineProvider().complete(request, "offline"), pooled.complete(request, "offline")
    assert there.text == here.text
    assert (there.usage.input_tokens, there.usage.output_tokens) == (here.usage.input_tokens, here.usage.output_tokens)
    # and through the client, as a phase calls it
    assert LLMClient(pooled).call(request, "test") == LLMClient(OfflineProvider()).call(request, "test")


def test_the_workers_start_at_the_first_call_and_end_with_close() -> None:
    provider = OfflineProvider(workers=2)
    assert provider._pool is None  # nothing started for a phase that makes no call
    spec = TASKS[PROJECT_TASKS[0]]
    provider.complete(spec.request(spec.example()), "offline")
    processes = list(provider._pool._processes.values())
    assert processes and all(p.is_alive() for p in processes)
    provider.close()
    assert provider._pool is None
    assert not any(p.is_alive() for p in processes)


def test_a_solver_error_in_a_worker_reaches_the_caller() -> None:
    spec = TASKS["name_clusters"]
    provider = OfflineProvider(workers=2)
    try:
        with pytest.raises((KeyError, TypeError)):
            provider.complete(spec.request({"clusters": [{"no": "fields"}]}), "offline")
    finally:
        provider.close()


def test_workers_only_for_big_collections_and_more_than_one_cpu() -> None:
    assert workers_for(POOL_MIN_TRACKS - 1, workers=2) == 0
    assert workers_for(POOL_MIN_TRACKS, workers=2) == 2
    assert workers_for(10 * POOL_MIN_TRACKS, workers=1) == 0
    assert workers_for(6_303) == 0  # the demo stays in one process
