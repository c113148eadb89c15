"""A fatal API refusal (bad key, spend limit) fails the asset instead of storing a degraded result."""

from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, materialize
from fake_api import DUMMY_KEY
from helpers import collection_settings

from collection_tree.assets.modes import FULL
from collection_tree.assets.pipeline import build_assets
from collection_tree.resources.factory import build_resources

UP_TO_NAMING = ("tracks", "genre_tree", "scene_tree", "seed_clusters", "named_clusters")


@pytest.mark.parametrize("fault, kind", [("401", "auth"), ("quota", "quota")])
def test_fatal_refusal_fails_the_phase(tmp_path: Path, small_collection: Path, anthropic_env, fault: str,
                                       kind: str) -> None:
    anthropic_env.add_rule(fault, task="name_clusters_brief")
    resources = build_resources(collection_settings(tmp_path, small_collection, llm="anthropic",
                                                    anthropic_base_url=anthropic_env.base_url, llm_cache="off"),
                                timeout_s=2.0, max_retries=1, max_concurrency=1)
    assets = [a for a in build_assets(FULL) if a.key in {FULL.key(n) for n in UP_TO_NAMING}]
    result = materialize(assets, resources=resources, instance=DagsterInstance.ephemeral(), raise_on_error=False)

    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "named_clusters"
    message = failure.event_specific_data.error.message
    assert kind in message and "re-execute from failure" in message
    assert DUMMY_KEY not in message
    # One call at a time (max_concurrency=1): one refused request, then no more, although the phase has
    # many batches; the client stops asking after a fatal answer.
    assert len(anthropic_env.message_requests("name_clusters_brief")) == 1
    assert not (tmp_path / "store" / "named_clusters.json").exists()
    assert AssetKey("seed_clusters") in {e.asset_key for e in result.get_asset_materialization_events()}
