"""The one client every phase uses: tiering, cache, validation, accounting, concurrency and stop.

``LLMClient`` is built once per run (by the Dagster resource or a test) around a provider.
``client.for_phase("named_clusters")`` gives the object a phase calls; it records every call under
that phase so the asset can report calls, cache hits, tokens, cost and wall time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import jsonschema

from collection_tree.llm.interface import CallRecord, LLMError, LLMRequest, StopRequested, TokenUsage
from collection_tree.llm.models import cost_usd, get_tiered_model

log = logging.getLogger(__name__)


@dataclass
class ProviderAnswer:
    """What a provider returns: the raw answer text (JSON expected) and what it cost."""

    text: str
    usage: TokenUsage = field(default_factory=TokenUsage)
    stop_reason: str = "end_turn"
    request_id: str = ""
    retries: int = 0
    latency_s: float = 0.0
    batch: bool = False
    priced: bool = True  # False for answers no API bills (offline solvers)


class Provider(Protocol):
    name: str

    def complete(self, request: LLMRequest, model: str) -> ProviderAnswer:
        """One answer or an :class:`LLMError` (after the provider's own retries)."""
        ...


class ResponseCache(Protocol):
    def get(self, key: str) -> str | None: ...

    def put(self, key: str, text: str, *, task: str, model: str) -> None: ...


def cache_key(request: LLMRequest, model: str) -> str:
    """Hash of everything that shapes an answer: model, prompt, payload, schema, parameters."""
    blob = json.dumps(
        {"model": model, "task": request.task, "system": request.system, "payload": request.payload,
         "schema": request.schema, "max_tokens": request.max_tokens},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class LLMClient:
    """Shared by all phases of a run. Thread-safe."""

    def __init__(
        self,
        provider: Provider,
        *,
        model_config: Mapping[str, Any] | None = None,
        cache: ResponseCache | None = None,
        max_concurrency: int = 4,
        stop_event: threading.Event | None = None,
        invalid_answer_retries: int = 1,
    ):
        self.provider = provider
        self.model_config = dict(model_config or {})
        self.cache = cache
        self.stop_event = stop_event or threading.Event()
        self.invalid_answer_retries = invalid_answer_retries
        self._slots = threading.BoundedSemaphore(max(1, max_concurrency))
        self._lock = threading.Lock()
        self.records: list[CallRecord] = []
        self.max_in_flight = 0
        self._in_flight = 0

    # -- phases ---------------------------------------------------------------------------------
    def for_phase(self, phase: str) -> PhaseLLM:
        return PhaseLLM(self, phase)

    def stats(self, phase: str | None = None) -> dict[str, Any]:
        """Totals for one phase (or all): calls, cache hits, tokens, cost, retries, failures."""
        with self._lock:
            records = [r for r in self.records if phase is None or r.phase == phase]
        calls = [r for r in records if not r.cached]
        return {
            "llm_provider": self.provider.name,
            "llm_calls": len(calls),
            "llm_cache_hits": sum(r.cached for r in records),
            "llm_failures": sum(r.failed for r in records),
            "llm_retries": sum(r.retries for r in records),
            "input_tokens": sum(r.usage.input_tokens for r in calls),
            "output_tokens": sum(r.usage.output_tokens for r in calls),
            "cache_read_tokens": sum(r.usage.cache_read_input_tokens for r in calls),
            "cache_write_tokens": sum(r.usage.cache_creation_input_tokens for r in calls),
            "cost_usd": round(sum(r.cost_usd for r in calls), 6),
            "llm_latency_s": round(sum(r.latency_s for r in calls), 3),
            "calls_by_task": _count_by(calls, "task"),
            "calls_by_model": _count_by(calls, "model"),
        }

    # -- one call --------------------------------------------------------------------------------
    def call(self, request: LLMRequest, phase: str) -> dict[str, Any]:
        from collection_tree.tasks import get_task  # late: tasks import the interface

        if self.stop_event.is_set():
            raise StopRequested(f"stop requested before {request.task}")
        spec = get_task(request.task)
        model, _ = get_tiered_model(request.tier, self.model_config)
        key = cache_key(request, model)
        if self.cache is not None:
            text = self.cache.get(key)
            if text is not None:
                try:
                    answer = self._validate(spec, request, text)
                except LLMError:
                    answer = None  # a stale or corrupt entry: ask again
                if answer is not None:
                    self._record(CallRecord(phase, request.task, model, self.provider.name, cached=True))
                    return answer
        last_error: LLMError | None = None
        for attempt in range(self.invalid_answer_retries + 1):
            if self.stop_event.is_set():
                raise StopRequested(f"stop requested before {request.task}")
            record = CallRecord(phase, request.task, model, self.provider.name, retries=attempt)
            started = time.monotonic()
            try:
                with self._slot():
                    reply = self.provider.complete(request, model)
            except LLMError as exc:
                record.failed, record.error_kind = True, exc.kind
                record.latency_s = time.monotonic() - started
                self._record(record)
                raise
            record.usage, record.request_id = reply.usage, reply.request_id
            record.retries += reply.retries
            record.latency_s = reply.latency_s or (time.monotonic() - started)
            if reply.priced:
                record.cost_usd = cost_usd(model, reply.usage.input_tokens, reply.usage.output_tokens,
                                           reply.usage.cache_creation_input_tokens,
                                           reply.usage.cache_read_input_tokens, batch=reply.batch)
            try:
                if reply.stop_reason == "max_tokens":
                    raise LLMError(request.task, "answer truncated at max_tokens", kind="truncated")
                answer = self._validate(spec, request, reply.text)
            except LLMError as exc:
                record.failed, record.error_kind = True, exc.kind
                self._record(record)
                last_error = exc
                log.warning("LLM %s answer rejected (%s), attempt %d", request.task, exc.kind, attempt + 1)
                continue
            self._record(record)
            if self.cache is not None:
                self.cache.put(key, json.dumps(answer, sort_keys=True), task=request.task, model=model)
            return answer
        assert last_error is not None
        raise last_error

    def _validate(self, spec: Any, request: LLMRequest, text: str) -> dict[str, Any]:
        try:
            raw = json.loads(text)
        except (json.JSONDecodeError, TypeError) as exc:
            raise LLMError(request.task, f"answer is not JSON ({exc})", kind="malformed") from exc
        if not isinstance(raw, dict):
            raise LLMError(request.task, "answer is not a JSON object", kind="malformed")
        try:
            answer = spec.normalise(raw, request.payload)
            jsonschema.validate(answer, request.schema)
        except jsonschema.ValidationError as exc:
            raise LLMError(request.task, f"answer breaks the schema: {exc.message[:200]}",
                           kind="invalid") from exc
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise LLMError(request.task, f"answer could not be normalised: {exc!r}"[:300],
                           kind="invalid") from exc
        return answer

    def _slot(self) -> _Slot:
        return _Slot(self)

    def _record(self, record: CallRecord) -> None:
        with self._lock:
            self.records.append(record)


class _Slot:
    """Bounded concurrency across every phase and thread sharing the client."""

    def __init__(self, client: LLMClient):
        self.client = client

    def __enter__(self) -> None:
        self.client._slots.acquire()
        with self.client._lock:
            self.client._in_flight += 1
            self.client.max_in_flight = max(self.client.max_in_flight, self.client._in_flight)

    def __exit__(self, *exc: object) -> None:
        with self.client._lock:
            self.client._in_flight -= 1
        self.client._slots.release()


class PhaseLLM:
    """The client as one phase sees it (implements :class:`collection_tree.llm.LLM`)."""

    def __init__(self, client: LLMClient, phase: str):
        self.client = client
        self.phase = phase

    def call(self, request: LLMRequest) -> dict[str, Any]:
        return self.client.call(request, self.phase)

    def stopped(self) -> bool:
        return self.client.stop_event.is_set()

    @property
    def stop_event(self) -> threading.Event:
        return self.client.stop_event

    def stats(self) -> dict[str, Any]:
        return self.client.stats(self.phase)


def _count_by(records: list[CallRecord], attr: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for record in records:
        value = getattr(record, attr)
        out[value] = out.get(value, 0) + 1
    return out
