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
