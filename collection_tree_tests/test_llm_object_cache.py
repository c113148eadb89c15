"""The LLM response cache on object storage (issue 18 part 4): one object per answer through UPath,
fsspec's in-process ``memory://`` file system standing in for S3. A second build on a fresh output
folder takes every answer from the shared cache; the CLI shows and clears it like the SQLite file."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import fsspec
from dagster import DagsterInstance, materialize
from helpers import collection_resources
from upath import UPath

from collection_tree.assets.modes import FULL
from collection_tree.assets.pipeline import build_assets
from collection_tree.cli import main as cli_main
from collection_tree.demo import write_demo_collection
from collection_tree.llm.cache import SQLiteResponseCache, open_response_cache
from collection_tree.llm.object_cache import ObjectStoreResponseCache
from collection_tree.settings import Places


def _llm_figures(result: Any) -> tuple[int, int]:
    """(answers made, answers from the cache) over every LLM phase of a run."""
    made = hits = 0
    for event in result.get_asset_materialization_events():
        metadata = event.event_specific_data.materialization.metadata
        if "llm_cache_hits" in metadata:
            hits += metadata["llm_cache_hits"].value
            made += metadata["llm_calls"].value
    return made, hits


def test_a_second_build_takes_every_answer_from_a_shared_object_store_cache(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    write_demo_collection(folder, 600, 3)
    url = f"memory://ct-cache-{uuid.uuid4().hex[:8]}/llm-cache"
    first = materialize(build_assets(FULL), instance=DagsterInstance.ephemeral(),
                        resources=collection_resources(tmp_path / "one", folder, llm_cache_path=url))
    made, hits = _llm_figures(first)
    entries = fsspec.filesystem("memory").glob(url.removeprefix("memory://") + "/*/*.json")
    assert made > 0 and hits == 0 and len(entries) == made
    assert not (tmp_path / "one" / "llm_cache.sqlite").exists()  # nothing fell back to the local file
    second = materialize(build_assets(FULL), instance=DagsterInstance.ephemeral(),
                         resources=collection_resources(tmp_path / "two", folder, llm_cache_path=url))
    assert _llm_figures(second) == (0, made)
    assert (tmp_path / "two" / "curated_collection.json").read_text() != ""


def test_the_cache_location_decides_the_backend(tmp_path: Path) -> None:
    assert isinstance(Places.at(tmp_path).llm_cache, Path)
    assert isinstance(Places.at(tmp_path, llm_cache="memory://b/cache").llm_cache, UPath)
    assert Places.at(tmp_path, llm_cache=f"file://{tmp_path}/c.sqlite").llm_cache == tmp_path / "c.sqlite"
    assert isinstance(open_response_cache(tmp_path / "c.sqlite"), SQLiteResponseCache)
    assert isinstance(open_response_cache(UPath("memory://b/cache")), ObjectStoreResponseCache)


def test_cli_stats_and_clear_on_an_object_store(capsys: Any) -> None:
    url = f"memory://ct-cache-{uuid.uuid4().hex[:8]}/llm-cache"
    cache = ObjectStoreResponseCache(url)
    for i in range(4):
        cache.put(f"k{i:02d}", json.dumps({"i": i}), task="name_clusters" if i % 2 else "reassign_tracks",
                  model="claude-haiku-5-5", provider="offline" if i < 3 else "anthropic",
                  endpoint="" if i < 3 else "https://api.anthropic.com")
    assert cache.get("k03") == '{"i": 3}' and cache.get("missing") is None
    assert cli_main(["llm-cache", "stats", "--path", url]) == 0
    out = capsys.readouterr().out
    assert "4 cached answer(s)" in out and "name_clusters: 2" in out and "claude-haiku-5-5: 4" in out
    assert "provider offline: 3" in out and "provider anthropic https://api.anthropic.com: 1" in out
    assert cli_main(["llm-cache", "clear", "--path", url, "--task", "name_clusters"]) == 0
    assert "removed 2" in capsys.readouterr().out
    assert cache.count() == 2 and cache.get("k01") is None and cache.get("k00") == '{"i": 0}'


def test_an_unreadable_entry_is_a_miss_not_a_failure() -> None:
    url = f"memory://ct-cache-{uuid.uuid4().hex[:8]}/llm-cache"
    cache = ObjectStoreResponseCache(url)
    cache.put("abcd", '{"ok": 1}', task="t", model="m")
    (UPath(url) / "ab" / "abcd.json").write_text("not json")
    assert cache.get("abcd") is None
