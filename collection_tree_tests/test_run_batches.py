"""run_batches: results in batch order; a crash waits for the batches in flight (their answers reach the
cache, so a re-execution from failure does not pay for them again); a stop does not wait."""

import threading
import time

import pytest

from collection_tree.llm.interface import StopRequested
from collection_tree.phases.common import run_batches


def test_results_come_back_in_batch_order_whatever_finishes_first():
    def work(n: int) -> int:
        time.sleep(0.01 * (5 - n))
        return n * 10

    assert run_batches([1, 2, 3, 4], work, workers=4) == [10, 20, 30, 40]


def test_a_crash_waits_for_the_batches_in_flight_and_cancels_the_queued_ones():
    finished: list[int] = []
    started = threading.Barrier(3)

    def work(n: int) -> int:
        if n in (0, 1, 2):
            started.wait(timeout=5)
        if n == 2:
            raise RuntimeError("disk full")
        if n in (0, 1):
            time.sleep(0.3)  # still running when batch 2 crashes
        finished.append(n)
        return n

    with pytest.raises(RuntimeError, match="disk full"):
        run_batches(list(range(10)), work, workers=3)
    # batches 0 and 1 ran to the end before the exception left run_batches; the queued ones never started
    assert sorted(finished) == [0, 1]


def test_a_stop_returns_without_waiting_for_the_batch_in_flight():
    stop = threading.Event()
    release = threading.Event()
    finished: list[int] = []

    def work(n: int) -> int:
        if n == 0:
            stop.set()
            return 0
        release.wait(timeout=5)  # a slow call
        finished.append(n)
        return n

    t0 = time.monotonic()
    with pytest.raises(StopRequested):
        run_batches([0, 1, 2, 3], work, workers=2, stop_event=stop)
    assert time.monotonic() - t0 < 2.0 and finished == []
    release.set()
