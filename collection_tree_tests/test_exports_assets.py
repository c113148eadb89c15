"""The export assets: each materialises alone from the stored tree and tracks (no upstream run),
writes its files under the mode's output folder and reports them in metadata; the test run writes
beside the full build. Plus the `ungrouped` command."""

import json
import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import GENIUS_DIR, genius_like_tree, write_tree
from dagster import AssetKey, AssetSpec, DagsterInstance, materialize
from helpers import collection_resources
from pyrekordbox.rbxml import RekordboxXml

from collection_tree.assets.exports import build_export_assets
from collection_tree.assets.inputs import build_input_assets
from collection_tree.assets.modes import FULL, TEST
from collection_tree.assets.pipeline import build_assets
from collection_tree.cli import main
from collection_tree.core.inputs import load_tree
from collection_tree.exports.m3u import playlist_layout
from collection_tree.settings import Places

EXPORTS = ("m3u_playlists", "rekordbox_xml", "traktor_nml", "serato_crates", "collection_html",
           "metadata_suggestions_review")


def resources(tmp, data=None, **values) -> dict:
    if data is not None:
        return collection_resources(tmp, data, **values)
    # Without a collection the inputs only say where the tracks file is (the default music root).
    lib = tmp / "lib"
    return collection_resources(tmp, tracks=str(lib / "tracks.csv"), genre_tree=str(lib / "g.json"),
                                scene_tree=str(lib / "s.json"), **values)


def store_upstream(tmp, mode, tree, tracks, unplaced=()):
    """What the upstream assets leave in the store: the tree JSON, the tracks Parquet, phase 6's ClusterSet."""
    store = tmp.joinpath("store", *mode.prefix)
    store.mkdir(parents=True, exist_ok=True)
    (store / "collection_tree.json").write_text(json.dumps(tree), encoding="utf-8")
    pq.write_table(pa.Table.from_pandas(tracks, preserve_index=False), store / "tracks.parquet")
    (store / "collection_leaves.json").write_text(json.dumps(
        {"clusters": [], "all_track_ids": [], "unplaced": list(unplaced), "report": {}}))


def run(tmp, mode, only=None, config=None, **settings):
    """Materialise the exports (or one of them) alone: upstream assets are external, read from the store."""
    assets = [a for a in build_export_assets(mode) if only is None or a.key == mode.key(only)]
    defined = {a.key for a in assets}
    upstream = [AssetSpec(mode.key(name)) for name in ("collection_tree", "tracks", "collection_leaves",
                                                       "m3u_playlists") if mode.key(name) not in defined]
    result = materialize([*assets, *upstream], selection=[a.key for a in assets], resources=resources(tmp, **settings),
                         instance=DagsterInstance.ephemeral(), run_config={"ops": config or {}})
    assert result.success
    return {e.asset_key: e.event_specific_data.materialization.metadata
            for e in result.get_asset_materialization_events()}


def test_exports_are_registered_after_the_tree():
    for mode, wanted in ((FULL, EXPORTS), (TEST, EXPORTS[:5])):
        keys = [a.key for a in build_assets(mode)]
        assert keys.index(mode.key("collection_tree")) < min(keys.index(mode.key(name)) for name in wanted)
        assert mode.key("metadata_suggestions_review") in keys if mode.enrich else True
    assert TEST.key("metadata_suggestions_review") not in {a.key for a in build_assets(TEST)}


def test_full_build_exports_from_the_store(export_fixture, tmp_path):
    # The page takes the ungrouped tracks' reasons from the tree; the phases' stored ones are not read.
    export_fixture.tree["ungrouped_reasons"] = [{"track_id": 9, "reason": "no facet matched any cluster"}]
    store_upstream(tmp_path, FULL, export_fixture.tree, export_fixture.tracks,
                   unplaced=[{"track_id": 10, "reason": "a stale phase reason"}])
    config = {name: {"config": {"music_root": "/srv/music"}} for name in ("m3u_playlists", "rekordbox_xml")}
    meta = run(tmp_path, FULL, config=config)
    assert set(meta) == {AssetKey(name) for name in EXPORTS}

    m3u = meta[AssetKey("m3u_playlists")]
    assert (m3u["playlists"].value, m3u["tracks_written"].value, m3u["relative_paths"].value) == (4, 7, 0)
    for relative in playlist_layout(export_fixture.tree).values():
        assert (tmp_path / relative).read_bytes().startswith(b"#EXTM3U\n#PLAYLIST:")

    xml = RekordboxXml(tmp_path / "rekordbox.xml")
    assert xml.num_tracks == 7 == meta[AssetKey("rekordbox_xml")]["tracks"].value
    assert meta[AssetKey("rekordbox_xml")]["path"].value == str(tmp_path / "rekordbox.xml")

    html = (tmp_path / "collection.html").read_text(encoding="utf-8")
    assert "<td>no facet matched any cluster</td>" in html and "<td>reason not recorded</td>" in html
    assert "a stale phase reason" not in html
    assert meta[AssetKey("collection_html")]["ungrouped_without_reason"].value == 1
    assert meta[AssetKey("collection_html")]["url"].value.startswith("file://")

    review = pd.read_parquet(tmp_path / "metadata_suggestions.parquet")
    assert len(review) == 5 == meta[AssetKey("metadata_suggestions_review")]["dagster/row_count"].value
    assert meta[AssetKey("metadata_suggestions_review")]["rows_scene_tags"].value == 2
    assert (tmp_path / "metadata_suggestions.csv").exists()


