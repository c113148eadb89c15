"""The one client every phase uses: tiering, cache, validation, accounting, concurrency and stop.

``LLMClient`` is built once per run (by the Dagster resource or a test) around a provider.
``client.for_phase("named_clusters")`` gives the object a phase calls; it records every call under
that phase so the asset can report calls, cache hits, tokens, cost and wall time.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import jsonschema
import jsonschema_rs

from collection_tree.llm.interface import CallRecord, LLMError, LLMRequest, StopRequested, TokenUsage
from collection_tree.llm.models import cache_savings_usd, cost_usd, get_tiered_model
from collection_tree.llm.normalise import parse_json_answer

log = logging.getLogger(__name__)

# A truncated answer is asked again with twice the room, up to this many output tokens.
MAX_REASK_TOKENS = 64_000


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
    """``name``: offline, anthropic or anthropic-batch. A provider that talks to an API also has
    ``endpoint`` (its normalised base URL): answers from different endpoints never share cache entries."""

    name: str

    def complete(self, request: LLMRequest, model: str) -> ProviderAnswer:
        """One answer or an :class:`LLMError` (after the provider's own retries)."""
        ...


class ResponseCache(Protocol):
    def get(self, key: str) -> str | None: ...

    def put(self, key: str, text: str, *, task: str, model: str, provider: str = "", endpoint: str = "") -> None: ...


OFFLINE = "offline"
OFFLINE_LABEL = "offline heuristics"  # what people see instead of a model name for offline answers


def provider_endpoint(provider: Any) -> str:
    """The normalised API endpoint of a provider ("" for the offline provider)."""
    return str(getattr(provider, "endpoint", "") or "")


def cache_key(request: LLMRequest, model: str, *, provider: str, endpoint: str) -> str:
    """Hash of everything that shapes an answer: who answers (provider and endpoint: an offline answer
    never serves a keyed build, a loopback fake server never serves the real API), model, prompt,
    payload, schema, parameters."""
    blob = json.dumps(
        {"provider": provider, "endpoint": endpoint, "model": model, "task": request.task,
         "system": request.system, "payload": request.payload, "schema": request.schema,
         "max_tokens": request.max_tokens},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class FallbackSummary:
    """How many of a phase's calls ended in a fallback (an :class:`LLMError` the phase answered with
    its documented fallback), out of all calls that ended (cache hits included), and the last error."""

    calls: int
    fallbacks: int
    last_error: str

    @property
    def share(self) -> float:
        return self.fallbacks / self.calls if self.calls else 0.0


class LLMClient:
    """Shared by all phases of a run. Thread-safe.

    A call: stop check, cache lookup, then the provider (bounded by ``max_concurrency`` across all
    threads); the answer is parsed, normalised by its task and validated against the schema. A rejected
    answer (not JSON, breaks the schema, truncated) is asked again ``invalid_answer_retries`` times
    (a truncated one with twice the ``max_tokens``), then :class:`LLMError` is raised. A fatal error
    (bad key, no permission, spend limit) is remembered: later calls raise it without a request.
    """

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
        self.max_concurrency = max(1, max_concurrency)
        self._slots = threading.BoundedSemaphore(self.max_concurrency)
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self.records: list[CallRecord] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self.fatal_error: LLMError | None = None

    # -- phases ---------------------------------------------------------------------------------
    def for_phase(self, phase: str) -> PhaseLLM:
        return PhaseLLM(self, phase)

    def stats(self, phase: str | None = None) -> dict[str, Any]:
        """Totals for one phase (or all): calls, cache hits, tokens, cost, retries, failures, time.

        ``llm_calls`` counts provider requests (re-asks included), ``llm_failures`` the calls that ended
        in :class:`LLMError` (the phase fell back), ``llm_rejected_answers`` the answers refused by
        validation. ``llm_wall_s`` spans the first call's start to the last one's end;
        ``llm_busy_s`` is the time at least one call was in flight (the phase's wait on the LLM);
        ``llm_max_concurrency`` the most calls in flight at once."""
        with self._lock:
            records = [r for r in self.records if phase is None or r.phase == phase]
        calls = [r for r in records if not r.cached]
        intervals = sorted((r.started, r.ended) for r in calls)
        return {
            "llm_provider": self.provider.name,
            "llm_endpoint": provider_endpoint(self.provider),
            "models_used": models_used(records),
            "llm_calls": len(calls),
            "llm_cache_hits": sum(r.cached for r in records),
            "llm_failures": sum(r.raised for r in records),
            "llm_rejected_answers": sum(r.failed and r.error_kind in _ANSWER_KINDS for r in calls),
            "llm_retries": sum(r.retries for r in records),
            "input_tokens": sum(r.usage.input_tokens for r in calls),
            "output_tokens": sum(r.usage.output_tokens for r in calls),
            "cache_read_tokens": sum(r.usage.cache_read_input_tokens for r in calls),
            "cache_write_tokens": sum(r.usage.cache_creation_input_tokens for r in calls),
            "cost_usd": round(sum(r.cost_usd for r in calls), 6),
            "cache_saved_usd": round(sum(r.cache_saved_usd for r in calls), 6),
            "llm_latency_s": round(sum(r.latency_s for r in calls), 3),
            "llm_wall_s": round(max((r.ended for r in records), default=0.0)
                                - min((r.started for r in records), default=0.0), 3),
            "llm_busy_s": round(_union_length(intervals), 3),
            "llm_max_concurrency": _max_overlap(intervals),
            "calls_by_task": _count_by(calls, "task"),
            "calls_by_model": _count_by_model(calls),
            "failures_by_kind": _count_by([r for r in records if r.raised], "error_kind"),
        }

    def fallback_summary(self, phase: str | None = None) -> FallbackSummary:
        """Calls that ended (a cache hit, an accepted answer or a raised LLMError; re-asks are part of
        their call) and those that raised, with the last error's (redacted) reason."""
        with self._lock:
            records = [r for r in self.records if phase is None or r.phase == phase]
        ended = [r for r in records if r.cached or r.raised or not r.failed]
        raised = [r for r in records if r.raised]
        last = max(raised, key=lambda r: r.ended, default=None)
        return FallbackSummary(calls=len(ended), fallbacks=len(raised),
                               last_error=f"{last.task} ({last.error_kind}): {last.error}" if last else "")

    def timeline(self, phase: str | None = None) -> list[dict[str, Any]]:
        """Every call as a row (seconds since the client started), for critical-path benchmarks."""
        with self._lock:
            records = [r for r in self.records if phase is None or r.phase == phase]
        return [
            {"phase": r.phase, "task": r.task, "model": r.model, "started": round(r.started, 4),
             "ended": round(r.ended, 4), "cached": r.cached, "failed": r.failed, "error_kind": r.error_kind,
             "retries": r.retries, "input_tokens": r.usage.input_tokens, "output_tokens": r.usage.output_tokens}
            for r in records
        ]

    def close(self) -> None:
        close = getattr(self.provider, "close", None)
        if callable(close):
            close()

    # -- one call --------------------------------------------------------------------------------
    def call(self, request: LLMRequest, phase: str) -> dict[str, Any]:
        if self.stop_event.is_set():
            raise StopRequested(f"stop requested before {request.task}")
        model, _ = get_tiered_model(request.tier, self.model_config)
        provider, endpoint = self.provider.name, provider_endpoint(self.provider)
        # Hashing the whole request is worth it only with a cache to look it up in.
        key = cache_key(request, model, provider=provider, endpoint=endpoint) if self.cache is not None else ""
        if self.cache is not None:
            started = self._now()
            text = self.cache.get(key)
            if text is not None:
                try:
                    answer = self._validate(request, text)
                except LLMError:
                    answer = None  # a stale or corrupt entry: ask again
                if answer is not None:
                    self._record(CallRecord(phase, request.task, model, self.provider.name, cached=True,
                                            started=started, ended=self._now()))
                    return answer
        self._raise_if_fatal(request, phase, model)
        asked = request
        last_error: LLMError | None = None
        for attempt in range(self.invalid_answer_retries + 1):
            if self.stop_event.is_set():
                raise StopRequested(f"stop requested before {request.task}")
            record = CallRecord(phase, request.task, model, self.provider.name, retries=attempt)
            started = time.monotonic()
            try:
                with self._slot():
                    # Calls queued for a slot while another got a fatal answer must not be sent.
                    self._raise_if_fatal(request, phase, model)
                    record.started = self._now()  # in flight from here: the wait for a slot is not the call's
                    started = time.monotonic()
                    reply = self.provider.complete(asked, model)
            except LLMError as exc:
                if getattr(exc, "replayed", False):
                    raise
                record.failed, record.raised, record.error_kind = True, True, exc.kind
                record.error = exc.reason
                record.retries += exc.retries
                record.latency_s = time.monotonic() - started
                record.ended = self._now()
                self._record(record)
                if exc.fatal:
                    self.fatal_error = exc
                raise
            record.ended = self._now()
            record.usage, record.request_id = reply.usage, reply.request_id
            record.retries += reply.retries
            record.latency_s = reply.latency_s or (time.monotonic() - started)
            if reply.priced:
                record.cost_usd = cost_usd(model, reply.usage.input_tokens, reply.usage.output_tokens,
                                           reply.usage.cache_creation_input_tokens,
                                           reply.usage.cache_read_input_tokens, batch=reply.batch)
                record.cache_saved_usd = cache_savings_usd(model, reply.usage.input_tokens,
                                                           reply.usage.cache_creation_input_tokens,
                                                           reply.usage.cache_read_input_tokens, batch=reply.batch)
            try:
                answer = self._check(asked, reply)
            except LLMError as exc:
                record.failed, record.error_kind, record.error = True, exc.kind, exc.reason
                last_error = exc
                log.warning("LLM %s answer rejected (%s), attempt %d: %s", request.task, exc.kind, attempt + 1,
                            exc.reason)
                if exc.kind == "truncated":
                    asked = dataclasses.replace(asked, max_tokens=min(asked.max_tokens * 2, MAX_REASK_TOKENS))
                if attempt == self.invalid_answer_retries:
                    record.raised = True
                self._record(record)
                continue
            self._record(record)
            if self.cache is not None:
                self.cache.put(key, json.dumps(answer, sort_keys=True), task=request.task, model=model,
                               provider=provider, endpoint=endpoint)
            return answer
        assert last_error is not None
        raise last_error

    def _check(self, request: LLMRequest, reply: ProviderAnswer) -> dict[str, Any]:
        if reply.stop_reason in ("max_tokens", "model_context_window_exceeded"):
            raise LLMError(request.task, f"answer truncated ({reply.stop_reason}, max_tokens "
                                         f"{request.max_tokens})", kind="truncated")
        if reply.stop_reason == "refusal":
            raise LLMError(request.task, "the model refused to answer", kind="refused")
        return self._validate(request, reply.text)

    def _raise_if_fatal(self, request: LLMRequest, phase: str, model: str) -> None:
        if self.fatal_error is None:
            return
        error = LLMError(request.task, self.fatal_error.reason, kind=self.fatal_error.kind)
        error.replayed = True  # type: ignore[attr-defined]  # recorded here, not again by the caller
        now = self._now()
        self._record(CallRecord(phase, request.task, model, self.provider.name, failed=True, raised=True,
                                error_kind=error.kind, error=error.reason, started=now, ended=now))
        raise error

    def _validate(self, request: LLMRequest, text: str) -> dict[str, Any]:
        try:
            raw = parse_json_answer(text)
        except ValueError as exc:
            raise LLMError(request.task, str(exc)[:300], kind="malformed") from None
        if not isinstance(raw, dict):
            raise LLMError(request.task, "answer is not a JSON object", kind="malformed")
        try:
            answer = request.normalise(raw, request.payload) if request.normalise else raw
            error = schema_error(request.schema, answer)
            if error is not None:
                raise error
        except jsonschema.ValidationError as exc:
            raise LLMError(request.task, f"answer breaks the schema: {exc.message[:200]}",
                           kind="invalid") from exc
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise LLMError(request.task, f"answer could not be normalised: {exc!r}"[:300],
                           kind="invalid") from exc
        return answer

    def _now(self) -> float:
        return time.monotonic() - self._t0

    def _slot(self) -> _Slot:
        return _Slot(self)

    def _record(self, record: CallRecord) -> None:
        with self._lock:
            self.records.append(record)


_ANSWER_KINDS = frozenset({"malformed", "invalid", "truncated", "refused"})


@functools.lru_cache(maxsize=256)
def _validators_for(schema_json: str) -> tuple[Any, Any]:
    """(jsonschema-rs's validator, jsonschema's) of one schema."""
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    _check_schema(cls, json.dumps(_skeleton(schema), sort_keys=True))
    return jsonschema_rs.validator_for(schema), cls(schema)


@functools.lru_cache(maxsize=64)
def _check_schema(cls: Any, skeleton_json: str) -> None:
    """The metaschema check, once per schema shape: a task restricting ids to each request's own
    (``enum``) makes a schema per request, and checking each against the metaschema cost more than
    validating the answers."""
    cls.check_schema(json.loads(skeleton_json))


def _skeleton(schema: Any) -> Any:
    """The schema with each ``enum`` list's members replaced by one placeholder (the metaschema asks
    an enum to be an array, nothing of its members); anything else as it is."""
    if isinstance(schema, dict):
        return {key: ["<member>"] if key == "enum" and isinstance(value, list) and value else _skeleton(value)
                for key, value in schema.items()}
    if isinstance(schema, list):
        return [_skeleton(item) for item in schema]
    return schema


def _validators(schema: dict[str, Any]) -> tuple[Any, Any]:
    return _validators_for(json.dumps(schema, sort_keys=True, default=str))


def _validator(schema: dict[str, Any]) -> Any:
    """jsonschema's validator of ``schema`` (checked against its metaschema)."""
    return _validators(schema)[1]


def schema_error(schema: dict[str, Any], answer: Any) -> jsonschema.ValidationError | None:
    """The answer's most relevant schema error, or None when it conforms. jsonschema-rs (compiled)
    passes a conforming answer in a fraction of jsonschema's time (validating answers was ~10% of the
    offline metadata phase); an answer it refuses, or one holding anything but plain JSON values (a
    tuple), goes through jsonschema, which has the last word and the error message."""
    fast, reference = _validators(schema)
    if _plain_json(answer) and fast.is_valid(answer):
        return None
    return jsonschema.exceptions.best_match(reference.iter_errors(answer))


_JSON_SCALARS = (str, int, float, bool, type(None))


def _plain_json(value: Any) -> bool:
    """Only dicts with string keys, lists and JSON scalars: what both validators read alike
    (jsonschema-rs would take a tuple for an array, jsonschema refuses it)."""
    kind = type(value)
    if kind is dict:
        return all(type(k) is str and _plain_json(v) for k, v in value.items())
    if kind is list:
        return all(map(_plain_json, value))
    return kind in _JSON_SCALARS


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

    def timeline(self) -> list[dict[str, Any]]:
        return self.client.timeline(self.phase)

    def fallback_summary(self) -> FallbackSummary:
        return self.client.fallback_summary(self.phase)

    def degraded(self, max_fallback_share: float) -> str | None:
        """Why this phase's result must not be stored: more than ``max_fallback_share`` of its calls
        ended in a fallback (the API is failing), or None. The offline provider never falls back."""
        if self.client.provider.name == OFFLINE:
            return None
        summary = self.fallback_summary()
        if summary.fallbacks == 0 or summary.share <= max_fallback_share:
            return None
        return (f"[{self.phase}] {summary.fallbacks} of {summary.calls} LLM calls ended in a fallback "
                f"({summary.share:.0%}, more than max_fallback_share {max_fallback_share:.0%}); "
                f"last API error: {summary.last_error}")


def models_used(records: list[CallRecord]) -> list[str]:
    """Models whose answers a phase used (cache hits included: the cache key holds the provider, so a
    hit is that model's answer); none for the offline provider, whose answers are heuristics."""
    return sorted({r.model for r in records if r.provider != OFFLINE and not r.raised and not r.failed})


def _count_by_model(records: list[CallRecord]) -> dict[str, int]:
    """Calls per model; offline answers are counted as what they are, not under a model name."""
    out: dict[str, int] = {}
    for record in records:
        label = OFFLINE_LABEL if record.provider == OFFLINE else record.model
        out[label] = out.get(label, 0) + 1
    return out


def _count_by(records: list[CallRecord], attr: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for record in records:
        value = getattr(record, attr)
        out[value] = out.get(value, 0) + 1
    return out


def _union_length(intervals: list[tuple[float, float]]) -> float:
    """Total length covered by sorted ``(start, end)`` intervals."""
    total, cur_start, cur_end = 0.0, None, None
    for start, end in intervals:
        if cur_end is None or start > cur_end:
            if cur_end is not None and cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None and cur_start is not None:
        total += cur_end - cur_start
    return total


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    best = current = 0
    for _, delta in events:
        current += delta
        best = max(best, current)
    return best
