"""The offline provider: every task answered by its deterministic solver, no key, no network."""

from __future__ import annotations

import json

from collection_tree.llm.client import ProviderAnswer
from collection_tree.llm.interface import LLMError, LLMRequest, TokenUsage


def estimate_tokens(text: str) -> int:
    """~4 characters per token: good enough for figures when no API counts them."""
    return max(1, len(text) // 4)


class OfflineProvider:
    name = "offline"

    def complete(self, request: LLMRequest, model: str) -> ProviderAnswer:
        if request.solve_offline is None:
            raise LLMError(request.task, "the request carries no offline solver (build it with TaskSpec.request)",
                           kind="bad_request")
        answer = request.solve_offline(request.payload)
        text = json.dumps(answer, ensure_ascii=False)
        usage = TokenUsage(input_tokens=estimate_tokens(request.system + request.user_message()),
                           output_tokens=estimate_tokens(text))
        return ProviderAnswer(text=text, usage=usage, latency_s=0.0, priced=False)
