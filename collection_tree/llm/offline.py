"""The offline provider: every task answered by its deterministic solver, no key, no network.

The solvers are pure Python (the GIL lets one thread run at a time), so the phase's call threads
share one core. For a big collection (``core.workers``) the answers are computed in worker
processes instead: the same functions of the same payloads, so the same answers."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from collection_tree.core.workers import end_broken_pool, shared_pool, spawn_pool
from collection_tree.llm.client import ProviderAnswer
from collection_tree.llm.interface import LLMError, LLMRequest, TokenUsage


def estimate_tokens(text: str) -> int:
    """~4 characters per token: good enough for figures when no API counts them."""
    return max(1, len(text) // 4)


def answer_offline(request: LLMRequest) -> tuple[str, int, int]:
    """One call's answer text and its estimated input and output tokens (the work of a call, done in
    whichever process runs it)."""
    assert request.solve_offline is not None
    text = json.dumps(request.solve_offline(request.payload), ensure_ascii=False)
    return text, estimate_tokens(request.system + request.user_message()), estimate_tokens(text)


class OfflineProvider:
    name = "offline"

    def __init__(self, workers: int = 0):
        """``workers``: processes the answers are computed in, started at the first call (0 or 1: in
        this process)."""
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._owned = False  # started here (outside a build's shared pools): ended by close
        self._lock = threading.Lock()

    def complete(self, request: LLMRequest, model: str) -> ProviderAnswer:
        if request.solve_offline is None:
            raise LLMError(request.task, "the request carries no offline solver (build it with TaskSpec.request)",
                           kind="bad_request")
        pool = self._worker_pool()
        if pool is None:
            text, input_tokens, output_tokens = answer_offline(request)
        else:
            try:
                text, input_tokens, output_tokens = pool.submit(answer_offline, request).result()
            except BrokenProcessPool:
                self._drop(pool)
                raise
        usage = TokenUsage(input_tokens=input_tokens, output_tokens=output_tokens)
        return ProviderAnswer(text=text, usage=usage, latency_s=0.0, priced=False)

    def _worker_pool(self) -> ProcessPoolExecutor | None:
        if self.workers < 2:
            return None
        with self._lock:
            if self._pool is None:
                shared = shared_pool(self.workers)
                self._owned = shared is None
                self._pool = shared if shared is not None else spawn_pool(self.workers)
            return self._pool

    def _drop(self, pool: ProcessPoolExecutor) -> None:
        """A worker died: the pool is broken for good; the next call (or phase) starts another."""
        with self._lock:
            if self._pool is pool:
                self._pool = None
        end_broken_pool(pool)  # the build's pool is dropped from its pools too

    def close(self) -> None:
        """Ends the workers this provider started (the client's close, after the phase; calls still
        queued are cancelled); a build's shared pool goes on to the next phase (``core.workers``)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None and self._owned:
            pool.shutdown(wait=True, cancel_futures=True)
