"""Build an LLMClient from settings: which provider, which cache."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from collection_tree import settings
from collection_tree.llm.client import LLMClient, Provider
from collection_tree.llm.offline import OfflineProvider


def choose_provider_name(requested: str | None = None) -> str:
    """``offline`` or ``anthropic``. Unset/``auto``: anthropic when a key is set, else offline."""
    name = (requested or os.environ.get(settings.LLM_ENV) or "auto").strip().lower()
    if name == "auto":
        return "anthropic" if os.environ.get(settings.ANTHROPIC_KEY_ENV) else "offline"
    if name not in ("offline", "anthropic"):
        raise ValueError(f"{settings.LLM_ENV}: expected 'offline', 'anthropic' or 'auto', got {name!r}")
    return name


def make_provider(name: str, *, base_url: str | None = None, max_concurrency: int = 4,
                  timeout_s: float = 120.0, max_retries: int = 4) -> Provider:
    if name == "offline":
        return OfflineProvider()
    from collection_tree.llm.anthropic_provider import AnthropicProvider

    return AnthropicProvider(base_url=base_url, timeout_s=timeout_s, max_retries=max_retries,
                             max_concurrency=max_concurrency)


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
    """The client a run uses. ``cache_path`` None disables the response cache."""
    cache = None
    if cache_path is not None:
        from collection_tree.llm.cache import SQLiteResponseCache

        cache = SQLiteResponseCache(cache_path)
    return LLMClient(
        make_provider(choose_provider_name(provider), base_url=base_url, max_concurrency=max_concurrency,
                      timeout_s=timeout_s, max_retries=max_retries),
        model_config=model_config, cache=cache, max_concurrency=max_concurrency, stop_event=stop_event,
    )
