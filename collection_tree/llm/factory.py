"""Build an LLMClient from settings: which provider, which cache."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from upath import UPath

from collection_tree.llm.client import LLMClient, Provider
from collection_tree.llm.offline import OfflineProvider
from collection_tree.settings import Settings, current

log = logging.getLogger(__name__)

PROVIDERS = ("offline", "anthropic", "anthropic-batch")


def choose_provider_name(requested: str | None = None, cfg: Settings | None = None, *,
                         unattended: bool = False) -> str:
    """``offline``, ``anthropic`` or ``anthropic-batch`` (Message Batches, half price, slow).

    ``requested`` wins, then the ``llm`` setting (default: the environment's); unset or ``auto``:
    anthropic when an API key is set, else offline (a build with no key completes offline). An
    ``unattended`` build (schedule, sensor) that would call the API interactively uses the
    ``unattended_llm`` setting instead (default: batches, at half price)."""
    cfg = cfg or current()
    name = (requested or "").strip().lower()
    if name in ("", "auto"):
        name = (cfg.llm or "auto").strip().lower()
    if name == "auto":
        name = "anthropic" if cfg.anthropic_key_set else "offline"
    if name not in PROVIDERS:
        raise ValueError(f"{Settings.env_name('llm')}: expected 'auto' or one of {', '.join(PROVIDERS)}; "
                         f"got {name!r}")
    if unattended and name == "anthropic":
        choice = (cfg.unattended_llm or "anthropic-batch").strip().lower()
        if choice not in ("anthropic", "anthropic-batch"):
            raise ValueError(f"{Settings.env_name('unattended_llm')}: expected 'anthropic-batch' or 'anthropic'; "
                             f"got {choice!r}")
        name = choice
    return name


def make_provider(name: str, *, base_url: str | None = None, max_concurrency: int = 4,
                  timeout_s: float = 120.0, max_retries: int = 4, batch_journal: Path | None = None,
                  adapt_concurrency: bool = True, offline_workers: int = 0) -> Provider:
    if name == "offline":
        return OfflineProvider(workers=offline_workers)
    if name == "anthropic-batch":
        from collection_tree.llm.anthropic_provider import AnthropicBatchProvider
        from collection_tree.llm.batch_journal import BatchJournal

        return AnthropicBatchProvider(base_url=base_url, timeout_s=timeout_s, max_retries=max_retries,
                                      journal=BatchJournal(batch_journal) if batch_journal is not None else None)
    if name == "anthropic":
        from collection_tree.llm.anthropic_provider import AnthropicProvider

        return AnthropicProvider(base_url=base_url, timeout_s=timeout_s, max_retries=max_retries,
                                 max_concurrency=max_concurrency, adapt_concurrency=adapt_concurrency)
    raise ValueError(f"unknown LLM provider {name!r}; expected one of {', '.join(PROVIDERS)}")


def build_client(
    *,
    provider: str | None = None,
    base_url: str | None = None,
    model_config: Mapping[str, Any] | None = None,
    cache_path: Path | UPath | None = None,
    max_concurrency: int = 4,
    timeout_s: float = 120.0,
    max_retries: int = 4,
    stop_event: threading.Event | None = None,
    batch_journal: Path | None = None,
    unattended: bool = False,
    adapt_concurrency: bool = True,
    offline_workers: int = 0,
) -> LLMClient:
    """The client a run uses. ``cache_path`` None (or the ``llm_cache`` setting off) disables the
    response cache. ``base_url`` None: the SDK's own (``ANTHROPIC_BASE_URL`` if set, else the API).
    ``offline_workers``: worker processes for the offline provider's answers (0: in this process)."""
    cache = None
    if cache_path is not None and current().llm_cache_enabled:
        import sqlite3

        from collection_tree.llm.cache import open_response_cache

        try:
            cache = open_response_cache(cache_path)
        except (sqlite3.Error, OSError) as exc:  # a broken cache must not stop a build
            log.warning("LLM response cache %s unusable (%s): running without it", cache_path, exc)
    return LLMClient(
        make_provider(choose_provider_name(provider, unattended=unattended), base_url=base_url,
                      max_concurrency=max_concurrency, timeout_s=timeout_s, max_retries=max_retries,
                      batch_journal=batch_journal, adapt_concurrency=adapt_concurrency,
                      offline_workers=offline_workers),
        model_config=model_config, cache=cache, max_concurrency=max_concurrency, stop_event=stop_event,
    )
