"""Identity, overrides and the diff in real builds (issue 15 parts 2-4): two full offline builds of the
small collection on one Dagster instance; the second reads the first from the asset's history."""

import json

from dagster import DagsterInstance, materialize
from helpers import collection_resources

from collection_tree.assets.modes import FULL
from collection_tree.assets.pipeline import build_assets


def _leaves(tree):
    return {leaf["id"]: leaf for c in tree["categories"] for leaf in c["leaves"]}


def test_rebuild_keeps_ids_and_applies_overrides(tmp_path, small_collection):
    out = tmp_path / "out"
    instance = DagsterInstance.ephemeral()
    resources = collection_resources(out, small_collection, llm_cache="off")
    assert materialize(build_assets(FULL), resources=resources, instance=instance).success
    first = json.loads((out / "curated_collection.json").read_text())
    leaves = _leaves(first)
    keep, donor, locked = sorted(leaves)[:3]
    pinned = str(leaves[donor]["track_ids"][0])
    (out / "overrides.json").write_text(json.dumps({
        "rename_leaves": {keep: "My Warm-up"}, "pin_tracks": {pinned: keep}, "lock_leaves": [locked],
        "exclude_tracks": ["999999999"]}))
    assert materialize(build_assets(FULL), resources=resources, instance=instance).success
    second = json.loads((out / "curated_collection.json").read_text())
    after = _leaves(second)
    assert set(after) == set(leaves)  # same inputs: 100% of the leaf ids kept
    assert {k: v["title"] for k, v in after.items() if k != keep} == {
        k: v["title"] for k, v in leaves.items() if k != keep}
    assert after[keep]["title"] == "My Warm-up" and pinned in [str(t) for t in after[keep]["track_ids"]]
    changes = json.loads((out / "changes.json").read_text())
    assert changes["renamed"] == [{"id": keep, "from": leaves[keep]["title"], "to": "My Warm-up"}]
    assert [(m["track_id"] if isinstance(m["track_id"], str) else str(m["track_id"]), m["from"], m["to"])
            for m in changes["moved"]] == [(pinned, donor, keep)]
    event = instance.get_latest_materialization_event(FULL.key("collection_tree")).asset_materialization
    assert event.metadata["overrides_stale"].value == ["exclude track 999999999: not in this build"]


def test_a_locked_leaf_survives_a_rebuild_that_splits_it(tmp_path):
    """The second build's bounds split the largest leaf; locked, it comes back whole with its title."""
    from collection_tree.assets.parameters import run_config_from_file
    from collection_tree.demo import write_demo_collection

    folder = tmp_path / "demo"
    write_demo_collection(folder, 1000, 7)
    out = tmp_path / "out"
    instance = DagsterInstance.ephemeral()
    resources = collection_resources(out, folder, llm_cache="off")
    assert materialize(build_assets(FULL), resources=resources, instance=instance).success
    first = _leaves(json.loads((out / "curated_collection.json").read_text()))
    largest = max(first, key=lambda key: (len(first[key]["track_ids"]), key))
    size = len(first[largest]["track_ids"])
    (out / "overrides.json").write_text(json.dumps({"lock_leaves": [largest]}))
    tighter = run_config_from_file({"refined_clusters": {"max_leaf_tracks": size // 2 + 1,
                                                         "min_leaf_tracks": 2}}, "run.yaml")
    assert materialize(build_assets(FULL), resources=resources, instance=instance, run_config=tighter).success
    second = _leaves(json.loads((out / "curated_collection.json").read_text()))
    assert sorted(second[largest]["track_ids"]) == sorted(first[largest]["track_ids"])
    assert second[largest]["title"] == first[largest]["title"]
    assert max(len(leaf["track_ids"]) for key, leaf in second.items() if key != largest) <= size // 2 + 1
    event = instance.get_latest_materialization_event(FULL.key("collection_tree")).asset_materialization
    line = next(line for line in event.metadata["overrides_applied"].value if line.startswith(f"lock leaf {largest}: "))
    assert int(line.split(": ")[1].split(" ")[0]) >= size // 2 - 1  # the split half came back
