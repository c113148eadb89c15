"""DJ exports on the small hostile fixture: Traktor NML read back with traktor-nml-utils, Serato crates
with serato-tools, Rekordbox with pyrekordbox; sections as sub-folders everywhere, the build's
provenance in the root folders, the play order, and path hygiene (the user's own path form through a
symlink, '..' locations refused, bidi and control characters kept out)."""

import copy
import os
from pathlib import Path

import pytest
from pyrekordbox.rbxml import RekordboxXml
from serato_tools.crate import Crate
from traktor_nml_utils import TraktorCollection

from collection_tree.assets.exports import ExportConfig, _music_root
from collection_tree.exports.m3u import playlist_layout, write_leaf_playlists
from collection_tree.exports.paths import OUTSIDE_ROOT, UNREPRESENTABLE, absolute_form, locate_track
from collection_tree.exports.rekordbox import write_rekordbox_xml
from collection_tree.exports.serato import crate_bytes, drive_relative, write_serato_crates
from collection_tree.exports.traktor import traktor_key_value, traktor_location, write_traktor_nml
from collection_tree.resources.settings import CollectionInputs, PipelineSettings

OFFLINE = {"provider": "offline", "models": [], "profile": "default", "version": "0.1.0", "run_id": "r1"}


def with_sections(tree: dict) -> dict:
    tree = copy.deepcopy(tree)
    tree["categories"][0]["sections"] = [{"title": "Quiet", "leaf_ids": ["rock__usa"]},
                                         {"title": "Loud%%ones", "leaf_ids": ["pop__dotdot"]}]
    tree["build"] = OFFLINE
    return tree


def nml_tree(path: Path):
    """The playlist folders of an NML as nested (name, children | [track keys]) pairs."""
    def walk(node):
        if node.type == "PLAYLIST":
            return node.name, [e.primarykey.key for e in node.playlist.entry]
        return node.name, [walk(child) for child in node.subnodes.node]

    return walk(TraktorCollection(path=path).nml.playlists.node)


def test_traktor_nml_reads_back_with_folders_sections_order_and_provenance(export_fixture, tmp_path):
    tree = with_sections(export_fixture.tree)
    report = write_traktor_nml(tree, export_fixture.tracks, tmp_path / "collection.nml", music_root="/srv/music")
    collection = TraktorCollection(path=tmp_path / "collection.nml").nml
    assert collection.collection.entries == 7 == report.tracks == len(collection.collection.entry)
    entry = next(e for e in collection.collection.entry if e.artist == "Björk")
    assert (entry.location.volume, entry.location.dir, entry.location.file) == (
        "Macintosh HD", "/:abs/:Björk/:", "Jóga & co #1?.mp3")
    assert entry.tempo.bpm == 120.5 and entry.musical_key.value_attribute == traktor_key_value("3B") == 1
    assert nml_tree(tmp_path / "collection.nml") == ("$ROOT", [("Collection Tree (offline heuristics)", [
        (f"Rock {'<script>alert(1)</script>'}", [
            ("Quiet", [("<script>alert(1)</script>", [  # the leaf's play order: 3, 1, 2
                "Macintosh HD/:srv/:music/:#1 Hits/:track.mp3", "Macintosh HD/:srv/:music/:Music/:Q/:x.mp3",
                "C:/:Music/:a b.mp3"])]),
            ("Loud%%ones", [("../../etc/passwd", ["Macintosh HD/:abs/:Björk/:Jóga & co #1?.mp3"])])]),
        ('Rap/Hip-Hop: "Heavy"', [("CON", ["Macintosh HD/:srv/:music/:Music/:6.mp3",
                                           "Macintosh HD/:srv/:music/:Music/:7.mp3"]),
                                  ("con (2)", ["Macintosh HD/:srv/:music/:Music/:8.mp3"])])])])
    assert report.missing_location == 1 and report.folders == 4


@pytest.mark.parametrize(("path", "expected"), [
    ("/Users/me/Music/a.mp3", ("Macintosh HD", "/:Users/:me/:Music/:", "a.mp3")),
    ("/Volumes/USB Stick/DJ/a.mp3", ("USB Stick", "/:DJ/:", "a.mp3")),
    ("d:/Music/x/a.mp3", ("D:", "/:Music/:x/:", "a.mp3")),
    ("/a.mp3", ("Macintosh HD", "/:", "a.mp3")),
])
def test_traktor_locations(path, expected):
    assert traktor_location(path) == expected


