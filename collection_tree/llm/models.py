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

# USD per million tokens: input, output, cache write (5 min), cache read.
PRICES_PER_MTOK: dict[str, tuple[float, float, float, float]] = {
    "claude-sonnet-5-5": (3.00, 15.00, 3.75, 0.30),
    "claude-haiku-5-5": (1.00, 5.00, 1.25, 0.10),
    "claude-opus-5-5": (5.00, 25.00, 6.25, 0.50),
}
DEFAULT_PRICE = PRICES_PER_MTOK["claude-sonnet-5-5"]


def get_tiered_model(tier: Tier, model_config: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """``(model_name, provider)`` for a tier: config.json's ``creative_model`` / ``mechanical_model``
    win over ``COLLECTION_TREE_MODELS``. Every model here is Anthropic's, so one client serves both."""
    if tier not in COLLECTION_TREE_MODELS:
        raise ValueError(f"unknown tier {tier!r}; expected one of {sorted(COLLECTION_TREE_MODELS)}")
    name = (model_config or {}).get(CONFIG_KEY[tier]) or COLLECTION_TREE_MODELS[tier]
    return str(name), "anthropic"


def cost_usd(model: str, input_tokens: int, output_tokens: int, cache_write: int = 0, cache_read: int = 0,
             batch: bool = False) -> float:
    price_in, price_out, price_write, price_read = PRICES_PER_MTOK.get(model, DEFAULT_PRICE)
    total = (input_tokens * price_in + output_tokens * price_out + cache_write * price_write
             + cache_read * price_read) / 1_000_000
    return total * (0.5 if batch else 1.0)
