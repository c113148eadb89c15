"""Incremental per-leaf exports (M3U playlists, Serato crates): a file the previous export made from
the same leaf and tracks is linked, not rendered; the folder is byte for byte a whole rewrite's."""

import copy
from pathlib import Path

import pytest

from collection_tree.exports.m3u import PLAYLISTS_DIR, write_leaf_playlists
from collection_tree.exports.reuse import record_path
from collection_tree.exports.serato import SUBCRATES_DIR, write_serato_crates

WRITERS = {PLAYLISTS_DIR: write_leaf_playlists, SUBCRATES_DIR: write_serato_crates}


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def grown(fixture):
    """The fixture's tree after an update: one leaf gains a track, one is renamed, one track's artist changes."""
    tree = copy.deepcopy(fixture.tree)
    rap = tree["categories"][1]["leaves"]
    rap[0]["track_ids"].append(9)
    rap[1]["title"] = "Con, renamed"
    tracks = fixture.tracks.copy()
    tracks.loc[tracks["track_id"] == 4, "artist"] = "Björk & guests"
    return tree, tracks


@pytest.mark.parametrize("folder", sorted(WRITERS))
def test_an_incremental_export_is_byte_identical_to_a_whole_rewrite(export_fixture, tmp_path, folder):
    write, root = WRITERS[folder], "/Volumes/Music"
    first = write(export_fixture.tree, export_fixture.tracks, tmp_path / "inc", root, reuse=True)
    assert first.kept == 0 and record_path(tmp_path / "inc", folder).exists()
    tree, tracks = grown(export_fixture)
    incremental = write(tree, tracks, tmp_path / "inc", root, reuse=True)
    whole = write(tree, tracks, tmp_path / "whole", root)
    assert files(tmp_path / "inc" / folder) == files(tmp_path / "whole" / folder)
    # Both rap leaves (a track added, a new title: a new file name) are rendered again, and for a playlist
    # pop__dotdot (an artist changed); a crate names no artist, so it keeps pop__dotdot's too.
    assert incremental.kept == {PLAYLISTS_DIR: 1, SUBCRATES_DIR: 2}[folder]
    counts = ("tracks_written", "missing_location", "relative_location", "refused_location", "relative_paths",
              "unrepresentable", "outside_music_root", "drives")
    assert {c: getattr(incremental, c) for c in counts if hasattr(whole, c)} == {
        c: getattr(whole, c) for c in counts if hasattr(whole, c)}
    again = write(tree, tracks, tmp_path / "inc", root, reuse=True)
    assert again.kept == 4 and files(tmp_path / "inc" / folder) == files(tmp_path / "whole" / folder)


@pytest.mark.parametrize("folder", sorted(WRITERS))
def test_a_file_edited_since_or_another_music_root_is_rendered_again(export_fixture, tmp_path, folder):
    write, out = WRITERS[folder], tmp_path / "out"
    write(export_fixture.tree, export_fixture.tracks, out, "/m", reuse=True)
    whole = files(out / folder)
    edited = sorted(p for p in (out / folder).rglob("*") if p.is_file() and p.stat().st_size > 200)[0]
    edited.write_bytes(b"the user's own edit")
    report = write(export_fixture.tree, export_fixture.tracks, out, "/m", reuse=True)
    assert report.kept == 3 and files(out / folder) == whole
    assert write(export_fixture.tree, export_fixture.tracks, out, "/other", reuse=True).kept == 0


@pytest.mark.parametrize("folder", sorted(WRITERS))
def test_an_unreadable_record_keeps_nothing(export_fixture, tmp_path, folder):
    write, out = WRITERS[folder], tmp_path / "out"
    write(export_fixture.tree, export_fixture.tracks, out, "/m", reuse=True)
    whole = files(out / folder)
    record_path(out, folder).write_text('{"format": 1, "salt": ')
    assert write(export_fixture.tree, export_fixture.tracks, out, "/m", reuse=True).kept == 0
    assert files(out / folder) == whole


@pytest.mark.parametrize("folder", sorted(WRITERS))
def test_a_failed_incremental_export_keeps_the_previous_folder(export_fixture, tmp_path, monkeypatch, folder):
    write, out = WRITERS[folder], tmp_path / "out"
    write(export_fixture.tree, export_fixture.tracks, out, "/m", reuse=True)
    before = files(out / folder)
    tree, tracks = grown(export_fixture)

    def disk_full(path, data):
        raise OSError("disk full")

    monkeypatch.setattr("collection_tree.exports.paths.write_unpublished", disk_full)
    with pytest.raises(OSError, match="disk full"):
        write(tree, tracks, out, "/m", reuse=True)
    monkeypatch.undo()
    assert files(out / folder) == before
    assert sorted(p.name for p in out.iterdir()) == sorted([folder, record_path(out, folder).name])
    # the record still describes the published folder: its unchanged files are kept next time
    assert write(tree, tracks, out, "/m", reuse=True).kept == {PLAYLISTS_DIR: 1, SUBCRATES_DIR: 2}[folder]
