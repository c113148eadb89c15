"""A loopback fake of the Anthropic Messages API, for tests and benchmarks (stdlib only).

It speaks the real HTTP surface the SDK uses: ``POST /v1/messages`` (structured JSON answers computed
by the ``solver(task, payload)`` it is given, normally the tasks' offline solvers,
``collection_tree.tasks.solve_offline``), ``POST /v1/messages/count_tokens``, the Message Batches endpoints
(create, retrieve, results as JSONL, cancel), a prompt cache by the API's rules (:mod:`fake_prompt_cache`:
prefix identity to each ``cache_control`` breakpoint, minimum length per model, readable once the writing
response has started, 5-minute lifetime refreshed on read) reported in ``usage``, ``request-id`` headers,
and Anthropic error JSON with ``retry-after`` / ``retry-after-ms``. Faults are injected per request
(a FIFO script, or rules per task / per call number) and a latency model slows answers down::

    with FakeAnthropicServer(solver=solve_offline, latency=LatencyModel(fixed_s=2, per_output_token_s=0.03,
                                                                          scale=0.001)) as server:
        server.script(["429", "ok"])
        ...  # point the SDK at server.base_url with any key
        server.requests  # per-request log: task, model, fault, status, retry count, in-flight, latency

The same controls are reachable over HTTP for a server started by ``collection-tree fake-anthropic``:
``POST /_control/script {"faults": [...]}``, ``POST /_control/rules {"fault", "task", "calls", "times"}``,
``POST /_control/latency {...}``, ``POST /_control/hang {"seconds": S}`` (how long a ``hang`` fault holds
a request: longer than the client's timeout to test a real timeout), ``POST /_control/reset``,
``GET /_control/log``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from collection_tree.llm.fake_prompt_cache import CacheRequestError, PromptCache, RenderedPrompt, render
from collection_tree.llm.models import approx_tokens
from collection_tree.llm.models import cache_min_tokens as cache_min_tokens_for

Solver = Callable[[str, dict[str, Any]], dict[str, Any]]

# Every fault the server can inject. Numeric ones answer with that HTTP status and Anthropic's error type.
FAULTS = (
    "ok", "429", "529", "500", "503", "400", "401", "403", "404", "413", "quota", "hang", "disconnect",
    "malformed", "fenced", "truncated", "empty", "refusal", "hallucinated_ids", "wrapped_ints",
)
ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
    503: "api_error", 529: "overloaded_error",
}
RETRYABLE = frozenset({429, 500, 503, 529})
# Sampling and forcing parameters current models reject (DESIGN §2).
REJECTED_PARAMS = ("temperature", "top_p", "top_k", "tool_choice")
HALLUCINATED_PREFIX = "hallucinated-"
HALLUCINATED_INT_BASE = 900_000_000  # hallucinated integer ids are >= this

_TASK_RE = re.compile(r"<task>(?P<task>[^<]+)</task>\s*<input>\s*(?P<body>.*?)\s*</input>", re.DOTALL)
ID_KEY_RE = re.compile(r"(^|_)ids?$")
_SCORE_KEYS = ("score", "coherence", "confidence", "rating")


def estimate_tokens(text: str) -> int:
    return approx_tokens(text)


@dataclass
class LatencyModel:
    """Simulated answer time: ``(fixed_s + per_output_token_s * output_tokens) * scale`` seconds."""

    fixed_s: float = 0.0
    per_output_token_s: float = 0.0
    scale: float = 1.0

    def delay(self, output_tokens: int) -> float:
        return max(0.0, (self.fixed_s + self.per_output_token_s * output_tokens) * self.scale)

    @classmethod
    def parse(cls, spec: str) -> LatencyModel:
        """``"fixed=2,per_token=0.03,scale=0.001"`` (any subset)."""
        names = {"fixed": "fixed_s", "fixed_s": "fixed_s", "per_token": "per_output_token_s",
                 "per_output_token_s": "per_output_token_s", "scale": "scale"}
        values: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, _, value = part.partition("=")
            if key.strip() not in names or not value:
                raise ValueError(f"latency: expected fixed=S,per_token=S,scale=X; got {part!r}")
            values[names[key.strip()]] = float(value)
        return cls(**values)


@dataclass
class FaultRule:
    """Inject ``fault`` into requests of ``task`` (None: any task). ``calls``: only these 1-based call
    numbers (counted per task, or over all requests when ``task`` is None); ``times``: at most this often."""

    fault: str
    task: str | None = None
    calls: frozenset[int] | None = None
    times: int | None = None
    fired: int = 0

    def matches(self, task: str, call_number: int) -> bool:
        if self.task is not None and self.task != task:
            return False
        if self.calls is not None and call_number not in self.calls:
            return False
        return self.times is None or self.fired < self.times


@dataclass
class RequestLog:
    """One request as the server saw it (no headers kept: nothing secret is ever recorded)."""

    seq: int
    path: str
    task: str = ""
    model: str = ""
    fault: str = "ok"
    status: int = 200
    retry_count: int = 0
    in_flight: int = 0
    started: float = 0.0  # time.monotonic() of this process
    started_at: float = 0.0  # wall clock (time.time()), to order requests against other processes' events
    latency_s: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    structured: bool = False
    cache_control: bool = False  # the request had a cache_control breakpoint
    max_tokens: int = 0
    batch_id: str = ""
    simulated_delay_s: float = 0.0  # what the latency model made this answer wait


class _Reply(Exception):
    """An HTTP error answer, raised inside request handling."""

    def __init__(self, status: int, message: str, *, error_type: str | None = None,
                 details: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or ERROR_TYPES.get(status, "api_error")
        self.details = details


class FakeAnthropicServer:
    """The fake API on ``host:port`` (port 0: any free one). Use as a context manager or start()/stop().
    ``solver(task, payload)`` answers a request (given by the caller: this layer knows no tasks)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        solver: Solver,
        latency: LatencyModel | None = None,
        retry_after_s: float = 0.01,
        hang_s: float = 30.0,
        cache_min_tokens: int | None = None,
        batch_poll_delay_s: float = 0.0,
        rate_limits: dict[str, int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.host = host
        self.port = port
        self.latency = latency or LatencyModel()
        self.solver = solver
        self.retry_after_s = retry_after_s
        self.hang_s = hang_s
        # The shortest cacheable prefix: the model's documented minimum (None), or one figure for every model.
        self.cache_min_tokens = cache_min_tokens
        self.prompt_cache = PromptCache(clock, cache_min_tokens_for if cache_min_tokens is None
                                        else (lambda _model: int(cache_min_tokens)))
        self.batch_poll_delay_s = batch_poll_delay_s
        # Published per-minute limits, sent as the API's ``anthropic-ratelimit-<name>-limit`` headers
        # (e.g. {"requests": 50, "output-tokens": 10000}); the server does not enforce them.
        self.rate_limits = dict(rate_limits or {})
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified when the last request in flight ends
        self._in_flight = 0
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the fake Anthropic server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeAnthropicServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        handler = type("Handler", (_Handler,), {"fake": self})
        httpd = ThreadingHTTPServer((self.host, self.port), handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-anthropic", daemon=True)
        self._thread.start()
        return self

    def stop(self, drain_timeout_s: float = 10.0) -> None:
        """Stop serving: hanging requests are released at once, and requests in flight are waited for
        (up to ``drain_timeout_s``), so ``in_flight`` is 0 when this returns."""
        self._stopping.set()  # releases hanging handlers and batch workers
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout=drain_timeout_s)
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeAnthropicServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Block until interrupted (the CLI)."""
        self.start()
        try:
            while not self._stopping.wait(0.5):
                pass
        finally:
            self.stop()

    # -- control --------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget faults, rules, the request log, the prompt cache and the batches."""
        with self._lock:
            self._script: deque[str] = deque()
            self._rules: list[FaultRule] = []
            self._log: list[RequestLog] = []
            self._seq = 0
            self._calls_by_task: dict[str, int] = {}
            self._calls_total = 0
            self.max_in_flight = self._in_flight  # (requests in flight are not forgotten: they are running)
            self.prompt_cache.clear()
            self._batches: dict[str, dict[str, Any]] = {}
            self._batch_results: dict[str, list[dict[str, Any]]] = {}

    def script(self, faults: Iterable[str]) -> None:
        """Queue faults for the next ``/v1/messages`` requests, one each, in arrival order."""
        faults = list(faults)
        for fault in faults:
            _check_fault(fault)
        with self._lock:
            self._script.extend(faults)

    def add_rule(self, fault: str, task: str | None = None, calls: Iterable[int] | None = None,
                 times: int | None = None) -> FaultRule:
        _check_fault(fault)
        rule = FaultRule(fault, task, frozenset(calls) if calls is not None else None, times)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear_faults(self) -> None:
        with self._lock:
            self._script.clear()
            self._rules.clear()

    @property
    def requests(self) -> list[RequestLog]:
        """A snapshot of the request log (copies: a request still running shows its state so far)."""
        with self._lock:
            return [replace(r) for r in self._log]

    def message_requests(self, task: str | None = None) -> list[RequestLog]:
        """Logged ``/v1/messages`` requests (batch items excluded), optionally of one task."""
        return [r for r in self.requests if r.path == "/v1/messages" and (task is None or r.task == task)]

    # -- internals ------------------------------------------------------------------------------
    def _choose_fault(self, task: str) -> str:
        with self._lock:
            self._calls_total += 1
            self._calls_by_task[task] = self._calls_by_task.get(task, 0) + 1
            if self._script:
                return self._script.popleft()
            for rule in self._rules:
                number = self._calls_by_task[task] if rule.task is not None else self._calls_total
                if rule.matches(task, number):
                    rule.fired += 1
                    return rule.fault
        return "ok"

    def _enter(self) -> int:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            return self._in_flight

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.notify_all()

    @property
    def in_flight(self) -> int:
        """Requests being handled right now (a hanging one included)."""
        with self._lock:
            return self._in_flight

    def _log_entry(self, entry: RequestLog) -> None:
        with self._lock:
            self._log.append(entry)

    def _next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def _usage(self, prompt: RenderedPrompt, output_tokens: int) -> dict[str, Any]:
        """Usage of one answered request; its prompt-cache writes become readable when its response starts:
        after the latency model's fixed part (the time to the first token), before the output tokens."""
        usage: dict[str, Any] = self.prompt_cache.usage(prompt, first_token_s=self.latency.delay(0))
        return {**usage, "output_tokens": output_tokens, "service_tier": "standard"}

    def answer(self, body: dict[str, Any], fault: str, entry: RequestLog) -> tuple[dict[str, Any], float]:
        """The message for one request under ``fault`` and its simulated delay (errors raise ``_Reply``)."""
        parsed = _parse_request(body)
        entry.task, entry.model = parsed["task"], parsed["model"]
        entry.structured, entry.max_tokens = parsed["structured"], parsed["max_tokens"]
        try:
            prompt = render(body)
        except CacheRequestError as exc:
            raise _Reply(400, str(exc)) from exc
        entry.cache_control = bool(prompt.breakpoints)
        _raise_for_fault(fault)
        try:
            solved = self.solver(parsed["task"], parsed["payload"])
        except KeyError as exc:
            raise _Reply(400, f"unknown task {parsed['task']!r}: {exc}") from exc
        except Exception as exc:  # a solver bug: the client sees a server error, the log shows it
            raise _Reply(500, f"offline solver failed: {exc!r}"[:300]) from exc
        text, stop_reason = json.dumps(solved, ensure_ascii=False), "end_turn"
        content: list[dict[str, Any]] = [{"type": "text", "text": text}]
        if fault == "malformed":
            content[0]["text"] = "Here is the JSON you asked for:\n" + text[: max(1, len(text) // 2)]
        elif fault == "fenced":
            content[0]["text"] = f"Sure! Here it is:\n```json\n{text}\n```\nLet me know if you need more."
        elif fault == "truncated":
            content[0]["text"], stop_reason = text[: max(1, len(text) // 2)], "max_tokens"
        elif fault == "empty":
            content = []
        elif fault == "refusal":
            content, stop_reason = [], "refusal"
        elif fault == "hallucinated_ids":
            content[0]["text"] = json.dumps(hallucinate_ids(solved, parsed["payload"]), ensure_ascii=False)
        elif fault == "wrapped_ints":
            content[0]["text"] = json.dumps(wrap_ints(solved), ensure_ascii=False)
        out_text = "".join(block.get("text", "") for block in content)
        output_tokens = parsed["max_tokens"] if stop_reason == "max_tokens" else estimate_tokens(out_text)
        usage = self._usage(prompt, output_tokens)
        entry.input_tokens, entry.output_tokens = usage["input_tokens"], usage["output_tokens"]
        entry.cache_read_input_tokens = usage["cache_read_input_tokens"]
        entry.cache_creation_input_tokens = usage["cache_creation_input_tokens"]
        message = {"id": f"msg_fake_{entry.seq:08d}", "type": "message", "role": "assistant",
                   "model": parsed["model"], "content": content, "stop_reason": stop_reason, "stop_sequence": None,
                   "usage": usage}
        return message, self.latency.delay(output_tokens)

    # -- batches --------------------------------------------------------------------------------
    def _create_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            raise _Reply(400, "requests: expected a non-empty list")
        ids = [r.get("custom_id") if isinstance(r, dict) else None for r in requests]
        if any(not isinstance(i, str) or not i for i in ids) or len(set(ids)) != len(ids):
            raise _Reply(400, "requests: every request needs a unique custom_id")
        seq = self._next_seq()
        batch_id = f"msgbatch_fake_{seq:08d}"
        now = dt.datetime.now(dt.UTC)
        batch = {"id": batch_id, "type": "message_batch", "processing_status": "in_progress",
                 "request_counts": {"processing": len(requests), "succeeded": 0, "errored": 0, "canceled": 0,
                                    "expired": 0},
                 "created_at": _iso(now), "expires_at": _iso(now + dt.timedelta(hours=24)), "ended_at": None,
                 "cancel_initiated_at": None, "archived_at": None, "results_url": None}
        with self._lock:
            self._batches[batch_id] = batch
            self._batch_results[batch_id] = []
        worker = threading.Thread(target=self._run_batch, args=(batch_id, requests), daemon=True,
                                  name=f"fake-batch-{seq}")
        worker.start()
        return copy.deepcopy(batch)

    def _run_batch(self, batch_id: str, requests: list[dict[str, Any]]) -> None:
        results: list[dict[str, Any]] = []
        counts = {"succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        for item in requests:
            with self._lock:
                canceled = self._batches[batch_id]["cancel_initiated_at"] is not None
            if canceled or self._stopping.is_set():
                results.append({"custom_id": item["custom_id"], "result": {"type": "canceled"}})
                counts["canceled"] += 1
                continue
            entry = RequestLog(seq=self._next_seq(), path="/v1/messages/batches", batch_id=batch_id,
                               started=time.monotonic())
            self._log_entry(entry)
            params = item.get("params") if isinstance(item.get("params"), dict) else {}
            task = _peek_task(params)
            fault = self._choose_fault(task)
            entry.fault = fault
            started = time.monotonic()
            try:
                if fault == "hang":
                    raise _Expired
                message, delay = self.answer(params, fault, entry)
                if delay:
                    self._stopping.wait(delay)
                results.append({"custom_id": item["custom_id"], "result": {"type": "succeeded", "message": message}})
                counts["succeeded"] += 1
            except _Expired:
                results.append({"custom_id": item["custom_id"], "result": {"type": "expired"}})
                counts["expired"] += 1
                entry.status = 0
            except _Reply as reply:
                entry.status = reply.status
                results.append({"custom_id": item["custom_id"], "result": {
                    "type": "errored", "error": _error_body(reply, f"req_fake_{entry.seq:08d}")}})
                counts["errored"] += 1
            entry.latency_s = time.monotonic() - started
        if self.batch_poll_delay_s:
            self._stopping.wait(self.batch_poll_delay_s)
        with self._lock:
            batch = self._batches[batch_id]
            batch["request_counts"] = {"processing": 0, **counts}
            batch["processing_status"] = "ended"
            batch["ended_at"] = _iso(dt.datetime.now(dt.UTC))
            self._batch_results[batch_id] = results

    def _get_batch(self, batch_id: str, base_url: str) -> dict[str, Any]:
        with self._lock:
            batch = self._batches.get(batch_id)
            if batch is None:
                raise _Reply(404, f"message batch {batch_id!r} not found")
            out = copy.deepcopy(batch)
        if out["processing_status"] == "ended":
            out["results_url"] = f"{base_url}/v1/messages/batches/{batch_id}/results"
        return out

    def _cancel_batch(self, batch_id: str, base_url: str) -> dict[str, Any]:
        with self._lock:
            batch = self._batches.get(batch_id)
            if batch is None:
                raise _Reply(404, f"message batch {batch_id!r} not found")
            if batch["processing_status"] != "ended":
                batch["cancel_initiated_at"] = _iso(dt.datetime.now(dt.UTC))
                batch["processing_status"] = "canceling"
        return self._get_batch(batch_id, base_url)

    def _batch_results_jsonl(self, batch_id: str) -> bytes:
        with self._lock:
            batch = self._batches.get(batch_id)
            if batch is None:
                raise _Reply(404, f"message batch {batch_id!r} not found")
            if batch["processing_status"] != "ended":
                raise _Reply(400, f"message batch {batch_id!r} is still processing")
            lines = [json.dumps(r, ensure_ascii=False) for r in self._batch_results[batch_id]]
        return ("\n".join(lines) + "\n").encode("utf-8")


class _Expired(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    fake: FakeAnthropicServer
    protocol_version = "HTTP/1.1"
    server_version = "FakeAnthropic/1.0"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the request log is the record
        return None

    # -- plumbing -------------------------------------------------------------------------------
    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError as exc:
            raise _Reply(400, f"request body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise _Reply(400, "request body must be a JSON object")
        return body

    def _send(self, status: int, payload: Any, *, request_id: str = "", headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            if request_id:
                self.send_header("request-id", request_id)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): nothing to do

    def _send_error(self, reply: _Reply, request_id: str) -> None:
        headers: dict[str, str] = {}
        if reply.status in RETRYABLE and reply.details is None and self.fake.retry_after_s > 0:
            headers["retry-after-ms"] = str(max(1, round(self.fake.retry_after_s * 1000)))
            headers["retry-after"] = str(max(1, math.ceil(self.fake.retry_after_s)))
        self._send(reply.status, _error_body(reply, request_id), request_id=request_id, headers=headers)

    def _authorised(self) -> bool:
        return bool(self.headers.get("x-api-key") or self.headers.get("authorization"))

    def _base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    # -- routes ---------------------------------------------------------------------------------
    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        if path.startswith("/_control/"):
            self._control(path)
        elif path == "/v1/messages":
            self._messages()
        else:
            request_id = f"req_fake_{self.fake._next_seq():08d}"
            try:
                body = self._body()
                if not self._authorised():
                    raise _Reply(401, "x-api-key header is required")
                if path == "/v1/messages/count_tokens":
                    parsed = _parse_request({"max_tokens": 1, **body}, need_task=False)
                    tokens = estimate_tokens(parsed["system_text"]) if parsed["system_text"] else 0
                    self._send(200, {"input_tokens": tokens + estimate_tokens(parsed["user_text"])},
                               request_id=request_id)
                elif path == "/v1/messages/batches":
                    self._send(200, self.fake._create_batch(body), request_id=request_id)
                elif (m := re.fullmatch(r"/v1/messages/batches/([\w-]+)/cancel", path)) is not None:
                    self._send(200, self.fake._cancel_batch(m.group(1), self._base_url()), request_id=request_id)
                else:
                    raise _Reply(404, f"no route POST {path}")
            except _Reply as reply:
                self._send_error(reply, request_id)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/_control/log":
            with self.fake._lock:
                log = [asdict(r) for r in self.fake._log]
                peak = self.fake.max_in_flight
            self._send(200, {"requests": log, "max_in_flight": peak})
            return
        request_id = f"req_fake_{self.fake._next_seq():08d}"
        try:
            if not self._authorised():
                raise _Reply(401, "x-api-key header is required")
            if (m := re.fullmatch(r"/v1/messages/batches/([\w-]+)/results", path)) is not None:
                self._send(200, self.fake._batch_results_jsonl(m.group(1)), request_id=request_id,
                           content_type="application/binary")
            elif (m := re.fullmatch(r"/v1/messages/batches/([\w-]+)", path)) is not None:
                self._send(200, self.fake._get_batch(m.group(1), self._base_url()), request_id=request_id)
            else:
                raise _Reply(404, f"no route GET {path}")
        except _Reply as reply:
            self._send_error(reply, request_id)

    def _messages(self) -> None:
        fake = self.fake
        entry = RequestLog(seq=fake._next_seq(), path="/v1/messages", started=time.monotonic(), started_at=time.time())
        entry.retry_count = _int(self.headers.get("x-stainless-retry-count"))
        request_id = f"req_fake_{entry.seq:08d}"
        entry.in_flight = fake._enter()
        fake._log_entry(entry)  # logged on arrival, completed in place (a hanging request shows status 0)
        try:
            try:
                body = self._body()
                if not self._authorised():
                    raise _Reply(401, "x-api-key header is required")
                entry.fault = fault = fake._choose_fault(_peek_task(body))
                if fault == "hang":
                    entry.status = 0
                    self.close_connection = True
                    fake._stopping.wait(fake.hang_s)
                    return
                if fault == "disconnect":
                    entry.status = 0
                    self.close_connection = True
                    return
                message, delay = fake.answer(body, fault, entry)
                entry.simulated_delay_s = delay
                if delay:
                    fake._stopping.wait(delay)
                limits = {f"anthropic-ratelimit-{name}-limit": str(value) for name, value in fake.rate_limits.items()}
                self._send(200, message, request_id=request_id, headers=limits)
            except _Reply as reply:
                entry.status = reply.status
                self._send_error(reply, request_id)
        finally:
            entry.latency_s = time.monotonic() - entry.started
            fake._leave()

    def _control(self, path: str) -> None:
        try:
            body = self._body()
            if path == "/_control/script":
                self.fake.script(body.get("faults") or [])
            elif path == "/_control/rules":
                self.fake.add_rule(str(body.get("fault")), body.get("task"), body.get("calls"), body.get("times"))
            elif path == "/_control/latency":
                self.fake.latency = LatencyModel(**{k: float(v) for k, v in body.items()})
            elif path == "/_control/hang":
                self.fake.hang_s = float(body["seconds"])
            elif path == "/_control/reset":
                self.fake.reset()
            elif path == "/_control/clear_faults":
                self.fake.clear_faults()
            else:
                raise _Reply(404, f"no control {path}")
        except (ValueError, TypeError, KeyError) as exc:
            self._send(400, {"ok": False, "error": str(exc)})
            return
        except _Reply as reply:
            self._send_error(reply, "")
            return
        self._send(200, {"ok": True})


@contextmanager
def serve(**kwargs: Any) -> Iterator[str]:
    """``with serve(latency=...) as base_url:`` a running fake API, stopped on exit (see the class
    for the log and fault controls)."""
    with FakeAnthropicServer(**kwargs) as server:
        yield server.base_url


# -- request parsing ------------------------------------------------------------------------------
def _parse_request(body: dict[str, Any], *, need_task: bool = True) -> dict[str, Any]:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _Reply(400, "model: field required")
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise _Reply(400, "max_tokens: expected a positive integer")
    for name in REJECTED_PARAMS:
        if name in body:
            raise _Reply(400, f"{name}: not supported by {model}")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _Reply(400, "messages: expected a non-empty list")
    if not isinstance(messages[-1], dict) or messages[-1].get("role") != "user":
        raise _Reply(400, f"{model} does not support assistant message prefill; the last message must be the user's")
    system = body.get("system", "")
    if isinstance(system, list):
        system_text = "".join(b.get("text", "") for b in system if isinstance(b, dict))
    elif isinstance(system, str):
        system_text = system
    else:
        raise _Reply(400, "system: expected a string or a list of text blocks")
    user_text = _text_of(messages[-1].get("content"))
    output_format = (body.get("output_config") or {}).get("format") or {}
    structured = output_format.get("type") == "json_schema" and isinstance(output_format.get("schema"), dict)
    out = {"model": model, "max_tokens": max_tokens, "system_text": system_text,
           "user_text": user_text, "structured": structured, "task": "", "payload": {}}
    if need_task:
        match = _TASK_RE.search(user_text)
        if match is None:
            raise _Reply(400, "user message: expected <task>NAME</task> and <input>JSON</input>")
        try:
            payload = json.loads(match.group("body"))
        except json.JSONDecodeError as exc:
            raise _Reply(400, f"user message: <input> is not JSON ({exc})") from exc
        if not isinstance(payload, dict):
            raise _Reply(400, "user message: <input> must be a JSON object")
        out["task"], out["payload"] = match.group("task").strip(), payload
    return out


def _peek_task(body: dict[str, Any]) -> str:
    """The task named by a request, or "" (for fault rules, before full validation)."""
    messages = body.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
        match = _TASK_RE.search(_text_of(messages[-1].get("content")))
        if match:
            return match.group("task").strip()
    return ""


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def _raise_for_fault(fault: str) -> None:
    if fault == "quota":
        raise _Reply(429, "You have reached your specified API usage limits. You will regain access on "
                          "2026-12-01 at 00:00 UTC.", details={"error_code": "enforced_spend_limit_reached"})
    if fault.isdigit():
        status = int(fault)
        messages = {401: "invalid x-api-key", 403: "your API key does not have permission to use this resource",
                    404: "model not found", 413: "request exceeds the maximum allowed number of bytes",
                    429: "rate limit exceeded: too many requests", 500: "internal server error",
                    503: "service unavailable", 529: "overloaded", 400: "invalid request"}
        raise _Reply(status, messages.get(status, "error"))


def _error_body(reply: _Reply, request_id: str) -> dict[str, Any]:
    error: dict[str, Any] = {"type": reply.error_type, "message": reply.message}
    if reply.details is not None:
        error["details"] = reply.details
    return {"type": "error", "error": error, "request_id": request_id}


def _check_fault(fault: str) -> None:
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# -- answer mutations (generic over any task's answer) --------------------------------------------
def payload_refs(payload: Any) -> tuple[set[int], set[str]]:
    """Integer ids anywhere in the payload, and the strings an answer may refer to: values under id-like
    keys (``id``, ``*_id``, ``*_ids``) and under ``name`` (categories are referred to by name)."""
    ints: set[int] = set()
    strings: set[str] = set()

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, str(k))
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, int) and not isinstance(value, bool):
            ints.add(value)
        elif isinstance(value, str) and (ID_KEY_RE.search(key) or key == "name"):
            strings.add(value)

    walk(payload)
    return ints, strings


def hallucinate_ids(answer: Any, payload: dict[str, Any]) -> Any:
    """The answer plus references the payload never offered, as a model inventing ids would add them:
    every integer id list gains an id >= ``HALLUCINATED_INT_BASE``, every list of payload string ids a
    ``hallucinated-N`` one, every list of objects referencing payload ids a copy pointing at invented
    ids, and every dict keyed by payload ids an invented key. Nothing real is removed, so a correct
    normaliser gives back exactly the answer it would give for the unmutated one."""
    ints, strings = payload_refs(payload)
    counter = iter(range(1, 1_000_000))

    def fresh_int() -> int:
        return HALLUCINATED_INT_BASE + next(counter)

    def fresh_str() -> str:
        return f"{HALLUCINATED_PREFIX}{next(counter)}"

    def refers(value: Any) -> bool:
        if isinstance(value, int) and not isinstance(value, bool):
            return value in ints
        return isinstance(value, str) and value in strings

    def invent_like(value: Any) -> Any:
        return fresh_int() if isinstance(value, int) else fresh_str()

    def walk(value: Any, key: str = "") -> Any:
        if isinstance(value, list):
            out = [walk(v, key) for v in value]
            if value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                # an id list: named like one, or made of payload ids (not a range or a list of scores)
                if ID_KEY_RE.search(key) or (all(v in ints for v in value) and not key.endswith("range")):
                    out.append(fresh_int())
            elif value and all(isinstance(v, str) for v in value) and all(v in strings for v in value):
                out.append(fresh_str())
            elif value and isinstance(value[0], dict):
                ref_keys = [k for k, v in value[0].items() if refers(v)]
                if any(ID_KEY_RE.search(str(k)) for k in ref_keys):
                    extra = copy.deepcopy(value[0])  # a record pointing only at invented things
                    for k in ref_keys:
                        extra[k] = invent_like(extra[k])
                    out.append(extra)
            return out
        if isinstance(value, dict):
            out_dict = {k: walk(v, str(k)) for k, v in value.items()}
            keys = list(value)
            if keys and all(_key_refers(k, ints, strings) for k in keys):
                out_dict[str(fresh_int()) if str(keys[0]).lstrip("-").isdigit() else fresh_str()] = \
                    copy.deepcopy(value[keys[0]])
            return out_dict
        return value

    return walk(answer)


def _key_refers(key: Any, ints: set[int], strings: set[str]) -> bool:
    text = str(key)
    if text.lstrip("-").isdigit():
        return int(text) in ints
    return text in strings


def wrap_ints(answer: Any) -> Any:
    """The answer with integers wrapped as models sometimes wrap them: ints in lists (not ``*_range``
    pairs) become ``{"track_id": n}``, numbers under score-like keys ``{"score": x}``, ints under id keys
    ``{"id": n}``."""

    def walk(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: walk(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            if key.endswith("range"):  # [low, high] stays as it is
                return value
            return [{"track_id": v} if isinstance(v, int) and not isinstance(v, bool) else walk(v, key)
                    for v in value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            if any(s in key.lower() for s in _SCORE_KEYS):
                return {"score": value}
            if isinstance(value, int) and ID_KEY_RE.search(key):
                return {"id": value}
        return value

    return walk(answer)
