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

# USD per million tokens: input, output, cache write (5 min), cache read. List prices, checked 2026-12 with the
# search tool (docs corpus):
# - Sonnet 5.5: https://platform.claude.com/docs/en/models/sonnet-5-5/overview (also .../zh-CN/..., .../pt-BR/...)
#   $2 / $10, 5m cache write $2.50 (1.25x input). Its cache read: that page's stored snapshot says $0.20, but it
#   predates 2026-10-07 (its comparison table still lists Haiku 4.5, which Haiku 5.5 replaced that day); the cut
#   to $0.10 (0.05x input) on 2026-10-07 is recorded against the live pricing page by three independent pricing
#   tools (github.com/kurofune/claudit v1.9.2 "checked 2026-10-24", TheKrush/PromptFuel v1.0.23, phuryn/claude-usage
#   v1.5.7 "prices from platform.claude.com, checked 2026-12-01"); no source after that date says $0.20. $0.10 kept.
# - Haiku 5.5: https://platform.claude.com/docs/en/models/haiku-5-5/overview: $0.10 / $0.50 / $0.125 / $0.01 for
#   prompts up to 100,000 tokens, and $0.50 / $2.50 / $0.625 / $0.05 for every token of a request whose prompt
#   (input + cache reads and writes) is longer.
# - Opus 5.5 $4 / $20, cache read $0.20 (https://platform.claude.com/docs/en/about-claude/pricing).
# Cache writes (5-minute lifetime) cost 1.25x input on every model. Batch API: 50% off (BATCH_DISCOUNT).
PRICES_PER_MTOK: dict[str, tuple[float, float, float, float]] = {
    "claude-sonnet-5-5": (2.00, 10.00, 2.50, 0.10),
    "claude-haiku-5-5": (0.10, 0.50, 0.125, 0.01),
    "claude-opus-5-5": (4.00, 20.00, 5.00, 0.20),
}
# Prompt-length price bands: (threshold in prompt tokens, prices above it).
LONG_PROMPT_PRICES: dict[str, tuple[int, tuple[float, float, float, float]]] = {
    "claude-haiku-5-5": (100_000, (0.50, 2.50, 0.625, 0.05)),
}
# Minimum cacheable prompt length (tokens up to a cache_control breakpoint): a shorter prefix is neither written
# nor read, silently (no error). Anthropic's prompt-caching page
# (https://platform.claude.com/docs/en/build-with-claude/prompt-caching, "Cache limitations") lists no figure for
# these model versions in any copy the search tool holds. Documented figures used instead:
# - Sonnet 5.5: 1,024, the figure of Sonnet 5 (same tokenizer) and of every Sonnet since 3.7 (LiteLLM's table,
#   https://docs.litellm.ai/docs/completion/prompt_caching, updated 2026-10-07; Anthropic's list quoted in
#   https://github.com/anthropics/anthropic-sdk-python/issues/1194).
# - Haiku 5.5: 4,096, the figure of Haiku 4.5, the latest Haiku with a documented one (same sources). Taking the
#   larger figure is the safe side: a breakpoint below the real minimum does nothing and its staggering costs a
#   round-trip; a prefix between the real minimum and 4,096 only misses a saving.
# - Opus 5.5: 512, the figure of Opus 5 (LiteLLM's table).
# An unknown model gets the largest figure (never a breakpoint that cannot pay).
CACHE_MIN_TOKENS: dict[str, int] = {
    "claude-sonnet-5-5": 1024,
    "claude-haiku-5-5": 4096,
    "claude-opus-5-5": 512,
}
DEFAULT_CACHE_MIN_TOKENS = max(CACHE_MIN_TOKENS.values())
# Lifetime of an ephemeral cache entry, refreshed each time it is read ("5m", the default ttl), and of "1h".
CACHE_TTL_S = {"5m": 300.0, "1h": 3600.0}
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


def cache_min_tokens(model: str) -> int:
    """The shortest prefix ``model`` caches (see ``CACHE_MIN_TOKENS``)."""
    return CACHE_MIN_TOKENS.get(model, DEFAULT_CACHE_MIN_TOKENS)


def approx_tokens(text: str) -> int:
    """Tokens of ``text`` by the usual rule of thumb (4 characters a token); what the fake API bills and what
    the provider uses to decide whether a prefix reaches the cache minimum. Ids and JSON tokenise denser than
    prose, so for the project's prompts this errs low: a breakpoint is never added for a prefix that is short."""
    return max(1, len(text) // 4)


def cache_savings_usd(model: str, input_tokens: int, cache_write: int, cache_read: int, batch: bool = False) -> float:
    """What prompt caching saved on one request against sending the same prompt uncached: reads at the input
    price minus the cache-read price, less the write surcharge (write price minus input price). Negative when
    written entries were never read."""
    price_in, _, price_write, price_read = prices_for(model, input_tokens + cache_write + cache_read)
    saved = cache_read * (price_in - price_read) - cache_write * (price_write - price_in)
    return saved / 1_000_000 * (BATCH_DISCOUNT if batch else 1.0)
