"""The Collection Tree JSON: schema-exact at every level, counts consistent, exactly-once, ungrouped
listed; written atomically (a failed write or build leaves the last tree intact); the Dagster assets."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, DagsterInstance, asset, materialize
from helpers import collection_resources

from collection_tree import package_version
from collection_tree.assets.collection_leaves import build_collection_leaves_asset
from collection_tree.assets.collection_tree import build_collection_tree_asset, build_leaves_checks
from collection_tree.assets.metadata_suggestions import build_metadata_suggestions_asset
from collection_tree.assets.modes import FULL, TEST, BuildMode
from collection_tree.commands._summary import build_summary_lines, tree_summary_lines
from collection_tree.core.atomic import atomic_write_json, atomic_write_text
from collection_tree.core.clusters import ClusterSet
from collection_tree.llm.client import LLMClient
from collection_tree.llm.offline import OfflineProvider
from collection_tree.phases.assembly import (
    CollectionTreeError,
    assemble_collection_tree,
    build_provenance,
    describe_build,
    validate_collection_tree,
)
from collection_tree.phases.enrichment import EnrichParams, suggest_metadata
from collection_tree.phases.leaves import LeafParams, describe_leaves, order_by_categories

NU = "rock-nu-metal__usa-metal-2000-2004"
SOUTH = "rap-dirty-south__dirty-south-2000-2004"
COUNTRY = "country__usa-2005-2010"
TOP = {"id", "tree_type", "created_at", "total_tracks", "assigned_tracks", "ungrouped_track_ids", "source_trees",
       "categories", "status", "ungrouped_reasons"}
CATEGORY = {"id", "title", "description", "track_ids", "track_count", "leaves"}
LEAF = {"id", "title", "description", "track_ids", "track_count", "examples", "genre_context", "scene_context",
        "metadata_suggestions"}


def built(collection: Any, enrich: bool = True) -> tuple[ClusterSet, dict | None]:
    client = LLMClient(OfflineProvider())
    ordered = order_by_categories(collection.clusters, collection.categories)
    leaves = describe_leaves(ordered, collection.tracks, client.for_phase("l"), LeafParams.for_profile("default"))
    suggestions = (suggest_metadata(leaves, collection.tracks, client.for_phase("s"), EnrichParams.for_profile("seed"))
                   if enrich else None)
    return leaves, suggestions


def tree(collection: Any, enrich: bool = True, **kwargs: Any) -> dict[str, Any]:
    leaves, suggestions = built(collection, enrich)
    return assemble_collection_tree(leaves, collection.categories, suggestions, collection.genre_tree,
                                    collection.scene_tree, total_tracks=22, **kwargs)


def test_tree_is_schema_exact_at_every_level(leaf_collection):
    doc = tree(leaf_collection, created_at="2026-11-24T06:00:00Z", tree_id="t-1")
    assert set(doc) == TOP
    assert doc["tree_type"] == "collection" and doc["status"] == "complete" and doc["id"] == "t-1"
    assert doc["created_at"] == "2026-11-24T06:00:00Z"
    assert doc["source_trees"] == {"genre": {"id": "genre-test", "created_at": "2026-11-24T00:00:00Z"},
                                   "scene": {"id": "scene-test", "created_at": "2026-11-24T00:00:00Z"}}
    assert [c["id"] for c in doc["categories"]] == ["roots-and-rhymes", "heavy"]
    suggestions = 0
    for category in doc["categories"]:
        assert set(category) == CATEGORY
        assert category["track_count"] == len(category["track_ids"])
        assert category["track_ids"] == [t for leaf in category["leaves"] for t in leaf["track_ids"]]
        for leaf in category["leaves"]:
            assert set(leaf) == LEAF
            assert leaf["track_count"] == len(leaf["track_ids"])
            assert leaf["examples"] and all(set(e) == {"title", "artist", "year"} for e in leaf["examples"])
            for item in leaf["metadata_suggestions"]:
                assert set(item) == {"track_id", "suggestions", "confidence", "reasoning"}
                assert set(item["suggestions"]) == {"genre_refinement", "scene_tags", "descriptors", "era_refinement"}
                assert item["track_id"] in leaf["track_ids"]
                suggestions += 1
    assert suggestions == 2
    leaves = {leaf["id"]: leaf for c in doc["categories"] for leaf in c["leaves"]}
    assert list(leaves) == [SOUTH, COUNTRY, NU]  # leaf ids are the cluster ids
    assert leaves[NU]["genre_context"] == "Nu-Metal" and leaves[NU]["scene_context"] == "USA Metal 2000-2004"
    assert validate_collection_tree(doc, min_confidence=0.7) == []
    json.dumps(doc)  # plain JSON types only


def test_counts_and_ungrouped_are_consistent(leaf_collection):
    doc = tree(leaf_collection)
    assert doc["total_tracks"] == 22 and doc["assigned_tracks"] == 20
    assert doc["ungrouped_track_ids"] == [21, 22]
    assert doc["total_tracks"] == doc["assigned_tracks"] + len(doc["ungrouped_track_ids"])


def test_the_tree_says_why_each_ungrouped_track_is_ungrouped(leaf_collection):
    leaves, suggestions = built(leaf_collection)
    unplaced = [{"track_id": 22, "reason": "no seed cluster shares its genre"},
                {"track_id": 3, "reason": "an earlier phase's reason for a track placed since"},
                {"track_id": 22, "reason": "a later, second reason"}, {"track_id": 21, "reason": " "}]
    leaves = ClusterSet(clusters=leaves.clusters, all_track_ids=leaves.all_track_ids, unplaced=unplaced)
    doc = assemble_collection_tree(leaves, leaf_collection.categories, suggestions, leaf_collection.genre_tree,
                                   leaf_collection.scene_tree, total_tracks=22)
    assert doc["ungrouped_track_ids"] == [21, 22]
    assert doc["ungrouped_reasons"] == [{"track_id": 22, "reason": "no seed cluster shares its genre"}]
    assert validate_collection_tree(doc) == []
    placed = {**doc, "ungrouped_reasons": [{"track_id": 3, "reason": "x"}]}
    assert validate_collection_tree(placed) == [
        "ungrouped_reasons[0].track_id: expected an ungrouped track id, got 3"]
    unordered = {**doc, "ungrouped_reasons": [{"track_id": 22, "reason": "x"}, {"track_id": 21, "reason": "y"}]}
    assert validate_collection_tree(unordered) == ["ungrouped_reasons: expected in track id order, each track once"]
    blank = {**doc, "ungrouped_reasons": [{"track_id": 21, "reason": ""}]}
    assert validate_collection_tree(blank) == ["ungrouped_reasons[0].reason: expected a non-empty string"]


def test_test_mode_shaped_tree_has_no_suggestions(leaf_collection):
    doc = tree(leaf_collection, enrich=False)
    leaves = [leaf for c in doc["categories"] for leaf in c["leaves"]]
    assert len(leaves) == 3 and all(leaf["metadata_suggestions"] == [] for leaf in leaves)
    assert validate_collection_tree(doc) == []


def test_leaf_in_two_categories_sits_in_the_first_and_category_ids_are_unique_kebab(leaf_collection):
    leaves, _ = built(leaf_collection, enrich=False)
    categories = {"categories": [
        {"id": "Hip Hop!", "title": "Hip Hop", "description": "", "cluster_ids": [SOUTH, NU]},
        {"id": "hip-hop", "title": "Hip-Hop again", "description": "", "cluster_ids": [NU, COUNTRY]},
        {"id": "empty", "title": "Empty", "description": "", "cluster_ids": ["ghost"]},
    ]}
    doc = assemble_collection_tree(leaves, categories, None, {}, {}, total_tracks=22)
    assert [(c["id"], [leaf["id"] for leaf in c["leaves"]]) for c in doc["categories"]] == [
        ("hip-hop", [SOUTH, NU]), ("hip-hop-2", [COUNTRY])]
    assert validate_collection_tree(doc) == []


def test_inconsistent_inputs_raise(leaf_collection):
    leaves, suggestions = built(leaf_collection)
    args = (leaf_collection.genre_tree, leaf_collection.scene_tree)
    with pytest.raises(CollectionTreeError, match="total_tracks 30"):
        assemble_collection_tree(leaves, leaf_collection.categories, suggestions, *args, total_tracks=30)
    partial = {"categories": leaf_collection.categories["categories"][:1]}
    with pytest.raises(CollectionTreeError, match="in no category"):
        assemble_collection_tree(leaves, partial, suggestions, *args, total_tracks=22)
    outside = copy.deepcopy(leaves)
    outside.clusters[0].track_ids.append(99)
    with pytest.raises(CollectionTreeError, match="outside the scope"):
        assemble_collection_tree(outside, leaf_collection.categories, None, *args, total_tracks=22)
    twice = copy.deepcopy(leaves)
    twice.clusters[0].track_ids.append(twice.clusters[1].track_ids[0])
    with pytest.raises(CollectionTreeError, match="exactly-once"):
        assemble_collection_tree(twice, leaf_collection.categories, None, *args, total_tracks=22)
    with pytest.raises(CollectionTreeError, match="unknown leaves"):
        assemble_collection_tree(leaves, leaf_collection.categories, {"suggestions": {"ghost": []}}, *args,
                                 total_tracks=22)


@pytest.mark.parametrize(("break_it", "expected"), [
    (lambda d: d.update(extra=1), "tree: keys differ"),
    (lambda d: d["source_trees"]["genre"].pop("created_at"), "source_trees.genre: keys differ"),
    (lambda d: d["categories"][0].update(children=[]), "categories[0]: keys differ"),
    (lambda d: d["categories"][0]["leaves"][0].update(filters={}), "leaves[0]: keys differ"),
    (lambda d: d["categories"][0]["leaves"][0]["examples"][0].update(track_id=1), "examples[0]: keys differ"),
    (lambda d: d["categories"][1]["leaves"][0]["metadata_suggestions"][0]["suggestions"].pop("descriptors"),
     "suggestions: keys differ"),
    (lambda d: d["categories"][1]["leaves"][0]["metadata_suggestions"][0].update(track_id=11), "not a track of this"),
    (lambda d: d["categories"][1]["leaves"][0]["metadata_suggestions"][0].update(confidence=0.5), "below 0.7"),
    (lambda d: d["categories"][0].update(id="Roots And Rhymes"), "kebab-case"),
    (lambda d: d["categories"][0].update(track_count=3), "track_count 3 != 10"),
    (lambda d: d.update(assigned_tracks=21), "assigned_tracks 21 != 20"),
    (lambda d: d.update(total_tracks=23), "total_tracks 23 != assigned 20 + ungrouped 2"),
    (lambda d: d.update(ungrouped_track_ids=[22, 21]), "sorted"),
    (lambda d: d.update(ungrouped_track_ids=[1, 21, 22]), "also in leaves"),
    (lambda d: d.update(status="running"), "status"),
    (lambda d: d["categories"][0]["leaves"][1]["track_ids"].append(1), "exactly-once"),
])
def test_validator_names_each_breakage(leaf_collection, break_it, expected):
    doc = tree(leaf_collection)
    assert validate_collection_tree(doc, min_confidence=0.7) == []
    break_it(doc)
    problems = validate_collection_tree(doc, min_confidence=0.7)
    assert any(expected in p for p in problems), problems


def test_the_build_object_is_additive_and_checked_exactly(leaf_collection):
    c = leaf_collection
    build = build_provenance([{"llm_provider": "anthropic", "models_used": ["claude-sonnet-5-5"]},
                              {"llm_provider": "anthropic", "models_used": ["claude-haiku-5-5", "claude-sonnet-5-5"]}],
                             profile="seed", version="0.1.0", run_id="r1",
                             inputs={"tracks": "a" * 64, "genre_tree": "b" * 64, "scene_tree": "c" * 64})
    assert build == {"provider": "anthropic", "models": ["claude-haiku-5-5", "claude-sonnet-5-5"], "profile": "seed",
                     "inputs": {"tracks": "a" * 64, "genre_tree": "b" * 64, "scene_tree": "c" * 64},
                     "version": "0.1.0", "run_id": "r1"}
    doc = assemble_collection_tree(c.clusters, c.categories, None, c.genre_tree, c.scene_tree, total_tracks=22,
                                   build=build)
    assert list(doc)[-1] == "build" and validate_collection_tree(doc) == []
    assert describe_build(doc["build"]) == "anthropic: claude-haiku-5-5, claude-sonnet-5-5"
    assert describe_build(build_provenance([{"llm_provider": "offline", "models_used": []}], profile="default",
                                           inputs={}, version="x", run_id="r")) == "offline heuristics"
    for breakage, problem in [({"models": "claude"}, "build.models: expected a list of model names"),
                              ({"inputs": {"tracks": "abc", "genre_tree": "", "scene_tree": ""}},
                               "build.inputs.tracks: expected a sha256"),
                              ({"extra": 1}, "build: keys differ from the schema (extra ['extra'], missing [])")]:
        broken = copy.deepcopy(doc)
        broken["build"].update(breakage)
        assert any(p.startswith(problem) for p in validate_collection_tree(broken)), problem
    other = copy.deepcopy(doc)
    other["made_with"] = "x"  # any other additional top-level key is still refused
    assert validate_collection_tree(other) == ["tree: keys differ from the schema (extra ['made_with'], missing [])"]


def test_the_exports_fixture_tree_is_valid(export_fixture):
    assert validate_collection_tree(export_fixture.tree) == []  # the shape the exporters are tested on


# ------------------------------------------------------------------------------------- atomic write
def test_atomic_write_leaves_the_previous_file_intact_when_the_write_fails_midway(tmp_path, monkeypatch):
    target = tmp_path / "out" / "curated_collection.json"
    atomic_write_json(target, {"version": 1})
    before = target.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)  # the new bytes are written, not yet synced or swapped
    with pytest.raises(OSError, match="No space"):
        atomic_write_json(target, {"version": 2, "big": "x" * 100_000})
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert [p.name for p in target.parent.iterdir()] == ["curated_collection.json"]  # no temp file left

    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):  # a stop (BaseException) at the last moment: same guarantee
        atomic_write_text(target, "new")
    monkeypatch.undo()
    assert target.read_bytes() == before and len(list(target.parent.iterdir())) == 1
    atomic_write_text(target, "new")
    assert target.read_text() == "new"


# ------------------------------------------------------------------------------------------ Dagster
def stand_ins(mode: BuildMode, collection: Any, categories: dict | None = None) -> list:
    """Upstream assets (phases 4-5 and the inputs) returning the small collection."""
    @asset(key=mode.key("refined_clusters"), io_manager_key="json_io_manager", group_name=mode.group)
    def refined() -> ClusterSet:
        return collection.clusters

    @asset(key=mode.key("categories"), io_manager_key="json_io_manager", group_name=mode.group)
    def cats() -> dict:
        return categories or collection.categories

    @asset(key=mode.key("tracks"), io_manager_key="parquet_io_manager", group_name=mode.group)
    def tracks():
        return collection.tracks

    @asset(key=mode.key("genre_tree"), io_manager_key="json_io_manager", group_name=mode.group)
    def genre() -> dict:
        return collection.genre_tree

    @asset(key=mode.key("scene_tree"), io_manager_key="json_io_manager", group_name=mode.group)
    def scene() -> dict:
        return collection.scene_tree

    return [refined, cats, tracks, genre, scene]


def mine(mode: BuildMode) -> list:
    return [a for a in (build_collection_leaves_asset(mode), build_metadata_suggestions_asset(mode),
                        build_collection_tree_asset(mode)) if a is not None]


def resources(tmp: Path) -> dict:
    return collection_resources(tmp / "output", store=str(tmp / "store"), llm_cache="off")


def check_results(result: Any) -> dict[str, bool]:
    return {e.event_specific_data.check_name: e.event_specific_data.passed
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def test_full_build_writes_the_tree_and_checks_pass(tmp_path, leaf_collection):
    instance = DagsterInstance.ephemeral()
    result = materialize([*stand_ins(FULL, leaf_collection), *mine(FULL), *build_leaves_checks(FULL)],
                         resources=resources(tmp_path), instance=instance)
    assert result.success
    path = tmp_path / "output" / "curated_collection.json"
    doc = json.loads(path.read_text())
    assert doc == result.output_for_node("collection_tree") and validate_collection_tree(doc) == []
    assert doc["assigned_tracks"] == 20 and sum(len(leaf["metadata_suggestions"])
                                                for c in doc["categories"] for leaf in c["leaves"]) == 2
    assert check_results(result) == {"exemplars_are_members": True, "leaf_sizes": False,  # country has 4 tracks
                                     "tree_validates": True, "suggestions_confident_and_members": True,
                                     "curation_bounds": False}  # ... and is below min_leaf_tracks
    meta = {e.asset_key: e.event_specific_data.materialization.metadata
            for e in result.get_asset_materialization_events()}
    tree_meta = meta[AssetKey("collection_tree")]
    assert tree_meta["tree_file"].value == str(path) and tree_meta["ungrouped_tracks"].value == 2
    assert meta[AssetKey("metadata_suggestions")]["suggestions"].value == 2
    assert meta[AssetKey("collection_leaves")]["leaves"].value == 3
    lines = tree_summary_lines(path)
    assert "Roots & Rhymes" in lines[1] and "2 leaves" in lines[1] and "tracks assigned: 20/22" in lines[3]
    summary = build_summary_lines(result)  # what `collection-tree build` prints, read from the written file
    # phase 7: one packed mechanical call, then one creative call for the grey-zone tracks (7, 8, 15, 16)
    assert summary[0] == ("made by: offline heuristics, no model called (3 answers: collection_leaves 1, "
                          "metadata_suggestions 2)")
    assert doc["build"] == {"provider": "offline", "models": [], "profile": "default",
                            "inputs": {"tracks": "", "genre_tree": "", "scene_tree": ""},  # stand-ins: no files
                            "version": package_version(), "run_id": result.run_id}
    assert summary[1] == f"curation: {tree_meta['curation_summary'].value}" and "category title fit" in summary[1]
    assert summary[2:] == lines and summary[-1] == f"tree: {path}"

    # categories re-materialised without the leaves: the tree's assembly fails (a stored leaf is now in no
    # category) and the last complete tree stays in place
    before = path.read_bytes()
    broken = {"categories": leaf_collection.categories["categories"][:1]}
    result = materialize([*stand_ins(FULL, leaf_collection, broken), *mine(FULL)], resources=resources(tmp_path),
                         instance=instance, raise_on_error=False,
                         selection=[FULL.key("categories"), FULL.key("collection_tree")])
    assert not result.success and path.read_bytes() == before
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "in no category" in str(failure.event_specific_data.error.to_string())


def test_test_mode_skips_phase_7_and_writes_beside_the_full_tree(tmp_path, leaf_collection):
    assert build_metadata_suggestions_asset(TEST) is None
    result = materialize([*stand_ins(TEST, leaf_collection), *mine(TEST), *build_leaves_checks(TEST)],
                         resources=resources(tmp_path), instance=DagsterInstance.ephemeral())
    assert result.success
    assert not (tmp_path / "output" / "curated_collection.json").exists()
    doc = json.loads((tmp_path / "output" / "test_run" / "curated_collection.json").read_text())
    assert all(leaf["metadata_suggestions"] == [] for c in doc["categories"] for leaf in c["leaves"])
    assert check_results(result)["tree_validates"] is True
    assert (tmp_path / "store" / "test_run" / "collection_tree.json").exists()
