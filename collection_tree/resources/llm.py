"""The LLM resource: builds the run's LLMClient from settings (provider, base URL, cache)."""


import threading
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource
from upath import UPath

from collection_tree.llm.client import LLMClient
from collection_tree.llm.factory import build_client
from collection_tree.resources.settings import PipelineSettings

# Set on runs nobody waits for (the schedule, the sensors): they use the ``unattended_llm`` provider.
UNATTENDED_TAG = "collection_tree/unattended"


class LLMResource(ConfigurableResource):
    """``provider``: auto | offline | anthropic | anthropic-batch. The API key is never a field: the
    SDK reads ANTHROPIC_API_KEY from the environment, so it never shows in run config or the UI.
    The response cache lives where ``pipeline_settings`` says (``<output>/llm_cache.sqlite``)."""

    provider: str = "auto"
    base_url: str = ""
    cache_enabled: bool = True
    max_concurrency: int = 8
    # Fewer calls in flight when the API's anthropic-ratelimit-*-limit headers say the account's
    # per-minute limits cannot sustain max_concurrency (off: always max_concurrency).
    adapt_to_rate_limits: bool = True
    timeout_s: float = 120.0
    max_retries: int = 4
    pipeline_settings: PipelineSettings

    def resolved_cache_path(self) -> Path | UPath | None:
        return self.pipeline_settings.places().llm_cache if self.cache_enabled else None

    def batch_journal_path(self) -> Path | None:
        """Where message batches in flight are kept (a resource used outside a run, its settings not
        yet configured, has no output folder and keeps none)."""
        settings = self.pipeline_settings
        return settings.places().output / "llm_batches.json" if isinstance(settings, PipelineSettings) else None

    def make_client(self, model_config: dict[str, Any] | None = None,
                    stop_event: threading.Event | None = None, *, unattended: bool = False,
                    offline_workers: int = 0) -> LLMClient:
        return build_client(
            provider=self.provider, base_url=self.base_url or None, model_config=model_config,
            cache_path=self.resolved_cache_path(), max_concurrency=self.max_concurrency,
            timeout_s=self.timeout_s, max_retries=self.max_retries,
            stop_event=stop_event, unattended=unattended, adapt_concurrency=self.adapt_to_rate_limits,
            batch_journal=self.batch_journal_path(), offline_workers=offline_workers,
        )
