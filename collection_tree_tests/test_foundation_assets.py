"""The Dagster shell of the foundation: inputs and phase 1 materialise; bad input fails the asset
that reads it and leaves stored outputs untouched; IO managers write atomically."""

import json
import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, materialize
from helpers import collection_resources
from upath import UPath

from collection_tree.assets.modes import FULL, TEST
from collection_tree.assets.pipeline import build_assets
from collection_tree.core.clusters import Cluster, ClusterSet
from collection_tree.resources.io_managers import atomic_write_bytes

GENIUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "genius-2000s"
FOUNDATION = ("tracks", "genre_tree", "scene_tree", "seed_clusters")


def resources(tmp: Path, data: Path = GENIUS) -> dict:
    return collection_resources(tmp, data)


def foundation_assets(mode=FULL):
    wanted = {mode.key(name) for name in FOUNDATION}
    return [a for a in build_assets(mode) if a.key in wanted]


def test_inputs_and_seeds_materialise(tmp_path):
    result = materialize(foundation_assets(), resources=resources(tmp_path), instance=DagsterInstance.ephemeral())
    assert result.success
    seeds = pd.read_parquet(tmp_path / "store" / "seed_clusters.parquet")
    assert len(seeds) == 562 and list(seeds["track_ids"].iloc[0]) == sorted(seeds["track_ids"].iloc[0])
    meta = {e.asset_key: e.event_specific_data.materialization.metadata
            for e in result.get_asset_materialization_events()}
    assert meta[AssetKey("genre_tree")]["tree_id"].value == "genre-bea9a5cf"
    assert meta[AssetKey("scene_tree")]["leaves"].value == 184
    assert meta[AssetKey("genre_tree")]["dropped_unknown_ids"].value == 0
    assert meta[AssetKey("seed_clusters")]["tracks_covered"].value == 2443
    assert meta[AssetKey("tracks")]["dagster/row_count"].value == 6303


def test_test_mode_keeps_its_own_storage(tmp_path):
    result = materialize(foundation_assets(TEST), resources=resources(tmp_path), instance=DagsterInstance.ephemeral())
    assert result.success
    assert not (tmp_path / "store" / "seed_clusters.parquet").exists()
    seeds = pd.read_parquet(tmp_path / "store" / "test_run" / "seed_clusters.parquet")
    assert len(seeds) == 20


def test_bad_tree_fails_its_asset_and_keeps_stored_outputs(tmp_path):
    instance = DagsterInstance.ephemeral()
    assert materialize(foundation_assets(), resources=resources(tmp_path), instance=instance).success
    stored = (tmp_path / "store" / "seed_clusters.parquet").read_bytes()

    bad = tmp_path / "bad"
    shutil.copytree(GENIUS, bad)
    doc = json.loads((bad / "scene_tree.json").read_text())
    doc["tree_type"] = "genre"
    (bad / "scene_tree.json").write_text(json.dumps(doc))
    result = materialize(foundation_assets(), resources=resources(tmp_path, bad), instance=instance,
                         raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.event_specific_data.error.cause.message if failure.event_specific_data.error.cause else ""
    message += failure.event_specific_data.error.message
    assert "scene_tree.json" in message and "tree_type" in message and "'scene'" in message
    assert (tmp_path / "store" / "seed_clusters.parquet").read_bytes() == stored


def test_atomic_write_keeps_previous_file_on_failure(tmp_path, monkeypatch):
    target = UPath(tmp_path / "doc.json")
    atomic_write_bytes(target, b"old")

    class Boom(Exception):
        pass

    path_type = type(target)
    original_open = path_type.open

    def failing_open(self, mode="r", *args, **kwargs):
        handle = original_open(self, mode, *args, **kwargs)
        if "w" in mode:
            handle.close()
            raise Boom("disk full")
        return handle

    monkeypatch.setattr(path_type, "open", failing_open)
    with pytest.raises(Boom):
        atomic_write_bytes(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert [p.name for p in Path(tmp_path).iterdir()] == ["doc.json"]  # no temp file left behind


def test_cluster_set_round_trips_through_json(tmp_path):
    cs = ClusterSet(clusters=[Cluster(id="a__b", track_ids=[3, 1], filters={"genre": ["X"]}, title="T")],
                    all_track_ids=[1, 2, 3], unplaced=[{"track_id": 2, "reason": "no facets"}], report={"calls": 1})
    back = ClusterSet.from_dict(json.loads(json.dumps(cs.to_dict())))
    assert back == cs
    assert back.membership_problems() == {"duplicated": [], "out_of_scope": [], "orphaned": []}
    cs.clusters.append(Cluster(id="c", track_ids=[3]))
    assert cs.membership_problems()["duplicated"] == [3]


def test_filter_warnings_reach_the_run_log_and_the_metadata(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(GENIUS, data)
    doc = json.loads((data / "scene_tree.json").read_text(encoding="utf-8"))
    node = doc["lineages"][0]
    node["filters"] = {**node.get("filters", {}), "year_range": "2000-2005"}
    (data / "scene_tree.json").write_text(json.dumps(doc), encoding="utf-8")
    wanted = {FULL.key(name) for name in ("tracks", "scene_tree")}
    assets = [a for a in build_assets(FULL) if a.key in wanted]
    instance = DagsterInstance.ephemeral()
    result = materialize(assets, resources=resources(tmp_path, data), instance=instance)
    assert result.success
    expected = (f"{data / 'scene_tree.json'}: node '{node['id']}': filter 'year_range': expected [low, high] "
                "with two numbers, got '2000-2005'; ignored")
    warnings = [e.user_message for e in instance.all_logs(result.run_id) if e.level == logging.WARNING]
    assert expected in warnings
    meta = {e.asset_key: e.event_specific_data.materialization.metadata
            for e in result.get_asset_materialization_events()}[AssetKey("scene_tree")]
    assert meta["filter_warnings"].value == 1 and meta["filter_warning_list"].value == [expected]
