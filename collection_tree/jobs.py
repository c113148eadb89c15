"""Jobs: the full build and the test run (top 20 seeds, no phase 7, its own storage)."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from collection_tree.assets.modes import FULL, TEST

BUILD_TAG = "collection_tree/build"

collection_tree_job = define_asset_job(
    "collection_tree_build",
    selection=AssetSelection.groups(FULL.group),
    description="Full collection-tree build: inputs, phases 1-7, the tree JSON and its exports.",
    tags={BUILD_TAG: "full"},
)

collection_tree_test_job = define_asset_job(
    "collection_tree_test",
    selection=AssetSelection.groups(TEST.group),
    description='The reference\'s "Test Run (20 clusters)": top 20 seeds, only their tracks, no phase 7. '
                "Its outputs and history live under test_run/ and never touch the full build.",
    tags={BUILD_TAG: "test"},
)

# The tree asset updates its previous materialisation (run config ``update``); the inputs are re-read
# (their data versions show what changed), the phase assets are not re-run; the exports follow the tree.
UPDATE_RUN_CONFIG = {"ops": {FULL.key("collection_tree").to_python_identifier(): {"config": {"update": True}}}}

collection_tree_update_job = define_asset_job(
    "collection_tree_update",
    selection=(AssetSelection.assets(*(FULL.key(name) for name in ("tracks", "genre_tree", "scene_tree")))
               | AssetSelection.assets(FULL.key("collection_tree")).downstream()),
    config=UPDATE_RUN_CONFIG,
    description="Incremental update (collection-tree update): new tracks placed into the previous build's leaves, "
                "new genre x scene pairs as new leaves, changed leaves re-described; then the exports.",
    tags={BUILD_TAG: "update"},
)