def test_each_export_rematerialises_alone_and_the_review_keeps_statuses(export_fixture, tmp_path):
    store_upstream(tmp_path, FULL, export_fixture.tree, export_fixture.tracks)
    run(tmp_path, FULL)
    xml_before = (tmp_path / "rekordbox.xml").stat().st_mtime_ns
    review = pd.read_parquet(tmp_path / "metadata_suggestions.parquet")
    review.loc[review["id"] == "1:era", "status"] = "applied"
    pq.write_table(pa.Table.from_pandas(review, preserve_index=False), tmp_path / "metadata_suggestions.parquet")
    (tmp_path / "collection.html").unlink()

    run(tmp_path, FULL, only="collection_html")
    assert (tmp_path / "collection.html").exists()
    assert (tmp_path / "rekordbox.xml").stat().st_mtime_ns == xml_before  # untouched
    meta = run(tmp_path, FULL, only="metadata_suggestions_review")
    again = pd.read_parquet(tmp_path / "metadata_suggestions.parquet").set_index("id")
    assert again.loc["1:era", "status"] == "applied" and again.loc["1:genre", "status"] == "pending"
    assert meta[FULL.key("metadata_suggestions_review")]["kept_review_status"].value == 1


def test_test_run_writes_beside_the_full_build(export_fixture, tmp_path):
    store_upstream(tmp_path, TEST, export_fixture.tree, export_fixture.tracks)
    meta = run(tmp_path, TEST)
    assert set(meta) == {TEST.key(name) for name in EXPORTS[:5]}
    written = ["Subcrates", "collection.html", "collection.nml", "playlists", "rekordbox.xml"]
    assert not set(written) & {p.name for p in tmp_path.iterdir()}
    records = [".Subcrates.reuse.json", ".playlists.reuse.json"]  # what the next export may keep (exports.reuse)
    assert sorted(p.name for p in (tmp_path / "test_run").iterdir()) == records + written


def test_real_collection_end_to_end(tmp_path):
    """The tracks asset on the real Genius collection, then the exports over a tree of its genre leaves."""
    tracks_asset = build_input_assets(FULL)[0]
    instance = DagsterInstance.ephemeral()
    assert materialize([tracks_asset], resources=resources(tmp_path, GENIUS_DIR), instance=instance).success
    tracks = pd.read_parquet(tmp_path / "store" / "tracks.parquet")
    from collection_tree.core.inputs import tracks_from_storage

    tree = genius_like_tree(tracks_from_storage(tracks), load_tree(GENIUS_DIR / "genre_tree.json", "genre").doc)
    store_upstream(tmp_path, FULL, tree, tracks)
    meta = run(tmp_path, FULL, music_root="/media/music")  # the setting (COLLECTION_TREE_MUSIC_ROOT)
    leaves = sum(len(c["leaves"]) for c in tree["categories"])
    assert meta[AssetKey("m3u_playlists")]["playlists"].value == leaves
    assert meta[AssetKey("m3u_playlists")]["tracks_written"].value == tree["assigned_tracks"]
    xml = RekordboxXml(tmp_path / "rekordbox.xml")
    assert xml.num_tracks == tree["assigned_tracks"]
    first = tree["categories"][0]["leaves"][0]
    raw = (tmp_path / playlist_layout(tree)[first["id"]]).read_text(encoding="utf-8").split("\n")
    assert raw[3].startswith("/media/music/Music/") and raw[3].endswith(".mp3")
    assert len(list((tmp_path / "playlists").rglob("*.m3u8"))) == leaves


# ---------------------------------------------------------------------------------------- ungrouped
def test_ungrouped_command_lists_reasons(export_fixture, tmp_path, monkeypatch, capsys):
    write_tree(tmp_path, export_fixture.tree)
    store_upstream(tmp_path, FULL, export_fixture.tree, export_fixture.tracks,
                   unplaced=[{"track_id": 10, "reason": "no facets\x1b[2J at all"}])
    monkeypatch.setenv("COLLECTION_TREE_OUTPUT", str(tmp_path))
    monkeypatch.delenv("COLLECTION_TREE_STORE", raising=False)
    assert main(["ungrouped"]) == 0  # tracks from the stored table
    assert capsys.readouterr().out.splitlines() == [
        "2 ungrouped of 10 tracks",
        "      9  Artist 9 - Nine  (reason not recorded)",
        "     10  Artist 10 - Ten  (no facets [2J at all)",  # no escape sequence reaches the terminal
    ]
    os.remove(tmp_path / "curated_collection.json")
    assert main(["ungrouped"]) == 2
    assert "build it first" in capsys.readouterr().err


@pytest.mark.parametrize("test_flag", [False, True])
def test_ungrouped_command_follows_the_mode(export_fixture, tmp_path, monkeypatch, capsys, test_flag):
    mode = TEST if test_flag else FULL
    write_tree(mode.places(Places.at(tmp_path)).output, export_fixture.tree)
    store_upstream(tmp_path, mode, export_fixture.tree, export_fixture.tracks)
    monkeypatch.setenv("COLLECTION_TREE_OUTPUT", str(tmp_path))
    assert main(["ungrouped", *(["--test"] if test_flag else [])]) == 0
    assert capsys.readouterr().out.startswith("2 ungrouped of 10 tracks")
