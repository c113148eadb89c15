"""The LLM resource: builds the run's LLMClient from settings (provider, base URL, cache)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource

from collection_tree import settings
from collection_tree.llm.client import LLMClient
from collection_tree.llm.factory import build_client


class LLMResource(ConfigurableResource):
    """``provider``: auto | offline | anthropic. The API key is never a field: the SDK reads
    ANTHROPIC_API_KEY from the environment, so it never shows in run config or the UI."""

    provider: str = "auto"
    base_url: str = ""
    cache_enabled: bool = True
    cache_path: str = ""
    max_concurrency: int = 8
    timeout_s: float | None = None  # None: COLLECTION_TREE_LLM_TIMEOUT, else 120 s
    max_retries: int | None = None  # None: COLLECTION_TREE_LLM_MAX_RETRIES, else 4

    def resolved_cache_path(self) -> Path | None:
        if not self.cache_enabled:
            return None
        return Path(self.cache_path) if self.cache_path else settings.output_dir() / "llm_cache.sqlite"

    def make_client(self, model_config: dict[str, Any] | None = None,
                    stop_event: threading.Event | None = None) -> LLMClient:
        return build_client(
            provider=self.provider, base_url=self.base_url or None, model_config=model_config,
            cache_path=self.resolved_cache_path(), max_concurrency=self.max_concurrency,
            timeout_s=settings.llm_timeout_s() if self.timeout_s is None else self.timeout_s,
            max_retries=settings.llm_max_retries() if self.max_retries is None else self.max_retries,
            stop_event=stop_event,
        )
