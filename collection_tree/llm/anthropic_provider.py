"""The Anthropic provider: the official SDK (one client per provider), structured JSON answers, SDK
retries, fail-fast on errors no retry can fix, bounded concurrency, usage and cost per call.

The API key is read by the SDK from ``ANTHROPIC_API_KEY`` (or its other credential sources); this
module never stores, logs or repeats it: errors are rebuilt from the status, error type and message
(redacted), never chained to the SDK exception, which holds the request and its headers.

Retries: the SDK retries 408/409/429/5xx/529, timeouts and connection errors ``max_retries`` times
with exponential backoff, honouring ``retry-after-ms`` / ``retry-after``. A 429 that reports a spend
or usage limit (``error.details.error_code`` such as ``enforced_spend_limit_reached``, or a message
about credit, billing or limits) is not retried: a middleware stops it at the first response.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anthropic
from anthropic import Middleware

from collection_tree.llm.batch_journal import BatchJournal
from collection_tree.llm.client import ProviderAnswer
from collection_tree.llm.interface import LLMError, LLMRequest, TokenUsage, redact
from collection_tree.llm.models import CACHE_TTL_S, approx_tokens, cache_min_tokens

log = logging.getLogger(__name__)

QUOTA_ERROR_CODES = frozenset({
    "enforced_spend_limit_reached", "contract_spend_limit_reached", "linked_organization_spend_limit_reached",
    "linked_organization_billing_unavailable",
})
_QUOTA_WORDS = re.compile(r"spend(ing)? limit|usage limit|credit balance|billing|quota", re.IGNORECASE)
_KIND_BY_STATUS = {400: "bad_request", 401: "auth", 402: "quota", 403: "permission", 404: "not_found",
                   413: "too_large", 429: "rate_limited"}


_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_endpoint(url: str) -> str:
    """A base URL as the cache keys it: scheme and host lower-cased, the default port, credentials,
    query, fragment and trailing slashes dropped (``HTTPS://API.anthropic.com:443/`` and
    ``https://api.anthropic.com`` are one endpoint; ``http://127.0.0.1:8765`` is another)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:  # not a number: keep the text, it still names the endpoint
        port = None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), "", ""))


@dataclass
class _CallState:
    attempts: int = 0
    limits: dict[str, int] = field(default_factory=dict)  # the last response's published per-minute limits


RATE_LIMIT_HEADERS = {"requests": "anthropic-ratelimit-requests-limit",
                      "input_tokens": "anthropic-ratelimit-input-tokens-limit",
                      "output_tokens": "anthropic-ratelimit-output-tokens-limit"}


class ConcurrencyGovernor:
    """How many calls may be in flight: ``ceiling`` (the configured ``max_concurrency``), lowered to
    what the account's published per-minute limits sustain (the ``anthropic-ratelimit-*-limit``
    headers of each answer): a limit L per minute sustains L x latency / 60 calls in flight, in
    requests, and in input or output tokens divided by the tokens a call uses (running means).
    Sending more only buys 429s and retries."""

    def __init__(self, ceiling: int, adapt: bool = True):
        self.ceiling = max(1, int(ceiling))
        self.adapt = adapt
        self.limit = self.ceiling
        self.in_flight = 0
        self.peak = 0  # the most calls in flight at once so far
        self._cond = threading.Condition()
        self._calls = 0
        self._mean = {"latency": 0.0, "input_tokens": 0.0, "output_tokens": 0.0}

    def __enter__(self) -> ConcurrencyGovernor:
        with self._cond:
            while self.in_flight >= self.limit:
                self._cond.wait()
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._cond:
            self.in_flight -= 1
            self._cond.notify_all()

    def observe(self, limits: dict[str, int], latency_s: float, input_tokens: int, output_tokens: int) -> None:
        """One answered call: its latency, tokens and the limits its response published."""
        if not self.adapt:
            return
        with self._cond:
            self._calls += 1
            for key, value in (("latency", latency_s), ("input_tokens", input_tokens),
                               ("output_tokens", output_tokens)):
                self._mean[key] += (value - self._mean[key]) / self._calls
            sustained = [self.ceiling]
            for name, per_minute in limits.items():
                per_call = 1.0 if name == "requests" else self._mean.get(name, 0.0)
                if per_minute > 0 and per_call > 0:
                    sustained.append(int(per_minute * self._mean["latency"] / 60.0 / per_call))
            self.limit = max(1, min(sustained))
            self._cond.notify_all()


