"""Worker processes for a build's CPU-bound pure work (the play order, the offline LLM answers): one
Python process uses one core, and a machine has more.

Starting a worker costs about a second (it imports numpy, pandas and the task modules), so a build
uses them only from ``POOL_MIN_TRACKS`` tracks; the 6,303-track demo and the 30K collections stay in
one process. Workers are started with ``spawn``: the calling process (Dagster's) runs threads, which a
forked child must not inherit.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
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
