"""M3U8 exports: byte-level format, path handling, safe and unique names, the folder swap, the
one-node CLI export and its refusals."""

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import XSS, write_tree

from collection_tree.cli import main
from collection_tree.exports import ExportError, play_order, track_index
from collection_tree.exports.m3u import m3u8_text, playlist_layout, write_leaf_playlists
from collection_tree.exports.paths import InsideFolder, resolve_inside, safe_name, track_path, unique_names

ROCK = "playlists/Rock scriptalert(1)-script"
RAP = "playlists/Rap-Hip-Hop- 'Heavy'"


def lines_of(path: Path) -> list[str]:
    data = path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf"), "no BOM"
    assert b"\r" not in data, "LF line endings only"
    assert data.endswith(b"\n")
    return data.decode("utf-8").split("\n")[:-1]


def test_layout_names_are_safe_and_unique(export_fixture):
    assert playlist_layout(export_fixture.tree) == {
        "rock__usa": f"{ROCK}/scriptalert(1)-script.m3u8",
        "pop__dotdot": f"{ROCK}/-.-etc-passwd.m3u8",
        "rap__con": f"{RAP}/_CON.m3u8",
        "rap__con2": f"{RAP}/_con (2).m3u8",  # "con" equals "CON" on case-insensitive filesystems
    }


def test_leaf_playlists_byte_level(export_fixture, tmp_path):
    out = tmp_path / "out"
    report = write_leaf_playlists(export_fixture.tree, export_fixture.tracks, out)
    rock = lines_of(out / ROCK / "scriptalert(1)-script.m3u8")
    assert rock == [
        "#EXTM3U",
        f"#PLAYLIST:{XSS}",
        "#EXTINF:180,Artist 3 - Third",  # the leaf's play order (its "order"), not track_ids
        "./#1 Hits/track.mp3",  # a path starting with '#' cannot read as a directive
        f"#EXTINF:201,Q \"quoted\" & 'single' - {XSS}",  # 201.4 s rounded
        "Music/Q/x.mp3",
        "#EXTINF:-1,#hash - Line Break",  # no duration: -1; CR/LF in the title gone
        "C:/Music/a b.mp3",  # Windows separators converted, drive path kept absolute
    ]
    pop = lines_of(out / ROCK / "-.-etc-passwd.m3u8")
    assert pop == ["#EXTM3U", "#PLAYLIST:../../etc/passwd", "#EXTINF:305,Björk - Jóga", "/abs/Björk/Jóga & co #1?.mp3"]
    assert len(report.files) == 4 and all(f.exists() for f in report.files)
    assert (report.tracks_written, report.missing_location, report.relative_paths) == (7, 1, 5)
    # Nothing but the playlists folder was created, and nothing escaped it.
    assert sorted(p.name for p in out.iterdir()) == ["playlists"]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.m3u8")) == sorted(
        playlist_layout(export_fixture.tree).values())


def test_music_root_anchors_relative_locations(export_fixture, tmp_path):
    out = tmp_path / "out"
    report = write_leaf_playlists(export_fixture.tree, export_fixture.tracks, out, music_root="D:\\Library\\")
    paths = [line for line in lines_of(out / ROCK / "scriptalert(1)-script.m3u8") if not line.startswith("#")]
    assert paths == ["D:/Library/#1 Hits/track.mp3", "D:/Library/Music/Q/x.mp3", "C:/Music/a b.mp3"]
    assert report.relative_paths == 0


@pytest.mark.parametrize(("location", "root", "expected"), [
    ("Music/A/b.mp3", "/srv/music", "/srv/music/Music/A/b.mp3"),
    ("./Music/b.mp3", "/srv/music/", "/srv/music/Music/b.mp3"),
    ("Music\\A\\b.mp3", None, "Music/A/b.mp3"),
    ("/abs/b.mp3", "/srv/music", "/abs/b.mp3"),
    ("C:\\Music\\a b.mp3", "/srv/music", "C:/Music/a b.mp3"),
    ("file://localhost/C:/Music/a%20b.mp3", None, "C:/Music/a b.mp3"),
    ("file:///home/u/a%23b.mp3", "/srv", "/home/u/a#b.mp3"),
    ("", "/srv", None),
    (None, "/srv", None),
    (float("nan"), "/srv", None),
])
def test_track_path(location, root, expected):
    assert track_path(location, root) == expected


