"""Per-batch progress as log lines with the phase's percent band and the whole build's percent."""

from __future__ import annotations

import math
import time
from typing import Any

from collection_tree.phases.common import build_percent

# Each log line is a Dagster event committed to the instance's storage (~30 ms on SQLite): at 300K tracks
# the per-batch lines cost refined_clusters 12 of its 28 s. The first and the last line of a phase are
# always logged, the ones between at most once per interval.
MIN_LOG_INTERVAL_S = 1.0


class PhaseProgress:
    """``progress(fraction, message)`` for a phase; logs through the Dagster context's logger (the
    first and final lines always, the others at most every ``MIN_LOG_INTERVAL_S``)."""

    def __init__(self, context: Any, phase: str):
        self.log = context.log
        self.phase = phase
        self.started = time.monotonic()
        self.last_logged = -1.0
        self.last_logged_at = -math.inf

    def __call__(self, fraction: float, message: str) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        now = time.monotonic()
        if self.last_logged >= 0 and fraction < 1.0 and now - self.last_logged_at < MIN_LOG_INTERVAL_S:
            return
        self.last_logged_at = now
        self.log.info(
            f"[{self.phase}] {fraction * 100:5.1f}% of phase | build {build_percent(self.phase, fraction):3d}% "
            f"| {message} | {now - self.started:.1f}s"
        )
        self.last_logged = fraction

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 3)
