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


def _spawn_counter(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    import collection_tree.core.workers as workers
    import collection_tree.llm.offline as offline

    started: list[int] = []
    real = workers.spawn_pool

    def counted(n: int, **options: Any) -> Any:
        started.append(n)
        return real(n, **options)

    monkeypatch.setattr(workers, "spawn_pool", counted)
    monkeypatch.setattr(offline, "spawn_pool", counted)
    return started


def test_a_build_s_phases_share_one_pool_that_ends_with_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    from collection_tree.core.workers import build_workers

    started = _spawn_counter(monkeypatch)
    spec = TASKS[PROJECT_TASKS[0]]
    request = spec.request(spec.example())
    expected = OfflineProvider().complete(request, "offline").text
    with build_workers():
        first = OfflineProvider(workers=2)  # one phase
        assert first.complete(request, "offline").text == expected
        processes = list(first._pool._processes.values())
        first.close()
        assert processes and all(p.is_alive() for p in processes)  # the next phase uses them
        with build_workers():  # a nested build context owns nothing
            second = OfflineProvider(workers=2)
            assert second.complete(request, "offline").text == expected
            assert sorted(p.pid for p in second._pool._processes.values()) == sorted(p.pid for p in processes)
            second.close()
        assert all(p.is_alive() for p in processes)
    assert started == [2]
    assert not any(p.is_alive() for p in processes)


def test_outside_a_build_each_provider_starts_and_ends_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    started = _spawn_counter(monkeypatch)
    spec = TASKS[PROJECT_TASKS[0]]
    request = spec.request(spec.example())
    for _ in range(2):
        provider = OfflineProvider(workers=2)
        provider.complete(request, "offline")
        processes = list(provider._pool._processes.values())
        provider.close()
        assert not any(p.is_alive() for p in processes)
    assert started == [2, 2]


def test_a_dead_worker_fails_the_call_and_the_next_phase_gets_a_new_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures.process import BrokenProcessPool

    from collection_tree.core.workers import build_workers

    started = _spawn_counter(monkeypatch)
    spec = TASKS[PROJECT_TASKS[0]]
    request = spec.request(spec.example())
    with build_workers():
        provider = OfflineProvider(workers=2)
        provider.complete(request, "offline")
        for process in provider._pool._processes.values():
            process.kill()
            process.join()
        with pytest.raises(BrokenProcessPool):
            provider.complete(request, "offline")
        provider.close()
        after = OfflineProvider(workers=2)
        assert after.complete(request, "offline").text == OfflineProvider().complete(request, "offline").text
        after.close()
    assert started == [2, 2]


def test_a_cli_build_starts_one_pool_for_all_its_phases(offline_cli_env, monkeypatch) -> None:
    """``collection-tree build`` (the test run: phases 2-6, five of them calling the provider) with the
    workers forced on for the small collection: one pool for the build, gone when it ends."""
    import collection_tree.assets.llm_step as llm_step
    from collection_tree.cli import main

    started = _spawn_counter(monkeypatch)
    monkeypatch.setattr(llm_step, "workers_for", lambda tracks, **options: 2)
    import collection_tree.llm.offline as offline

    pools: list[Any] = []
    real_shared = offline.shared_pool

    def watched(n: int) -> Any:
        pool = real_shared(n)
        if pool is not None and all(pool is not p for p in pools):
            pools.append(pool)
        return pool

    monkeypatch.setattr(offline, "shared_pool", watched)
    assert main(["build", "--test"]) == 0
    assert started == [2]
    assert len(pools) == 1
    with pytest.raises(RuntimeError):  # ended with the build
        pools[0].submit(int, 1)


def test_a_broken_pool_ends_every_worker_though_they_ignore_sigterm():
    """A worker killed while idle breaks its pool; the pool's other worker (here started with SIGTERM
    ignored, as some launchers and CI runners start their processes) is ended too: it ignored the pool's
    SIGTERM and kept the pool's clean-up, and the interpreter at exit, waiting for ever."""
    import os
    import signal
    from concurrent.futures.process import BrokenProcessPool

    from collection_tree.core.workers import end_broken_pool, spawn_pool

    pool = spawn_pool(2)
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)  # while the pool starts its workers
    try:
        assert len({f.result(timeout=120) for f in [pool.submit(os.getpid) for _ in range(8)]}) >= 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    processes = list(pool._processes.values())  # the pool's own record of its processes
    assert len(processes) == 2
    os.kill(processes[0].pid, signal.SIGKILL)
    processes[0].join(timeout=30)
    with pytest.raises(BrokenProcessPool):
        pool.submit(os.getpid).result(timeout=60)
    end_broken_pool(pool)
    for process in processes:
        process.join(timeout=30)
    assert [process.exitcode is not None for process in processes] == [True, True]