class PrefixGate:
    """Staggers calls that share a cacheable prompt prefix so that all but the first can read it.

    The API makes a cache entry readable once the response that wrote it has started; calls sent before that
    all pay the write. A non-streamed call cannot see its response start, only its end, so the first call with
    a prefix (the leader) goes alone and the others wait for its answer, then go together and read. A prefix
    whose entry is known to be alive (a call with it was sent less than the lifetime ago; each read refreshes
    it) goes at once. If the leader fails, one waiter becomes the next leader."""

    def __init__(self, ttl_s: float = CACHE_TTL_S["5m"], clock: Callable[[], float] = time.monotonic):
        self.ttl_s = ttl_s
        self.clock = clock
        self._lock = threading.Lock()
        self._leaders: dict[str, threading.Event] = {}
        self._alive_until: dict[str, float] = {}
        self.waits = 0  # calls that waited for a leader (for tests and benchmarks)

    @contextmanager
    def turn(self, key: str | None) -> Iterator[None]:
        """Hold a call with prefix ``key`` (None: nothing to share) until it may go; on success the entry
        counts as alive for ``ttl_s`` from the moment the call was sent."""
        if key is None:
            yield
            return
        leader = self._wait(key)
        sent = self.clock()
        ok = False
        try:
            yield
            ok = True
        finally:
            with self._lock:
                if ok:
                    self._alive_until[key] = max(self._alive_until.get(key, 0.0), sent + self.ttl_s)
                event = self._leaders.pop(key, None) if leader else None
            if event is not None:
                event.set()

    def _wait(self, key: str) -> bool:
        """True when this call leads (goes alone); False when the entry is alive and it may read."""
        waited = False
        while True:
            with self._lock:
                if self.clock() < self._alive_until.get(key, float("-inf")):
                    self.waits += waited
                    return False
                event = self._leaders.get(key)
                if event is None:
                    self._leaders[key] = threading.Event()
                    self.waits += waited
                    return True
            waited = True
            event.wait()


class _QuotaExceeded(Exception):
    """Raised by the middleware on a spend-limit 429 so the SDK does not retry it."""

    def __init__(self, status: int, error_type: str, message: str, request_id: str):
        super().__init__(message)
        self.status, self.error_type, self.message, self.request_id = status, error_type, message, request_id


