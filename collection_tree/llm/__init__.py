"""The LLM layer: one request type, one client, several providers (offline, Anthropic, fake server)."""

from collection_tree.llm.interface import LLM, LLMError, LLMRequest, StopRequested, Tier

__all__ = ["LLM", "LLMError", "LLMRequest", "StopRequested", "Tier"]