def test_titles_cannot_inject_lines():
    text = m3u8_text("Evil\n#EXTM3U\r\nC:/x.mp3", [(-1, "a", "#not-a-directive.mp3")])
    assert text.split("\n") == ["#EXTM3U", "#PLAYLIST:Evil #EXTM3U C:/x.mp3", "#EXTINF:-1,a",
                                "./#not-a-directive.mp3", ""]


@pytest.mark.parametrize(("title", "expected"), [
    ("../../etc/passwd", "-.-etc-passwd"),
    ("..", "untitled"),
    ("a/b\\c", "a-b-c"),
    ("x\x00y\r\nz\x1b[31m", "x y z [31m"),
    ("  .hidden. ", "hidden"),
    ("NUL", "_NUL"),
    ("com1.txt", "_com1.txt"),
    ("evil\u202egnp.m3u8", "evilgnp.m3u8"),  # a bidi override could disguise the name
    ("One\u200b-\u200bWinged", "One\u200b-\u200bWinged"),  # zero-width spaces are real characters
])
def test_safe_name(title, expected):
    assert safe_name(title) == expected


def test_safe_name_limits_bytes_without_splitting_characters():
    name = safe_name("é" * 300)
    assert len(name.encode("utf-8")) <= 120 and set(name) == {"é"}
    assert unique_names([name, name], suffix=".m3u8")[1].endswith(" (2).m3u8")
    assert len(unique_names([name, name], suffix=".m3u8")[1].encode()) <= 120 + len(".m3u8")


def test_resolve_inside_refuses_escapes(tmp_path):
    base = tmp_path / "out"
    base.mkdir()
    assert resolve_inside(base, "a/b") == (base / "a" / "b").resolve()
    for bad in ("..", "../x", "a/../../x", str(tmp_path / "elsewhere"), "/etc"):
        with pytest.raises(ExportError, match="outside the output folder"):
            resolve_inside(base, bad)
    (base / "link").symlink_to(tmp_path, target_is_directory=True)  # a symlink out is refused too
    with pytest.raises(ExportError):
        resolve_inside(base, "link/x")


def test_inside_folder_resolves_as_resolve_inside(tmp_path):
    """The per-folder resolver (folders resolved once) gives resolve_inside's paths and refusals."""
    base = tmp_path / "out"
    (base / "a").mkdir(parents=True)
    (base / "link").symlink_to(tmp_path, target_is_directory=True)
    (base / "a" / "file-link").symlink_to(tmp_path / "elsewhere")
    inside = InsideFolder(base)
    for good in ("x.m3u8", "a/b.m3u8", "a/b.m3u8", "new/c/d.m3u8", "a/./b", "a/c/../b"):
        assert inside(good) == resolve_inside(base, good)
    for bad in ("..", "../x", "a/../../x", "/etc", "link/x", "a/file-link"):
        with pytest.raises(ExportError, match="outside the output folder"):
            inside(bad)


def test_rewrite_drops_stale_playlists_and_leaves_no_temp_files(export_fixture, tmp_path):
    out = tmp_path / "out"
    write_leaf_playlists(export_fixture.tree, export_fixture.tracks, out)
    export_fixture.tree["categories"] = export_fixture.tree["categories"][1:]
    write_leaf_playlists(export_fixture.tree, export_fixture.tracks, out)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        f"{RAP}/_CON.m3u8", f"{RAP}/_con (2).m3u8"]
    assert sorted(p.name for p in out.iterdir()) == ["playlists"]


