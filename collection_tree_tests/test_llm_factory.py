"""Provider choice: auto = anthropic with a key, else offline; COLLECTION_TREE_LLM forces one."""

from __future__ import annotations

from typing import Any

import pytest
from fake_api import DUMMY_KEY

from collection_tree.llm.anthropic_provider import AnthropicBatchProvider, AnthropicProvider
from collection_tree.llm.factory import build_client, choose_provider_name
from collection_tree.llm.offline import OfflineProvider


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "COLLECTION_TREE_LLM", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_auto_is_offline_without_a_key(clean_env: pytest.MonkeyPatch) -> None:
    assert choose_provider_name() == "offline"
    assert choose_provider_name("auto") == "offline"
    assert isinstance(build_client(provider="auto").provider, OfflineProvider)


def test_auto_is_anthropic_with_a_key(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ANTHROPIC_API_KEY", DUMMY_KEY)
    assert choose_provider_name() == "anthropic"
    assert choose_provider_name("auto") == "anthropic"


def test_env_forces_offline_even_with_a_key(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ANTHROPIC_API_KEY", DUMMY_KEY)
    clean_env.setenv("COLLECTION_TREE_LLM", "offline")
    assert choose_provider_name() == "offline"
    assert choose_provider_name("auto") == "offline"  # the resource's default defers to the env
    assert isinstance(build_client(provider="auto").provider, OfflineProvider)
    assert choose_provider_name("anthropic") == "anthropic"  # an explicit request still wins


def test_unknown_provider_is_a_clear_error(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("COLLECTION_TREE_LLM", "openai")
    with pytest.raises(ValueError, match=r"COLLECTION_TREE_LLM.*openai"):
        choose_provider_name()


def test_anthropic_client_uses_the_base_url_from_the_env(anthropic_env: Any) -> None:
    client = build_client(provider="auto", timeout_s=5, max_retries=0, max_concurrency=3)
    assert isinstance(client.provider, AnthropicProvider)
    assert client.provider.base_url.rstrip("/") == anthropic_env.base_url
    assert client.provider.max_concurrency == 3 and client.max_concurrency == 3
    batch = build_client(provider="anthropic-batch", max_retries=0)
    assert isinstance(batch.provider, AnthropicBatchProvider)
    client.close()
    batch.close()