def _error_fields(body: Any) -> tuple[str, str, str]:
    """(type, message, details.error_code) of an Anthropic error body."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", "", ""
    details = error.get("details") if isinstance(error.get("details"), dict) else {}
    return str(error.get("type") or ""), str(error.get("message") or ""), str(details.get("error_code") or "")


def is_quota_error(status: int, body: Any) -> bool:
    """A spend, usage or credit limit: waiting seconds will not help, so it must not be retried."""
    error_type, message, code = _error_fields(body)
    if code in QUOTA_ERROR_CODES or error_type == "billing_error" or status == 402:
        return True
    return status in (400, 429) and bool(_QUOTA_WORDS.search(message))


class _Watch(Middleware):
    """Runs once per HTTP attempt inside the SDK's retry loop: counts attempts for the calling thread
    and turns a spend-limit 429 into a non-retryable exception."""

    def __init__(self, local: threading.local):
        self._local = local

    def handle(self, request: Any, call_next: Any) -> Any:
        state = getattr(self._local, "state", None)
        if state is not None:
            state.attempts = request.retries_taken + 1
        response = call_next(request)
        if state is not None and response.status_code == 200:
            headers = response.http_response.headers
            state.limits = {name: int(headers[header]) for name, header in RATE_LIMIT_HEADERS.items()
                            if str(headers.get(header, "")).isdigit()}
        if response.status_code in (402, 429):
            http = response.http_response
            try:
                http.read()
                body = http.json()
            except Exception:
                body = None
            if is_quota_error(response.status_code, body):
                error_type, message, _ = _error_fields(body)
                raise _QuotaExceeded(response.status_code, error_type, message, http.headers.get("request-id", ""))
        return response


class AnthropicProvider:
    """Messages API provider. ``base_url`` None: ``ANTHROPIC_BASE_URL`` or the SDK's default."""

    name = "anthropic"

    def __init__(self, *, base_url: str | None = None, timeout_s: float = 120.0, max_retries: int = 4,
                 max_concurrency: int = 4, cache_system_prompt: bool = True, adapt_concurrency: bool = True):
        self.base_url = base_url
        self.prefix_gate = PrefixGate()
        self.timeout_s = float(timeout_s)
        self.max_retries = int(max_retries)
        self.max_concurrency = max(1, int(max_concurrency))
        self.cache_system_prompt = cache_system_prompt
        self._local = threading.local()
        # At most max_concurrency calls at once, fewer when the API's published limits say so.
        self._slots = ConcurrencyGovernor(self.max_concurrency, adapt_concurrency)
        try:
            self._client = anthropic.Anthropic(
                base_url=base_url, max_retries=self.max_retries,
                timeout=anthropic.Timeout(self.timeout_s, connect=min(10.0, self.timeout_s)),
                middleware=[_Watch(self._local)],
            )
        except anthropic.AnthropicError as exc:
            raise ValueError(f"cannot build the Anthropic client: {redact(str(exc))}") from None
        if not (self._client.api_key or self._client.auth_token or getattr(self._client, "_token_cache", None)):
            self._client.close()
            raise ValueError("no Anthropic credentials: set ANTHROPIC_API_KEY (or COLLECTION_TREE_LLM=offline "
                             "to build with the offline provider)")
        if base_url is None:
            self.base_url = str(self._client.base_url)

    @property
    def endpoint(self) -> str:
        """The normalised base URL (part of every cache key: a fake server never serves the real API)."""
        return normalise_endpoint(str(self.base_url or self._client.base_url))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(base_url={self.base_url!r}, timeout_s={self.timeout_s}, "
                f"max_retries={self.max_retries}, max_concurrency={self.max_concurrency})")

    def close(self) -> None:
        self._client.close()

    # -- requests -------------------------------------------------------------------------------
    def cache_prefix(self, request: LLMRequest, model: str) -> str | None:
        """The key of the prompt prefix worth a cache breakpoint, or None. The repeated prefix of a task's calls
        is its system prompt (the payload differs per call); a breakpoint pays only when that prefix reaches the
        model's minimum cacheable length: below it the API neither writes nor reads (no error), and the
        staggering that lets later calls read would only add a round-trip. Prompts are never padded to reach it."""
        if not self.cache_system_prompt or approx_tokens(request.system) < cache_min_tokens(model):
            return None
        return hashlib.sha256(f"{model}\0{request.system}".encode()).hexdigest()

    def params(self, request: LLMRequest, model: str) -> dict[str, Any]:
        """The ``messages.create`` arguments: structured output, no tool_choice / prefill / temperature, a
        cache breakpoint after the system prompt where it pays (:meth:`cache_prefix`)."""
        system: dict[str, Any] = {"type": "text", "text": request.system}
        if self.cache_prefix(request, model) is not None:
            system["cache_control"] = {"type": "ephemeral"}
        return {
            "model": model,
            "max_tokens": request.max_tokens,
            "system": [system],
            "messages": [{"role": "user", "content": request.user_message()}],
            "output_config": {"format": {"type": "json_schema", "schema": request.schema}},
        }

    def complete(self, request: LLMRequest, model: str) -> ProviderAnswer:
        state = _CallState()
        started = time.monotonic()
        with self.prefix_gate.turn(self.cache_prefix(request, model)), self._slots:
            sent = time.monotonic()  # the API's own time, not the wait for a slot, sizes the concurrency
            self._local.state = state
            try:
                message = self._client.messages.create(**self.params(request, model))
            except Exception as exc:
                error = self.translate_error(request.task, exc, state.attempts)
                if error is None:
                    raise
                raise error from None
            finally:
                self._local.state = None
        answer = answer_from_message(message, retries=max(0, state.attempts - 1), latency_s=time.monotonic() - started)
        self._slots.observe(state.limits, time.monotonic() - sent, answer.usage.input_tokens,
                            answer.usage.output_tokens)
        return answer

    @property
    def max_in_flight(self) -> int:
        """The most calls this provider had in flight at once."""
        return self._slots.peak

    @property
    def concurrency_limit(self) -> int:
        """Calls allowed in flight now (``max_concurrency`` unless the API's limits lowered it)."""
        return self._slots.limit

    def count_tokens(self, request: LLMRequest, model: str) -> int:
        """Input tokens of ``request`` as the API counts them (free endpoint)."""
        params = self.params(request, model)
        params.pop("max_tokens")
        try:
            return int(self._client.messages.count_tokens(**params).input_tokens)
        except Exception as exc:
            error = self.translate_error(request.task, exc, 1)
            if error is None:
                raise
            raise error from None

    @staticmethod
    def translate_error(task: str, exc: BaseException, attempts: int) -> LLMError | None:
        """An :class:`LLMError` for an SDK failure (None: not an API failure, let it propagate)."""
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        if isinstance(exc, _QuotaExceeded):
            error = LLMError(task, f"HTTP {exc.status} {exc.error_type}: {exc.message[:300]} "
                                   f"(request {exc.request_id or '?'}, not retried)", kind="quota")
        elif isinstance(exc, anthropic.APITimeoutError):
            error = LLMError(task, f"request timed out ({tries})", kind="timeout")
        elif isinstance(exc, anthropic.APIConnectionError):
            cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else "connection error"
            error = LLMError(task, f"cannot reach the API: {cause} ({tries})", kind="unavailable")
        elif isinstance(exc, anthropic.APIStatusError):
            status = exc.status_code
            message = str(exc.api_message or "")[:300]
            if is_quota_error(status, exc.body):
                kind = "quota"
            elif status >= 500 or status in (408, 409):
                kind = "unavailable"
            else:
                kind = _KIND_BY_STATUS.get(status, "error")
            error = LLMError(task, f"HTTP {status} {exc.type or ''}: {message} (request {exc.request_id or '?'}, "
                                   f"{tries})", kind=kind)
        elif isinstance(exc, anthropic.AnthropicError):
            error = LLMError(task, f"{type(exc).__name__}: {str(exc)[:300]}", kind="error")
        else:
            return None
        error.retries = max(0, attempts - 1)
        return error