def test_failed_write_keeps_previous_playlists(export_fixture, tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_leaf_playlists(export_fixture.tree, export_fixture.tracks, out)
    before = {p: p.read_bytes() for p in out.rglob("*.m3u8")}

    def disk_full(path, data):
        raise OSError("disk full")

    monkeypatch.setattr("collection_tree.exports.paths.write_unpublished", disk_full)
    with pytest.raises(OSError, match="disk full"):
        write_leaf_playlists(export_fixture.tree, export_fixture.tracks, out)
    monkeypatch.undo()
    assert {p: p.read_bytes() for p in out.rglob("*.m3u8")} == before
    assert sorted(p.name for p in out.iterdir()) == ["playlists"]


def test_play_order_follows_the_leaf_order_and_keeps_every_track(export_fixture):
    index = track_index(export_fixture.tracks)
    assert play_order({"track_ids": [6, 7, 8], "order": [8, 6, 7]}, index) == [8, 6, 7]
    # Tracks the order misses follow it; ids outside the leaf or unknown to the tracks table never appear.
    assert play_order({"track_ids": [6, 7, 8], "order": [8, 3, 8]}, index) == [8, 6, 7]
    assert play_order({"track_ids": [6, 7, 999]}, index) == [6, 7]
    assert play_order({"track_ids": [6, 7, 999]}) == [6, 7, 999]


# --------------------------------------------------------------------------------------------- CLI
@pytest.fixture
def cli_env(export_fixture, tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_tree(out, export_fixture.tree)
    monkeypatch.setenv("COLLECTION_TREE_OUTPUT", str(out))
    monkeypatch.delenv("COLLECTION_TREE_STORE", raising=False)
    monkeypatch.delenv("COLLECTION_TREE_MUSIC_ROOT", raising=False)
    return out


def test_cli_exports_a_leaf(cli_env, export_fixture, capsys):
    code = main(["export-m3u", "rock__usa", "--tracks", str(export_fixture.tracks_csv), "--music-root", "/m"])
    assert code == 0
    target = cli_env / "exports" / "scriptalert(1)-script.m3u8"
    assert lines_of(target)[2:4] == ["#EXTINF:180,Artist 3 - Third", "/m/#1 Hits/track.mp3"]
    assert str(target) in capsys.readouterr().out


def test_cli_exports_a_category_as_one_playlist_from_the_stored_tracks(cli_env, export_fixture, monkeypatch):
    store = cli_env / "store"
    store.mkdir()
    pq.write_table(pa.Table.from_pandas(export_fixture.tracks, preserve_index=False), store / "tracks.parquet")
    # The build's tracks file (COLLECTION_TREE_TRACKS) anchors relative locations, as for the build's playlists.
    monkeypatch.setenv("COLLECTION_TREE_TRACKS", str(export_fixture.tracks_csv))
    assert main(["export-m3u", "rap", "--out", "mine/rap"]) == 0
    lines = lines_of(cli_env / "mine" / "rap" / "Rap-Hip-Hop- 'Heavy'.m3u8")
    assert lines[1] == "#PLAYLIST:Rap/Hip-Hop: \"Heavy\""
    folder = export_fixture.tracks_csv.parent
    assert [x for x in lines if not x.startswith("#")] == [f"{folder}/Music/{n}.mp3" for n in (6, 7, 8)]


def test_cli_exports_a_node_by_title_and_refuses_an_ambiguous_title(cli_env, export_fixture, capsys):
    assert main(["export-m3u", "  rap/hip-hop:  \"HEAVY\"", "--tracks", str(export_fixture.tracks_csv)]) == 0
    assert (cli_env / "exports" / "Rap-Hip-Hop- 'Heavy'.m3u8").exists()
    assert main(["export-m3u", "../../etc/passwd", "--tracks", str(export_fixture.tracks_csv)]) == 0  # a leaf title
    assert lines_of(cli_env / "exports" / "-.-etc-passwd.m3u8")[1] == "#PLAYLIST:../../etc/passwd"
    export_fixture.tree["categories"][1]["leaves"][1]["title"] = "CON"
    write_tree(cli_env, export_fixture.tree)
    capsys.readouterr()
    assert main(["export-m3u", "con", "--tracks", str(export_fixture.tracks_csv)]) == 2
    assert "'con' is the title of 2 nodes ('rap__con', 'rap__con2')" in capsys.readouterr().err


@pytest.mark.parametrize("out", ["..", "../elsewhere", "a/../../x", "/tmp"])
def test_cli_refuses_out_paths_outside_the_output_folder(cli_env, export_fixture, tmp_path, capsys, out):
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    code = main(["export-m3u", "rap", "--out", out, "--tracks", str(export_fixture.tracks_csv)])
    assert code == 2
    assert "outside the output folder" in capsys.readouterr().err
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_cli_refuses_unknown_ids_and_missing_trees(cli_env, export_fixture, tmp_path, capsys, monkeypatch):
    assert main(["export-m3u", "../../etc", "--tracks", str(export_fixture.tracks_csv)]) == 2
    assert "unknown node '../../etc'" in capsys.readouterr().err
    assert not (cli_env / "exports").exists()
    monkeypatch.setenv("COLLECTION_TREE_OUTPUT", str(tmp_path / "empty"))
    assert main(["export-m3u", "rap", "--tracks", str(export_fixture.tracks_csv)]) == 2
    assert "build it first" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "empty")


def test_real_file_names_kept_and_line_breaking_paths_left_out(export_fixture, tmp_path):
    tracks = export_fixture.tracks.copy()
    zwsp = "Music/Nobuo Uematsu/One\u200b-\u200bWinged Angel.mp3"  # as in the Genius collection
    tracks.loc[tracks["track_id"] == 6, ["title", "location"]] = ["One\u200b-\u200bWinged Angel", zwsp]
    tracks.loc[tracks["track_id"] == 7, "location"] = "Music/evil\n#EXTINF:1,x\n/etc/passwd"
    report = write_leaf_playlists(export_fixture.tree, tracks, tmp_path / "out")
    assert lines_of(tmp_path / "out" / RAP / "_CON.m3u8") == [
        "#EXTM3U", "#PLAYLIST:CON", "#EXTINF:100,Artist 6 - One\u200b-\u200bWinged Angel", zwsp]
    assert report.unrepresentable == 1


def test_strip_control_matches_the_unicode_categories_on_every_code_point():
    """The compiled class replaces exactly the characters of the breaking categories (and U+FFFE/FFFF)."""
    import unicodedata

    from collection_tree.exports.paths import _BREAKING, strip_control

    every = "".join(chr(c) for c in range(0x110000))
    expected = "".join("?" if unicodedata.category(ch) in _BREAKING or ch in "\ufffe\uffff" else ch for ch in every)
    assert strip_control(every, "?") == expected
    assert strip_control("a\r\nb\u2028c", "\\1") == "a\\1\\1b\\1c"  # the replacement is taken literally
    assert strip_control("plain title") == "plain title"


def test_display_text_and_has_control_drop_every_bidi_control():
    from collection_tree.exports.paths import _BIDI, display_text, has_control

    for ch in sorted(_BIDI):
        assert display_text(f"evil{ch}gnp  .mp3\n") == "evilgnp .mp3"
        assert has_control(f"a{ch}b") and safe_name(f"a{ch}b") == "ab"
    assert has_control("a\rb") and not has_control("plain \u200b zero-width")


def test_display_text_fast_path_knows_every_character_it_changes():
    """The one-pass check (``_UNCLEAN``, or ``isprintable`` for ASCII) lets through exactly the text the
    full cleaning leaves alone: every whitespace but a space, every breaking and bidi character is caught."""
    from collection_tree.exports.paths import _BIDI, _BREAKING_CHARS, _UNCLEAN, display_text

    for code in range(0x110000):
        ch = chr(code)
        changes = (ch.isspace() and ch != " ") or _BREAKING_CHARS.match(ch) is not None or ch in _BIDI
        assert (_UNCLEAN.match(ch) is not None) == changes, hex(code)
        if ch.isascii():
            assert ch.isprintable() == (not changes), hex(code)
        assert display_text(f"a{ch}b") == _cleaned_the_long_way(f"a{ch}b")
    for text in (" lead", "trail ", "two  spaces", "", "é  x", " é", "é ", "plain é title"):
        assert display_text(text) == " ".join(text.split())


def _cleaned_the_long_way(text):
    from collection_tree.exports.paths import _BIDI, _BREAKING_CHARS

    return " ".join("".join(ch for ch in _BREAKING_CHARS.sub(" ", text) if ch not in _BIDI).split())


def test_track_index_holds_the_records_to_dict_gives(export_fixture):
    """Same keys, values and Python types as ``DataFrame.to_dict("records")`` (missing values included)."""
    import pandas as pd

    tracks = export_fixture.tracks
    n = len(tracks)
    tracks = tracks.assign(energy=pd.array([0.5, None] * (n // 2), dtype="Float64"),
                           explicit=pd.array([True, None] * (n // 2), dtype="boolean"))
    expected = {int(row["track_id"]): row for row in tracks.to_dict("records")}
    index = track_index(tracks)
    assert list(index) == list(expected)
    for track_id, row in expected.items():
        assert list(index[track_id]) == list(row)
        for column, value in row.items():
            got = index[track_id][column]
            assert type(got) is type(value) and (got == value or repr(got) == repr(value)), (track_id, column)
