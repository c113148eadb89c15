"""The shape of a task spec."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from collection_tree.llm.interface import LLMRequest, Tier

Answer = dict[str, Any]
Payload = dict[str, Any]


@dataclass(frozen=True)
class TaskSpec:
    """One LLM use.

    * ``system``: the long, stable instructions (cached by the Anthropic provider).
    * ``schema``: JSON schema of the answer object (sent as ``output_config.format``).
    * ``normalise(answer, payload)``: repairs known quirks (ids wrapped in dicts, scores as dicts,
      missing optional fields) and drops anything naming ids the payload did not offer. It runs
      before schema validation and must never trust the answer.
    * ``solve_offline(payload)``: the deterministic answer the offline provider and the fake API
      server give, computed from the payload alone.
    * ``example()``: a small realistic payload, used by the tests that round-trip every task
      through the offline provider and through the real SDK against the fake API server.
    """

    name: str
    tier: Tier
    system: str
    schema: dict[str, Any]
    normalise: Callable[[Answer, Payload], Answer]
    solve_offline: Callable[[Payload], Answer]
    max_tokens: int = 8192
    # A small, realistic payload for round-trip tests (every task must have one).
    example: Callable[[], Payload] | None = None

    def request(self, payload: Payload, *, schema: dict[str, Any] | None = None,
                tier: Tier | None = None) -> LLMRequest:
        """A request for this task. ``schema`` may be specialised per call (e.g. an ``enum`` of
        the category names a batch may choose from)."""
        return LLMRequest(task=self.name, tier=tier or self.tier, system=self.system, payload=payload,
                          schema=schema or self.schema, max_tokens=self.max_tokens, normalise=self.normalise,
                          solve_offline=self.solve_offline)
