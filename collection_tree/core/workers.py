"""Worker processes for a build's CPU-bound pure work (the play order, the offline LLM answers): one
Python process uses one core, and a machine has more.

Starting a worker costs about a second (it imports numpy, pandas and the task modules), so a build
uses them only from ``POOL_MIN_TRACKS`` tracks; the 6,303-track demo and the 30K collections stay in
one process, and inside :func:`build_workers` (a build) every phase shares one pool instead of
starting its own. Workers are started with ``spawn``: the calling process (Dagster's) runs threads,
which a forked child must not inherit.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

POOL_MIN_TRACKS = 40_000
POOL_MAX_WORKERS = 8  # each worker holds its own copy of what it is sent


def pool_workers() -> int:
    """CPUs this process may use, bounded by ``POOL_MAX_WORKERS``."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(usable, POOL_MAX_WORKERS))


def workers_for(tracks: int, *, min_tracks: int = POOL_MIN_TRACKS, workers: int | None = None) -> int:
    """How many worker processes a phase over ``tracks`` tracks uses: 0 (none) below ``min_tracks`` or
    on one CPU."""
    workers = pool_workers() if workers is None else workers
    return workers if tracks >= min_tracks and workers > 1 else 0


def spawn_pool(workers: int, **options: Any) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes (``options``: ProcessPoolExecutor's, e.g. an initializer)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"), **options)


# Inside ``build_workers``: the build's shared pools by size; None outside (each user starts its own).
_shared: dict[int, ProcessPoolExecutor] | None = None
_shared_lock = threading.Lock()


@contextmanager
def build_workers() -> Iterator[None]:
    """Inside: :func:`shared_pool` gives every phase of the build the same worker processes, started at
    first use and ended when the build ends (a pool per phase started 13 worker processes in a
    300K-track build, 17 s of imports). A nested use changes nothing: the outer one owns the pools."""
    global _shared
    with _shared_lock:
        if _shared is not None:
            owner = False
        else:
            _shared, owner = {}, True
    if not owner:
        yield
        return
    try:
        yield
    finally:
        with _shared_lock:
            pools, _shared = _shared or {}, None
        for pool in pools.values():
            pool.shutdown(wait=True, cancel_futures=True)


def shared_pool(workers: int) -> ProcessPoolExecutor | None:
    """The build's pool of ``workers`` spawned processes (started now if it is the first use), or None
    outside :func:`build_workers`: the caller then starts and ends its own."""
    with _shared_lock:
        if _shared is None:
            return None
        pool = _shared.get(workers)
        if pool is None:
            pool = _shared[workers] = spawn_pool(workers)
        return pool


def end_broken_pool(pool: ProcessPoolExecutor) -> None:
    """End a pool a dead worker broke, the build's (dropped from its pools, so the next phase starts a
    new one) or a caller's own. Its other workers are killed, not asked to stop: one may wait for ever
    on a queue lock the dead one held, and the SIGTERM the pool then sends it is ignored when the
    process was started with SIGTERM ignored (as some launchers and CI runners start theirs): the pool's
    clean-up, and the interpreter at exit, waited for it for ever. ``_processes`` is the pool's own
    record of its processes (CPython's)."""
    with _shared_lock:
        if _shared is not None:
            for size, held in list(_shared.items()):
                if held is pool:
                    del _shared[size]
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.kill()
    pool.shutdown(wait=False, cancel_futures=True)
