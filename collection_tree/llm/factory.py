"""Build an LLMClient from settings: which provider, which cache."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from collection_tree import settings
from collection_tree.llm.client import LLMClient, Provider
from collection_tree.llm.offline import OfflineProvider

log = logging.getLogger(__name__)

PROVIDERS = ("offline", "anthropic", "anthropic-batch")
_OFF = ("0", "off", "false", "no", "disabled")


def choose_provider_name(requested: str | None = None) -> str:
    """``offline``, ``anthropic`` or ``anthropic-batch`` (Message Batches, half price, slow).

    ``requested`` wins, then ``COLLECTION_TREE_LLM``; unset or ``auto``: anthropic when
    ``ANTHROPIC_API_KEY`` is set, else offline (a build with no key completes offline)."""
    name = (requested or "").strip().lower()
    if name in ("", "auto"):
        name = (os.environ.get(settings.LLM_ENV) or "auto").strip().lower()
    if name == "auto":
        return "anthropic" if os.environ.get(settings.ANTHROPIC_KEY_ENV) else "offline"
    if name not in PROVIDERS:
        raise ValueError(f"{settings.LLM_ENV}: expected 'auto' or one of {', '.join(PROVIDERS)}; got {name!r}")
    return name


def cache_disabled_by_env() -> bool:
    """``COLLECTION_TREE_LLM_CACHE=off`` (or 0/false/no) turns the response cache off."""
    return (os.environ.get(settings.LLM_CACHE_ENV) or "").strip().lower() in _OFF


def make_provider(name: str, *, base_url: str | None = None, max_concurrency: int = 4,
                  timeout_s: float = 120.0, max_retries: int = 4) -> Provider:
    if name == "offline":
        return OfflineProvider()
    if name == "anthropic-batch":
        from collection_tree.llm.anthropic_provider import AnthropicBatchProvider

        return AnthropicBatchProvider(base_url=base_url, timeout_s=timeout_s, max_retries=max_retries)
    if name == "anthropic":
        from collection_tree.llm.anthropic_provider import AnthropicProvider

        return AnthropicProvider(base_url=base_url, timeout_s=timeout_s, max_retries=max_retries,
                                 max_concurrency=max_concurrency)
    raise ValueError(f"unknown LLM provider {name!r}; expected one of {', '.join(PROVIDERS)}")


def build_client(
    *,
    provider: str | None = None,
    base_url: str | None = None,
    model_config: Mapping[str, Any] | None = None,
    cache_path: Path | None = None,
    max_concurrency: int = 4,
    timeout_s: float = 120.0,
    max_retries: int = 4,
    stop_event: threading.Event | None = None,
) -> LLMClient:
    """The client a run uses. ``cache_path`` None (or ``COLLECTION_TREE_LLM_CACHE=off``) disables the
    response cache. ``base_url`` None: ``ANTHROPIC_BASE_URL`` if set, else Anthropic's API."""
    cache = None
    if cache_path is not None and not cache_disabled_by_env():
        import sqlite3

        from collection_tree.llm.cache import SQLiteResponseCache

        try:
            cache = SQLiteResponseCache(cache_path)
        except (sqlite3.Error, OSError) as exc:  # a broken cache must not stop a build
            log.warning("LLM response cache %s unusable (%s): running without it", cache_path, exc)
    return LLMClient(
        make_provider(choose_provider_name(provider), base_url=base_url, max_concurrency=max_concurrency,
                      timeout_s=timeout_s, max_retries=max_retries),
        model_config=model_config, cache=cache, max_concurrency=max_concurrency, stop_event=stop_event,
    )
