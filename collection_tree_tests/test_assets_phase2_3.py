"""Phases 2 and 3 as Dagster assets on the real genius-2000s collection with the offline provider:
inputs -> seed_clusters -> named_clusters -> assigned_clusters (+ the exactly-once check)."""

import json
import math
from pathlib import Path

import pandas as pd
from dagster import AssetKey, DagsterInstance, materialize
from helpers import collection_resources

from collection_tree.assets.modes import FULL, TEST
from collection_tree.assets.pipeline import build_assets, build_checks
from collection_tree.core.clusters import ClusterSet

GENIUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "genius-2000s"
UPSTREAM = ("tracks", "genre_tree", "scene_tree", "seed_clusters", "named_clusters", "assigned_clusters")


def resources(tmp: Path, profile: str = "default") -> dict:
    return collection_resources(tmp, GENIUS, profile=profile)


def phase_assets(mode):
    wanted = {mode.key(name) for name in UPSTREAM}
    checks = [c for c in build_checks(mode) if all(k.asset_key in wanted for k in c.check_keys)]
    return [a for a in build_assets(mode) if a.key in wanted] + checks


def metadata(result) -> dict:
    return {e.asset_key: {k: v.value for k, v in e.event_specific_data.materialization.metadata.items()}
            for e in result.get_asset_materialization_events()}


def test_full_build_places_every_track_exactly_once(tmp_path):
    result = materialize(phase_assets(FULL), resources=resources(tmp_path), instance=DagsterInstance.ephemeral())
    assert result.success

    stored = json.loads((tmp_path / "store" / "assigned_clusters.json").read_text())
    assigned = ClusterSet.from_dict(stored)
    tracks = pd.read_csv(GENIUS / "tracks.csv", usecols=["track_id"])
    assert sorted(assigned.all_track_ids) == sorted(tracks["track_id"].tolist())
    assert assigned.membership_problems() == {"duplicated": [], "out_of_scope": [], "orphaned": []}
    placed = sum(c.track_count for c in assigned.clusters)
    assert placed + len(assigned.unplaced) == len(tracks)
    assert all(u["reason"] for u in assigned.unplaced)

    named = ClusterSet.from_dict(json.loads((tmp_path / "store" / "named_clusters.json").read_text()))
    seeds = pd.read_parquet(tmp_path / "store" / "seed_clusters.parquet")
    assert [c.id for c in named.clusters] == seeds["id"].tolist()
    assert all(c.title and c.title != c.fallback_title and c.named_by == "offline" for c in named.clusters)
    assert len({c.title.casefold() for c in named.clusters}) == len(named.clusters)
    assert len(assigned.clusters) <= len(named.clusters)

    meta = metadata(result)
    m2, m3 = meta[AssetKey("named_clusters")], meta[AssetKey("assigned_clusters")]
    assert m2["clusters"] == 562 and "fallback" not in m2["named_by"]
    # ceil(562 / 40) = 15 batches would take 2 waves of 8 workers: 8 batches of 70-71 (<= 80) instead
    assert m2["llm_calls"] == m2["batches"] == 8
    assert m2["serial_calls"] == 1
    passes = stored["report"]["passes"]
    assert 1 <= len(passes) <= 3 and passes[0]["serial_calls"] == 1  # pass 1 in one wave
    assert m3["llm_calls"] == sum(p["calls"] for p in passes)
    assert m3["serial_calls"] < 53 / 4  # a small fraction of the reference's serial chain
    assert m3["orphans"] == 6303 - 2443
    assert (m3["preassigned"] + m3["llm_assigned"] + m3["fallback_assigned"]
            == m3["orphans"] + m3["poor_fits"] + m3["similarity_poor_fits"])
    assert m3["exactly_once"].startswith("ok")

    checks = result.get_asset_check_evaluations()
    assert [(c.asset_key, c.check_name, c.passed) for c in checks] == [
        (AssetKey("assigned_clusters"), "exactly_once", True)]


def test_test_mode_scope_is_the_capped_seeds_tracks(tmp_path):
    run_config = {"ops": {"test_run__named_clusters": {"config": {"batch_size": 5}},  # override single fields
                          "test_run__assigned_clusters": {"config": {"batch_size": 2}}}}
    result = materialize(phase_assets(TEST), resources=resources(tmp_path, profile="seed"), run_config=run_config,
                         instance=DagsterInstance.ephemeral())
    assert result.success
    base = tmp_path / "store" / "test_run"
    assert not (tmp_path / "store" / "assigned_clusters.json").exists()
    seeds = pd.read_parquet(base / "seed_clusters.parquet")
    in_seeds = sorted({int(t) for ids in seeds["track_ids"] for t in ids})
    named = ClusterSet.from_dict(json.loads((base / "named_clusters.json").read_text()))
    assigned = ClusterSet.from_dict(json.loads((base / "assigned_clusters.json").read_text()))
    assert len(named.clusters) == 20
    assert named.all_track_ids == in_seeds == sorted(assigned.all_track_ids)
    assert assigned.membership_problems() == {"duplicated": [], "out_of_scope": [], "orphaned": []}
    assert assigned.report["orphans"] == 0  # every in-scope track came from a seed
    meta = metadata(result)[TEST.key("named_clusters")]
    assert meta["profile"] == "seed" and meta["batches"] == 4 and meta["serial_calls"] == 1  # 5 per call, 4 workers
    assert all(c.passed for c in result.get_asset_check_evaluations())
    params = assigned.report["params"]
    assert (params["batch_size"], params["workers"], params["candidates"]) == (2, 1, 0)  # seed, batch overridden
    sent = sum(p["tracks_sent"] for p in assigned.report["passes"])
    assert sum(p["calls"] for p in assigned.report["passes"]) == math.ceil(sent / 2)


def test_exactly_once_check_fails_on_a_bad_cluster_set(tmp_path):
    from dagster import asset

    from collection_tree.assets.checks import exactly_once_check
    from collection_tree.core.clusters import Cluster

    @asset(key=FULL.key("assigned_clusters"), io_manager_key="json_io_manager")
    def assigned_clusters() -> ClusterSet:
        return ClusterSet(clusters=[Cluster(id="a", track_ids=[1, 2]), Cluster(id="b", track_ids=[2, 9])],
                          all_track_ids=[1, 2, 3, 4], unplaced=[{"track_id": 4, "reason": "no facets"}])

    result = materialize([assigned_clusters, exactly_once_check(FULL, "assigned_clusters")],
                         resources=resources(tmp_path), instance=DagsterInstance.ephemeral(), raise_on_error=False)
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed
    meta = {k: v.value for k, v in evaluation.metadata.items()}
    assert (meta["duplicated"], meta["out_of_scope"], meta["orphaned"], meta["unplaced"]) == (1, 1, 1, 1)