@pytest.mark.parametrize(("key", "value"), [("C", 0), ("G", 7), ("B", 11), ("Cm", 12), ("Am", 21), ("8A", 21),
                                            ("F#m", 18), ("nonsense", None)])
def test_traktor_key_values(key, value):
    assert traktor_key_value(key) == value


def test_serato_crates_read_back_nested_in_play_order(export_fixture, tmp_path):
    tree = with_sections(export_fixture.tree)
    report = write_serato_crates(tree, export_fixture.tracks, tmp_path, music_root="/srv/music")
    folder = tmp_path / "Subcrates"
    crates = {p.name: Crate(str(p)).tracks() for p in folder.iterdir()}
    rock = "Rock scriptalert(1)-script"
    assert crates == {
        f"{rock}.crate": [], f"{rock}%%Quiet.crate": [], f"{rock}%%Loud%ones.crate": [],
        f"{rock}%%Quiet%%scriptalert(1)-script.crate": ["srv/music/#1 Hits/track.mp3", "srv/music/Music/Q/x.mp3",
                                                        "Music/a b.mp3"],
        f"{rock}%%Loud%ones%%-.-etc-passwd.crate": ["abs/Björk/Jóga & co #1?.mp3"],
        "Rap-Hip-Hop- 'Heavy'.crate": [],
        "Rap-Hip-Hop- 'Heavy'%%_CON.crate": ["srv/music/Music/6.mp3", "srv/music/Music/7.mp3"],
        "Rap-Hip-Hop- 'Heavy'%%_con (2).crate": ["srv/music/Music/8.mp3"],
    }
    assert (report.crates, report.parent_crates, report.tracks_written) == (4, 4, 7)
    assert report.drives == {"/": 6, "C:": 1}
    # A rewrite replaces the folder: crates of leaves that are gone do not linger.
    tree["categories"] = tree["categories"][1:]
    write_serato_crates(tree, export_fixture.tracks, tmp_path, music_root="/srv/music")
    assert sorted(p.name for p in folder.iterdir()) == sorted(n for n in crates if n.startswith("Rap"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Subcrates", "collection"]


def test_serato_records_are_utf16_big_endian():
    data = crate_bytes(["Music/é.mp3"])
    assert data.startswith(b"vrsn\x00\x00\x00\x38" + "1.0/Serato ScratchLive Crate".encode("utf-16-be"))
    assert data.endswith(b"otrk\x00\x00\x00\x1eptrk\x00\x00\x00\x16" + "Music/é.mp3".encode("utf-16-be"))
    assert drive_relative("/Volumes/USB/DJ/a.mp3") == ("/Volumes/USB", "DJ/a.mp3")
    assert drive_relative("E:/DJ/a.mp3") == ("E:", "DJ/a.mp3")


def test_rekordbox_root_folder_names_the_provenance_and_sections_are_folders(export_fixture, tmp_path):
    tree = with_sections(export_fixture.tree)
    write_rekordbox_xml(tree, export_fixture.tracks, tmp_path / "rekordbox.xml", music_root="/srv/music")
    xml = RekordboxXml(tmp_path / "rekordbox.xml")
    top = xml.get_playlist("Collection Tree (offline heuristics)")
    rock = top.get_playlist("Rock <script>alert(1)</script>")
    assert [n.name for n in rock.get_playlists()] == ["Quiet", "Loud%%ones"]
    assert rock.get_playlist("Quiet").get_playlist("<script>alert(1)</script>").get_tracks() == [3, 1, 2]
    tree["build"] = {"provider": "anthropic", "models": ["claude-sonnet-5-5", "claude-haiku-5-5"]}
    write_rekordbox_xml(tree, export_fixture.tracks, tmp_path / "rekordbox.xml", music_root="/srv/music")
    assert RekordboxXml(tmp_path / "rekordbox.xml").get_playlist("Collection Tree (claude-sonnet-5-5, "
                                                                 "claude-haiku-5-5)") is not None


def test_sections_become_playlist_sub_folders(export_fixture, tmp_path):
    tree = with_sections(export_fixture.tree)
    layout = playlist_layout(tree)
    rock = "playlists/Rock scriptalert(1)-script"
    assert layout["rock__usa"] == f"{rock}/Quiet/scriptalert(1)-script.m3u8"
    assert layout["pop__dotdot"] == f"{rock}/Loud%%ones/-.-etc-passwd.m3u8"
    write_leaf_playlists(tree, export_fixture.tracks, tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.m3u8")) == sorted(
        layout.values())


# ------------------------------------------------------------------------------------- path hygiene
@pytest.mark.parametrize(("location", "problem"), [
    ("../secret.mp3", OUTSIDE_ROOT), ("Music/../../etc/passwd", OUTSIDE_ROOT), ("..", OUTSIDE_ROOT),
    ("Music/evil\u202egnp.mp3", UNREPRESENTABLE), ("Music/a\nb.mp3", UNREPRESENTABLE),
])
def test_unsafe_locations_are_refused(location, problem):
    assert locate_track(location, "/srv/music") == (None, problem)


def test_inner_dot_dots_that_stay_inside_are_cleaned():
    assert locate_track("Music/x/../a.mp3", "/srv/music") == ("/srv/music/Music/a.mp3", None)
    assert locate_track("/abs/../kept.mp3", "/srv/music") == ("/abs/../kept.mp3", None)  # the user's own path


def test_refused_and_bidi_tracks_reach_no_export(export_fixture, tmp_path):
    tracks = export_fixture.tracks.copy()
    tracks.loc[tracks["track_id"] == 6, "location"] = "../../outside.mp3"
    tracks.loc[tracks["track_id"] == 7, ["title", "location"]] = ["Se\u202even\u200f", "Music/7\u202e.mp3"]
    tracks.loc[tracks["track_id"] == 8, "title"] = "Ei\u2067ght\u2069"
    tree = copy.deepcopy(export_fixture.tree)
    tree["categories"][1]["leaves"][0]["title"] = "C\u202eON"
    m3u = write_leaf_playlists(tree, tracks, tmp_path / "out", music_root="/srv/music")
    assert (m3u.outside_music_root, m3u.unrepresentable) == (1, 1)
    rekordbox = write_rekordbox_xml(tree, tracks, tmp_path / "rekordbox.xml", music_root="/srv/music")
    traktor = write_traktor_nml(tree, tracks, tmp_path / "collection.nml", music_root="/srv/music")
    serato = write_serato_crates(tree, tracks, tmp_path, music_root="/srv/music")
    assert rekordbox.refused_location == traktor.refused_location == serato.refused_location == 2
    written = [p.read_bytes().decode("utf-8") for p in (tmp_path / "out").rglob("*.m3u8")]
    written += [(tmp_path / "rekordbox.xml").read_text(encoding="utf-8"),
                (tmp_path / "collection.nml").read_text(encoding="utf-8")]
    written += [p.name + p.read_bytes().decode("utf-16-be", errors="replace")
                for p in (tmp_path / "Subcrates").iterdir()]
    bidi = "\u202e\u2067\u2069\u200f"
    assert not [text for text in written if any(ch in text for ch in bidi)]
    assert not [text for text in written if "outside.mp3" in text]
    assert "#EXTINF:100,Artist 8 - Eight" in "".join(written)


def test_music_root_keeps_the_users_path_form_through_a_symlink(tmp_path, monkeypatch):
    real = tmp_path / "disk" / "library"
    real.mkdir(parents=True)
    (real / "tracks.csv").write_text("")
    (tmp_path / "Music").symlink_to(real, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    def inputs(music_root: str = "") -> CollectionInputs:
        return CollectionInputs(tracks_path="Music/tracks.csv", genre_tree_path="g.json", scene_tree_path="s.json",
                                pipeline_settings=PipelineSettings(music_root=music_root))

    assert _music_root(ExportConfig(), inputs()) == f"{tmp_path}/Music"  # not .../disk/library
    assert _music_root(ExportConfig(music_root="Music/../Music"), inputs()) == f"{tmp_path}/Music"
    assert _music_root(ExportConfig(), inputs(music_root="Music")) == f"{tmp_path}/Music"  # the setting
    assert absolute_form("C:\\Music") == "C:/Music" and os.path.realpath(tmp_path / "Music") == str(real)
