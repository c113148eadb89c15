"""Model tiering: which model serves which tier, and what it costs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collection_tree.llm.interface import Tier

# The reference's models are retired (claude-3-5-haiku-20241022 on 2026-02-19) or retiring
# (claude-sonnet-4-5-20250929 on 2026-11-30); these are the current ones.
COLLECTION_TREE_MODELS: dict[str, str] = {
    "creative": "claude-sonnet-5-5",
    "mechanical": "claude-haiku-5-5",
}
CONFIG_KEY = {"creative": "creative_model", "mechanical": "mechanical_model"}

# USD per million tokens: input, output, cache write (5 min), cache read. List prices, checked 2026-11:
# https://platform.claude.com/docs/en/about-claude/pricing and the model overview pages
# (https://platform.claude.com/docs/en/models/sonnet-5-5/overview, .../haiku-5-5/overview):
# Sonnet 5.5 $2 / $10, 5m cache write $2.50; its cache read was cut from $0.20 to $0.10 on 2026-10-07
# (0.05x input). Haiku 5.5 $0.10 / $0.50 / $0.125 / $0.01 for prompts up to 100,000 tokens, and
# $0.50 / $2.50 / $0.625 / $0.05 for every token of a request whose prompt (input + cache reads and
# writes) is longer. Opus 5.5 $4 / $20. Batch API: 50% off (BATCH_DISCOUNT).
PRICES_PER_MTOK: dict[str, tuple[float, float, float, float]] = {
    "claude-sonnet-5-5": (2.00, 10.00, 2.50, 0.10),
    "claude-haiku-5-5": (0.10, 0.50, 0.125, 0.01),
    "claude-opus-5-5": (4.00, 20.00, 5.00, 0.20),
}
# Prompt-length price bands: (threshold in prompt tokens, prices above it).
LONG_PROMPT_PRICES: dict[str, tuple[int, tuple[float, float, float, float]]] = {
    "claude-haiku-5-5": (100_000, (0.50, 2.50, 0.625, 0.05)),
}
DEFAULT_PRICE = PRICES_PER_MTOK["claude-sonnet-5-5"]
BATCH_DISCOUNT = 0.5


def get_tiered_model(tier: Tier, model_config: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """``(model_name, provider)`` for a tier: config.json's ``creative_model`` / ``mechanical_model``
    win over ``COLLECTION_TREE_MODELS``. Every model here is Anthropic's, so one client serves both."""
    if tier not in COLLECTION_TREE_MODELS:
        raise ValueError(f"unknown tier {tier!r}; expected one of {sorted(COLLECTION_TREE_MODELS)}")
    name = (model_config or {}).get(CONFIG_KEY[tier]) or COLLECTION_TREE_MODELS[tier]
    return str(name), "anthropic"


def prices_for(model: str, prompt_tokens: int = 0) -> tuple[float, float, float, float]:
    """List prices of ``model`` for a request with ``prompt_tokens`` (input + cache read + cache write).
    An unknown model is priced as the creative default, so a cost is never silently zero."""
    band = LONG_PROMPT_PRICES.get(model)
    if band is not None and prompt_tokens > band[0]:
        return band[1]
    return PRICES_PER_MTOK.get(model, DEFAULT_PRICE)


def cost_usd(model: str, input_tokens: int, output_tokens: int, cache_write: int = 0, cache_read: int = 0,
             batch: bool = False) -> float:
    """Cost of one request at list prices (the Batch API halves every part of it)."""
    price_in, price_out, price_write, price_read = prices_for(model, input_tokens + cache_write + cache_read)
    total = (input_tokens * price_in + output_tokens * price_out + cache_write * price_write
             + cache_read * price_read) / 1_000_000
    return total * (BATCH_DISCOUNT if batch else 1.0)
