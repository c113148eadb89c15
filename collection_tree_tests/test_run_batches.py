"""run_batches: results in batch order; a crash waits for the batches in flight (their answers reach the
cache, so a re-execution from failure does not pay for them again); a stop does not wait.

Order and waiting are shown with events (who finished before whom), never with sleeps or elapsed time."""

import threading

import pytest

from collection_tree.llm.interface import StopRequested
from collection_tree.phases.common import run_batches


def test_results_come_back_in_batch_order_whatever_finishes_first():
    """Each batch waits until the next one has finished, so they finish last-to-first."""
    done = {n: threading.Event() for n in range(1, 6)}
    done[5].set()  # there is no batch 5: batch 4 may finish at once
    finished: list[int] = []

    def work(n: int) -> int:
        assert done[n + 1].wait(timeout=30), f"batch {n + 1} never finished"
        finished.append(n)
        done[n].set()
        return n * 10

    assert run_batches([1, 2, 3, 4], work, workers=4) == [10, 20, 30, 40]
    assert finished == [4, 3, 2, 1]


def test_a_crash_waits_for_the_batches_in_flight_and_cancels_the_queued_ones():
    """Batches 0 and 1 are still running when batch 2 crashes: they only finish once run_batches has seen
    the crash (it sets the stop event), and they have finished before the exception leaves run_batches."""
    stop = threading.Event()
    running = threading.Barrier(3)
    finished: list[int] = []

    def work(n: int) -> int:
        if n in (0, 1, 2):
            running.wait(timeout=30)  # all three in flight together
        if n == 2:
            raise RuntimeError("disk full")
        if n in (0, 1):
            assert stop.wait(timeout=30), "run_batches never saw the crash"
        finished.append(n)
        return n

    with pytest.raises(RuntimeError, match="disk full"):
        run_batches(list(range(10)), work, workers=3, stop_event=stop)
    # batches 0 and 1 ran to the end before the exception left run_batches; the queued ones never started
    assert sorted(finished) == [0, 1]


def test_a_stop_returns_without_waiting_for_the_batch_in_flight():
    stop = threading.Event()
    release = threading.Event()
    in_flight = threading.Event()
    finished: list[int] = []

    def work(n: int) -> int:
        if n == 0:
            assert in_flight.wait(timeout=30)  # batch 1 is running when the stop comes
            stop.set()
            return 0
        in_flight.set()
        release.wait(timeout=60)  # a slow call: only the test releases it, after run_batches returned
        finished.append(n)
        return n

    with pytest.raises(StopRequested):
        run_batches([0, 1, 2, 3], work, workers=2, stop_event=stop)
    # run_batches is back while batch 1 is still blocked (had it waited, batch 1 would be in `finished`)
    assert finished == [] and not release.is_set()
    release.set()
