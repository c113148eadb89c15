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
