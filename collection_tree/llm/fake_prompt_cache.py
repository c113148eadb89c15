"""The fake API's prompt cache, by the rules of Anthropic's prompt caching
(https://platform.claude.com/docs/en/build-with-claude/prompt-caching):

* a ``cache_control`` breakpoint on a block caches the prompt prefix up to and including that block, the prompt
  rendered as ``tools``, then ``system``, then ``messages``; at most 4 breakpoints a request (more: HTTP 400);
* a later request reads an entry only if its own prefix up to a breakpoint is byte-identical (same model too);
  the longest such prefix is read, what lies between it and the last cacheable breakpoint is written;
* a prefix shorter than the model's minimum (``models.cache_min_tokens``) is neither written nor read, silently;
* an entry can be read once the response that wrote it has started (``available_at``): a request sent
  concurrently, before that, finds nothing and writes the same prefix again (billed as a write);
* an entry lives 5 minutes (``ttl: "1h"``: an hour) from its last use; a read refreshes it;
* usage: ``input_tokens`` (after the last breakpoint, or everything on a miss), ``cache_creation_input_tokens``,
  ``cache_read_input_tokens``; the three add up to the prompt. Writes are billed at 1.25x input and reads at
  the cache-read price by the client (``models.cost_usd``).

The clock is injected (``clock()`` in seconds), so expiry and the concurrency rule are tested without sleeping.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from collection_tree.llm.models import CACHE_TTL_S, approx_tokens, cache_min_tokens

MAX_BREAKPOINTS = 4


class CacheRequestError(ValueError):
    """A request the API refuses (HTTP 400): too many breakpoints, an unknown ttl."""


@dataclass(frozen=True)
class Breakpoint:
    """A ``cache_control`` block: the prefix up to it (its hash and tokens) and its lifetime."""

    key: str
    tokens: int
    ttl_s: float


@dataclass(frozen=True)
class RenderedPrompt:
    """A request's prompt as the cache sees it: total tokens and its breakpoints in prompt order."""

    model: str
    total_tokens: int
    breakpoints: tuple[Breakpoint, ...]


@dataclass
class _Entry:
    available_at: float
    last_used: float
    ttl_s: float


def render(body: dict[str, Any]) -> RenderedPrompt:
    """The prompt of a Messages API request body: blocks in ``tools`` / ``system`` / ``messages`` order, each
    breakpoint keyed by the model and every byte before and in its block (``cache_control`` itself left out)."""
    model = str(body.get("model") or "")
    # per section (tools, system, messages): (bytes the prefix hash covers, billed text, its cache_control)
    sections: list[list[tuple[str, str, Any]]] = [[], [], []]
    for tool in body.get("tools") or []:
        if isinstance(tool, dict):
            sections[0].append((_canonical(tool), _canonical(tool), tool.get("cache_control")))
    system = body.get("system")
    if isinstance(system, str) and system:
        sections[1].append((system, system, None))
    elif isinstance(system, list):
        for block in system:
            if isinstance(block, dict):
                text = str(block.get("text", ""))
                sections[1].append((text, text, block.get("cache_control")))
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        role, content = str(message.get("role", "")), message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for block in blocks if isinstance(blocks, list) else []:
            if isinstance(block, dict):
                text = str(block.get("text", "")) if block.get("type") == "text" else _canonical(block)
                sections[2].append((f"{role}\x1f{text}", text, block.get("cache_control")))
    marked = sum(1 for section in sections for *_, control in section if control)
    if marked > MAX_BREAKPOINTS:
        raise CacheRequestError(f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
                                f"Found {marked}.")
    digest = hashlib.sha256(model.encode("utf-8"))
    breakpoints: list[Breakpoint] = []
    done_tokens = 0  # tokens of the sections before this one
    for section in sections:
        billed = ""
        for hashed, text, control in section:
            digest.update(b"\x1e" + hashed.encode("utf-8"))
            billed += text
            if control:
                breakpoints.append(Breakpoint(digest.hexdigest(), done_tokens + _tokens(billed), _ttl(control)))
        done_tokens += _tokens(billed)
        digest.update(b"\x1d")  # a section boundary: a block cannot slide from system into messages unnoticed
    return RenderedPrompt(model, done_tokens, tuple(breakpoints))


class PromptCache:
    """Entries keyed by prefix hash. ``usage(prompt, now, first_token_s)`` is one request: what it reads,
    writes and pays as input; its writes become readable ``first_token_s`` after ``now`` (its response
    starts). Thread-safe."""

    def __init__(self, clock: Callable[[], float], min_tokens: Callable[[str], int] = cache_min_tokens):
        self.clock = clock
        self.min_tokens = min_tokens
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def usage(self, prompt: RenderedPrompt, first_token_s: float = 0.0) -> dict[str, int]:
        now = self.clock()
        cacheable = [b for b in prompt.breakpoints if b.tokens >= self.min_tokens(prompt.model)]
        read = 0
        with self._lock:
            self._expire(now)
            for bp in reversed(cacheable):  # the longest prefix already cached and readable
                entry = self._entries.get(bp.key)
                if entry is not None and entry.available_at <= now:
                    entry.last_used = now
                    read = bp.tokens
                    break
            write = 0
            for bp in cacheable:
                if bp.tokens <= read:
                    continue
                write = bp.tokens - read
                entry = self._entries.get(bp.key)
                ready = now + first_token_s
                if entry is None:
                    self._entries[bp.key] = _Entry(available_at=ready, last_used=now, ttl_s=bp.ttl_s)
                else:  # written concurrently by an earlier request that has not started answering yet
                    entry.available_at = min(entry.available_at, ready)
                    entry.last_used = now
        return {"input_tokens": prompt.total_tokens - read - write, "cache_creation_input_tokens": write,
                "cache_read_input_tokens": read}

    def _expire(self, now: float) -> None:
        for key in [k for k, e in self._entries.items() if now >= e.last_used + e.ttl_s]:
            del self._entries[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _canonical(value: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in value.items() if k != "cache_control"}, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))


def _tokens(text: str) -> int:
    return approx_tokens(text) if text else 0


def _ttl(control: Any) -> float:
    if not isinstance(control, dict) or control.get("type") != "ephemeral":
        raise CacheRequestError(f"cache_control: expected {{'type': 'ephemeral'}}, got {control!r}")
    ttl = control.get("ttl", "5m")
    if ttl not in CACHE_TTL_S:
        raise CacheRequestError(f"cache_control.ttl: expected one of {sorted(CACHE_TTL_S)}, got {ttl!r}")
    return CACHE_TTL_S[ttl]
