"""Python's cyclic garbage collector tuned for the length of a build.

A build holds a large, long-lived heap (Dagster, the loaded definitions, the tracks, the trees) and
allocates millions of short-lived containers while it works. With the interpreter's defaults each
full collection walks that whole heap again: 12 full collections were 2.3 s of a 10 s update at 30K
tracks, and the walk grows with the collection. Inside :func:`build_heap` the heap that exists when
the run starts (imports, definitions) is frozen out of every collection, and the youngest generation
is collected less often; almost all of a build's garbage is freed by reference counting anyway.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Allocations between young collections (default 700), young collections per middle one (default
# 10), middle ones per full one (default 10): a build's containers mostly live a phase, not a moment.
BUILD_THRESHOLDS = (20_000, 50, 100)
# A command's own thresholds: its imports (Dagster, pandas, scikit-learn; seconds of them) allocate
# millions of objects and free almost none, and at the defaults paid 6 full collections for it (0.6 s
# of an update at 30K tracks). Full collections stay possible (every ~100M allocations) for a command
# that serves for long (``fake-anthropic``).
COMMAND_THRESHOLDS = (50_000, 20, 100)


def command_process(command: Callable[[], int]) -> int:
    """``command`` as a whole process (the console script): it runs at ``COMMAND_THRESHOLDS``, and the
    heap is frozen when it returns, so the interpreter's last collection at exit (0.3-0.8 s at 30K
    tracks) does not walk everything the process's end frees anyway. Not for a ``main()`` called
    inside another program (tests): that process goes on and needs its collector."""
    gc.set_threshold(*COMMAND_THRESHOLDS)
    try:
        return command()
    finally:
        gc.freeze()


@contextmanager
def build_heap() -> Iterator[None]:
    """Inside: the heap as it stands is frozen (never collected, never walked) and collections run at
    ``BUILD_THRESHOLDS``. The previous thresholds come back after; a nested use changes nothing."""
    before = gc.get_threshold()
    if before == BUILD_THRESHOLDS:  # an outer build_heap is in effect
        yield
        return
    gc.freeze()
    gc.set_threshold(*BUILD_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
