"""Per-batch progress as log lines with the phase's percent band and the whole build's percent."""

from __future__ import annotations

import time
from typing import Any

from collection_tree.phases.common import build_percent


class PhaseProgress:
    """``progress(fraction, message)`` for a phase; logs through the Dagster context's logger."""

    def __init__(self, context: Any, phase: str):
        self.log = context.log
        self.phase = phase
        self.started = time.monotonic()
        self.last_logged = -1.0

    def __call__(self, fraction: float, message: str) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        self.log.info(
            f"[{self.phase}] {fraction * 100:5.1f}% of phase | build {build_percent(self.phase, fraction):3d}% "
            f"| {message} | {time.monotonic() - self.started:.1f}s"
        )
        self.last_logged = fraction

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 3)