def answer_from_message(message: Any, *, retries: int = 0, latency_s: float = 0.0,
                        batch: bool = False) -> ProviderAnswer:
    """Text, stop reason, usage and request id of a Messages API ``Message``."""
    text = "".join(getattr(block, "text", "") for block in message.content if getattr(block, "type", "") == "text")
    usage = message.usage
    return ProviderAnswer(
        text=text,
        usage=TokenUsage(
            input_tokens=int(usage.input_tokens or 0),
            output_tokens=int(usage.output_tokens or 0),
            cache_read_input_tokens=int(usage.cache_read_input_tokens or 0),
            cache_creation_input_tokens=int(usage.cache_creation_input_tokens or 0),
        ),
        stop_reason=str(message.stop_reason or ""),
        request_id=str(getattr(message, "_request_id", None) or ""),
        retries=retries,
        latency_s=latency_s,
        batch=batch,
    )


class AnthropicBatchProvider(AnthropicProvider):
    """Half-price answers through the Message Batches API, for unattended scheduled builds.

    ``complete`` is called concurrently by the phases' worker threads, as with the plain provider; calls
    arriving within ``linger_s`` of each other (up to ``max_batch`` of them) travel in one batch, which
    is polled after 1, 2, 4... seconds, then every ``poll_s``, until it ends (``max_wait_s`` at most,
    then cancelled). A batch takes minutes to hours: use it where nobody waits for the build. With a
    ``journal``, batches in flight survive the process (:mod:`collection_tree.llm.batch_journal`)."""

    name = "anthropic-batch"

    def __init__(self, *, linger_s: float = 2.0, max_batch: int = 1000, poll_s: float = 30.0,
                 max_wait_s: float = 24 * 3600.0, journal: BatchJournal | None = None, **kwargs: Any):
        kwargs.setdefault("max_concurrency", max_batch)
        super().__init__(**kwargs)
        self.journal = journal
        self._collected: dict[str, _Collected] = {}  # batch id -> results of a batch an earlier process sent
        self.linger_s = linger_s
        self.max_batch = max_batch
        self.poll_s = poll_s
        self.max_wait_s = max_wait_s
        self._queue_lock = threading.Lock()
        self._pending: list[_Pending] = []
        self._flusher: threading.Timer | None = None
        self.batches_sent = 0

    def poll_delay(self, polls: int) -> float:
        """1 s, 2 s, 4 s... up to ``poll_s``: a small batch often ends in seconds, a large one in hours."""
        return min(self.poll_s, 2.0 ** polls)

    def custom_id(self, request: LLMRequest, model: str) -> str:
        """The same for the same request in any process: what finds it in a batch sent before a restart."""
        params = json.dumps(self.params(request, model), sort_keys=True, default=str)
        return "r" + hashlib.sha256(params.encode("utf-8")).hexdigest()[:40]

    def complete(self, request: LLMRequest, model: str) -> ProviderAnswer:
        custom_id = self.custom_id(request, model)
        earlier = self.journal.batch_of(custom_id) if self.journal is not None else None
        if earlier is not None:
            answer = self._collect(earlier, custom_id, request.task)
            if answer is not None:
                return answer
        pending = _Pending(request, model, custom_id)
        with self._queue_lock:
            self._pending.append(pending)
            if len(self._pending) >= self.max_batch:
                self._flush_locked()
            elif self._flusher is None:
                self._flusher = threading.Timer(self.linger_s, self._flush)
                self._flusher.daemon = True
                self._flusher.start()
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        assert pending.answer is not None
        return pending.answer

    def complete_many(self, requests: Sequence[tuple[LLMRequest, str]]) -> list[ProviderAnswer | LLMError]:
        """One batch for ``(request, model)`` pairs; an answer or an LLMError for each, in order."""
        items = _unique_ids([_Pending(request, model, self.custom_id(request, model)) for request, model in requests])
        if items:
            self._run_batch(items)
        return [item.answer if item.error is None else item.error for item in items]  # type: ignore[misc]

    def _flush(self) -> None:
        with self._queue_lock:
            self._flush_locked()

    def _collect(self, batch_id: str, custom_id: str, task: str) -> ProviderAnswer | None:
        """The answer to ``custom_id`` from batch ``batch_id``, sent by an earlier process: polled to its
        end once (the first caller polls, the others wait), its results read once. None when it holds
        no usable answer for this request (errored, expired, canceled, gone): then it is sent again."""
        with self._queue_lock:
            collected = self._collected.get(batch_id)
            first = collected is None
            if first:
                collected = self._collected[batch_id] = _Collected()
        assert collected is not None
        if first:
            log.info("collecting message batch %s sent before a restart", batch_id)
            try:
                collected.results = self._wait_and_read(batch_id, task)
            except Exception as exc:  # a batch we cannot read back is sent again, not a failed build
                log.warning("message batch %s could not be collected (%s): sending its requests again",
                            batch_id, type(exc).__name__)
            finally:
                if self.journal is not None:
                    self.journal.done(batch_id)
                collected.done.set()
        collected.done.wait()
        return collected.results.get(custom_id)

    def _until_ended(self, batch: Any, started: float, task: str, *, cancel: bool) -> None:
        """Poll ``batch`` until it ends; past ``max_wait_s`` raise a timeout (cancelling it if ``cancel``:
        a batch another process sent is left alone)."""
        polls = 0
        while batch.processing_status != "ended":
            if time.monotonic() - started > self.max_wait_s:
                if cancel:
                    self._client.messages.batches.cancel(batch.id)
                raise LLMError(task, f"batch {batch.id} did not end within {self.max_wait_s:.0f}s", kind="timeout")
            time.sleep(self.poll_delay(polls))
            polls += 1
            batch = self._client.messages.batches.retrieve(batch.id)

    def _wait_and_read(self, batch_id: str, task: str) -> dict[str, ProviderAnswer]:
        started = time.monotonic()
        self._until_ended(self._client.messages.batches.retrieve(batch_id), started, task, cancel=False)
        latency = time.monotonic() - started
        return {line.custom_id: answer_from_message(line.result.message, latency_s=latency, batch=True)
                for line in self._client.messages.batches.results(batch_id) if line.result.type == "succeeded"}

    def _flush_locked(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        items, self._pending = _unique_ids(self._pending), []
        if items:
            threading.Thread(target=self._run_batch, args=(items,), daemon=True, name="anthropic-batch").start()

    def _run_batch(self, items: list[_Pending]) -> None:
        task = items[0].request.task
        started = time.monotonic()
        try:
            batch = self._client.messages.batches.create(
                requests=[{"custom_id": item.custom_id, "params": self.params(item.request, item.model)}
                          for item in items])
            self.batches_sent += 1
            if self.journal is not None:  # from here on a restart collects this batch instead of paying again
                self.journal.record(batch.id, [item.custom_id for item in items])
            self._until_ended(batch, started, task, cancel=True)
            by_id = {item.custom_id: item for item in items}
            latency = time.monotonic() - started
            for line in self._client.messages.batches.results(batch.id):
                item = by_id.get(line.custom_id)
                if item is None:
                    continue
                result = line.result
                if result.type == "succeeded":
                    item.answer = answer_from_message(result.message, latency_s=latency, batch=True)
                elif result.type == "errored":
                    error = getattr(result.error, "error", None)
                    kind = "quota" if is_quota_error(0, {"error": error.model_dump() if error else {}}) else \
                        "unavailable"
                    item.error = LLMError(item.request.task, f"batch item errored: {getattr(error, 'type', '?')}: "
                                          f"{str(getattr(error, 'message', ''))[:300]}", kind=kind)
                else:
                    item.error = LLMError(item.request.task, f"batch item {result.type}", kind="unavailable")
            for item in items:
                if item.answer is None and item.error is None:
                    item.error = LLMError(item.request.task, "batch returned no result for this request",
                                          kind="unavailable")
            if self.journal is not None:
                self.journal.done(batch.id)
        except LLMError as exc:
            for item in items:
                item.error = LLMError(item.request.task, exc.reason, kind=exc.kind)
        except Exception as exc:
            error = self.translate_error(task, exc, 1) or LLMError(task, f"batch failed: {type(exc).__name__}")
            for item in items:
                item.error = LLMError(item.request.task, error.reason, kind=error.kind)
        finally:
            for item in items:
                item.done.set()


def _unique_ids(items: list[_Pending]) -> list[_Pending]:
    """The same request twice in one batch: custom ids must differ within a batch."""
    seen: dict[str, int] = {}
    for item in items:
        n = seen.get(item.custom_id, 0)
        seen[item.custom_id] = n + 1
        if n:
            item.custom_id = f"{item.custom_id}-{n}"
    return items


@dataclass
class _Collected:
    results: dict[str, ProviderAnswer] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Pending:
    request: LLMRequest
    model: str
    custom_id: str
    answer: ProviderAnswer | None = None
    error: LLMError | None = None

    def __post_init__(self) -> None:
        self.done = threading.Event()
