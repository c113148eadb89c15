"""What a phase sees of the LLM layer: a request, a validated dict back, or a clear failure.

Phases never talk to a provider directly. They build an :class:`LLMRequest` from a task spec
(``collection_tree.tasks``) and call ``llm.call(request)`` on the object they were given, which is
bound to their phase for accounting and to the build's stop event.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from collection_tree.settings import secret_values

Tier = Literal["creative", "mechanical"]
# A task's repair of an answer against its payload (drops ids the payload did not offer), and its
# deterministic answer computed from the payload alone (the offline provider, the fake API server).
Normaliser = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
OfflineSolver = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class LLMRequest:
    """One structured call: the answer must be a JSON object matching ``schema``.

    ``normalise`` and ``solve_offline`` come from the task (``TaskSpec.request`` sets both), so the
    client and the offline provider need no task registry; they are not part of the prompt, the
    cache key or equality. Without ``normalise`` an answer is only checked against the schema."""

    task: str
    tier: Tier
    system: str
    payload: dict[str, Any]
    schema: dict[str, Any]
    max_tokens: int = 8192
    normalise: Normaliser | None = field(default=None, compare=False, repr=False)
    solve_offline: OfflineSolver | None = field(default=None, compare=False, repr=False)

    def user_message(self) -> str:
        """The payload travels as JSON in the user turn; the task name lets a server route it."""
        body = json.dumps(self.payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return f"<task>{self.task}</task>\n<input>\n{body}\n</input>\nAnswer with one JSON object."


# Error kinds that no retry or re-ask can fix: every later call fails the same way.
FATAL_KINDS = frozenset({"auth", "permission", "quota"})

_KEY_PATTERN = re.compile(r"sk-ant-[A-Za-z0-9_\-]{4,}")


def redact(text: str) -> str:
    """``text`` with API keys removed: the configured key(s) verbatim and anything shaped like one."""
    for secret in secret_values():
        if len(secret) >= 8:
            text = text.replace(secret, "[redacted]")
    return _KEY_PATTERN.sub("sk-ant-[redacted]", text)


class LLMError(RuntimeError):
    """A call failed for good (after the provider's retries); the phase applies its fallback.

    ``kind``: ``malformed`` / ``invalid`` / ``truncated`` / ``refused`` (the answer), ``timeout`` /
    ``unavailable`` / ``rate_limited`` (the service, after retries), ``auth`` / ``permission`` / ``quota``
    (fatal: see :attr:`fatal`), ``bad_request`` / ``not_found`` / ``too_large``, ``error``.
    The reason is redacted: it never carries an API key.
    """

    retries: int = 0  # transport retries the provider made before giving up

    def __init__(self, task: str, reason: str, *, kind: str = "error"):
        self.task = task
        self.reason = redact(str(reason))
        self.kind = kind
        super().__init__(f"LLM task '{task}' failed ({kind}): {self.reason}")

    def __reduce__(self) -> tuple[Any, ...]:  # picklable (process pools, multiprocess executors)
        return (type(self), (self.task, self.reason), {"kind": self.kind, "retries": self.retries})

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.kind, self.retries = state["kind"], state["retries"]
        Exception.__init__(self, f"LLM task '{self.task}' failed ({self.kind}): {self.reason}")

    @property
    def fatal(self) -> bool:
        """True when retrying later calls is pointless (bad key, no permission, spend limit reached)."""
        return self.kind in FATAL_KINDS


class StopRequested(Exception):
    """The build was asked to stop; raised before a new call starts."""


class LLM(Protocol):
    """What phases call. Implemented by :class:`collection_tree.llm.client.PhaseLLM`."""

    def call(self, request: LLMRequest) -> dict[str, Any]: ...

    def stopped(self) -> bool: ...

    @property
    def stop_event(self) -> threading.Event: ...


@dataclass
class TokenUsage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0


@dataclass
class CallRecord:
    """Accounting for one ``call``: cached answers cost nothing and take no provider time."""

    phase: str
    task: str
    model: str
    provider: str
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost_usd: float = 0.0
    cache_saved_usd: float = 0.0  # what prompt-cache reads saved, less the write surcharge (models.cache_savings_usd)
    latency_s: float = 0.0
    cached: bool = False
    retries: int = 0
    failed: bool = False
    error_kind: str = ""
    request_id: str = ""
    # Seconds since the client was created (monotonic): when the call started and ended, so a
    # benchmark can compute wall time, overlap and the serial depth of a phase.
    started: float = 0.0
    ended: float = 0.0
    raised: bool = False  # this attempt ended the call with an LLMError (the phase fell back)
    error: str = ""  # the error's reason (redacted), for the phase's failure message
