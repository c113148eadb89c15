"""The phase store on object storage (issue 18 part 4): with ``COLLECTION_TREE_STORE`` a URL, every
phase output goes through UPath to that file system and every reader (the exports, the HTML, the
tree) reads it back from there. fsspec's in-process ``memory://`` file system stands in for S3/GCS."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import fsspec
from dagster import DagsterInstance, materialize
from helpers import collection_resources

from collection_tree.assets.modes import FULL
from collection_tree.assets.pipeline import build_assets, build_checks
from collection_tree.demo import write_demo_collection


def test_a_full_build_keeps_its_phase_store_on_an_object_store(tmp_path):
    folder = tmp_path / "demo"
    write_demo_collection(folder, 600, 3)
    bucket = f"ct-store-{uuid.uuid4().hex[:8]}"
    out = tmp_path / "output"
    result = materialize([*build_assets(FULL), *build_checks(FULL)],
                         resources=collection_resources(out, folder, store=f"memory://{bucket}"),
                         instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success
    memory = fsspec.filesystem("memory")
    stored = {Path(p).name for p in memory.ls(f"/{bucket}", detail=False)}
    # every phase output is on the object store, and nothing fell back to a local store folder
    assert {"tracks.parquet", "seed_clusters.parquet", "assigned_clusters.json", "refined_clusters.json",
            "categories.json", "collection_leaves.json", "collection_tree.json"} <= stored
    assert not (out / "store").exists()
    with memory.open(f"/{bucket}/collection_tree.json") as handle:
        stored_tree = json.load(handle)
    written = json.loads((out / "curated_collection.json").read_text())
    leaves = sorted(leaf["id"] for c in written["categories"] for leaf in c["leaves"])
    assert sorted(leaf["id"] for c in stored_tree["categories"] for leaf in c["leaves"]) == leaves
    assert written["assigned_tracks"] + len(written["ungrouped_track_ids"]) == written["total_tracks"] == 600
    # the exports read the stored tracks and the unplaced reasons from the object store too
    materialised = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"collection_html", "rekordbox_xml", "m3u_playlists", "traktor_nml", "serato_crates"} <= materialised
    assert (out / "collection.html").stat().st_size > 0 and any((out / "playlists").rglob("*.m3u8"))
    memory.rm(f"/{bucket}", recursive=True)
