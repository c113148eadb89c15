"""Rekordbox XML: read back with pyrekordbox (a maintained reader of the format) and with a plain
XML parser for the raw attribute values."""

import xml.etree.ElementTree as ET
from urllib.parse import unquote, urlsplit

import pytest
from conftest import XSS
from pyrekordbox.rbxml import RekordboxXml

from collection_tree.exports.rekordbox import build_rekordbox_xml, location_uri, write_rekordbox_xml


@pytest.fixture
def written(export_fixture, tmp_path):
    target = tmp_path / "out" / "rekordbox.xml"
    report = write_rekordbox_xml(export_fixture.tree, export_fixture.tracks, target, music_root="/srv/music")
    return target, report


def test_document_reads_back_with_pyrekordbox(written):
    target, report = written
    xml = RekordboxXml(target)
    assert (xml.frmt_version, xml.product_name) == ("1.0.0", "collection-tree")
    # Track 5 has no location: left out of the collection and of its playlist.
    assert xml.num_tracks == 7 == report.tracks and sorted(xml.get_track_ids()) == [1, 2, 3, 4, 6, 7, 8]
    one = xml.get_track(TrackID=1)
    assert (one["Name"], one["Artist"], one["Year"], one["TotalTime"]) == (XSS, "Q \"quoted\" & 'single'", 2001, 201)
    assert (one["AverageBpm"], one["Tonality"]) == (96.0, "8A")
    four = xml.get_track(TrackID=4)
    assert (four["Name"], four["AverageBpm"], four["Tonality"]) == ("Jóga", 120.5, "3B")
    assert xml.get_track(TrackID=2)["Location"] == "C:/Music/a b.mp3"  # pyrekordbox decodes drive paths

    top = xml.get_playlist().get_playlists()
    assert [n.name for n in top] == ["Collection Tree"] and top[0].is_folder
    folders = top[0].get_playlists()
    assert [f.name for f in folders] == [f"Rock {XSS}", 'Rap/Hip-Hop: "Heavy"']
    assert all(f.is_folder for f in folders)
    rock = folders[0].get_playlists()
    assert [p.name for p in rock] == [XSS, "../../etc/passwd"]
    assert all(p.is_playlist and p.key_type == "TrackID" for p in rock)
    assert rock[0].get_tracks() == [3, 1, 2] and rock[0].entries == 3  # exemplar first
    assert rock[1].get_tracks() == [4] and rock[1].entries == 1
    assert [p.name for p in folders[1].get_playlists()] == ["CON", "con (2)"]  # sibling names unique
    assert (report.playlists, report.folders, report.missing_location) == (4, 2, 1)


def test_raw_bytes_attributes_and_locations(written):
    target, _ = written
    data = target.read_bytes()
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<DJ_PLAYLISTS Version="1.0.0">')
    assert b"<script>" not in data and b"&lt;script&gt;alert(1)&lt;/script&gt;" in data
    root = ET.fromstring(data)
    assert [child.tag for child in root] == ["PRODUCT", "COLLECTION", "PLAYLISTS"]
    tracks = {t.get("TrackID"): t.attrib for t in root.find("COLLECTION")}
    assert root.find("COLLECTION").get("Entries") == "7"
    assert tracks["1"]["Location"] == "file://localhost/srv/music/Music/Q/x.mp3"
    assert tracks["2"]["Location"] == "file://localhost/C:/Music/a%20b.mp3"
    assert tracks["3"]["Location"] == "file://localhost/srv/music/%231%20Hits/track.mp3"
    assert tracks["4"]["Location"] == "file://localhost/abs/Bj%C3%B6rk/J%C3%B3ga%20%26%20co%20%231%3F.mp3"
    assert unquote(urlsplit(tracks["4"]["Location"]).path) == "/abs/Björk/Jóga & co #1?.mp3"
    # Nothing that could overwrite the user's own tags on import.
    for attrib in tracks.values():
        assert not {"Comments", "Genre", "Rating", "Colour", "PlayCount"} & set(attrib)
    assert "TotalTime" not in tracks["2"] and "Year" in tracks["2"]
    root_node = root.find("PLAYLISTS/NODE")
    assert (root_node.get("Name"), root_node.get("Type"), root_node.get("Count")) == ("ROOT", "0", "1")
    leaf = root.find("PLAYLISTS/NODE/NODE/NODE/NODE")
    assert {k: leaf.get(k) for k in ("Type", "KeyType", "Entries")} == {"Type": "1", "KeyType": "0", "Entries": "3"}
    assert [t.get("Key") for t in leaf] == ["3", "1", "2"]


def test_relative_locations_without_a_music_root_are_left_out(export_fixture):
    data, report = build_rekordbox_xml(export_fixture.tree, export_fixture.tracks, music_root=None)
    root = ET.fromstring(data)
    assert sorted(t.get("TrackID") for t in root.find("COLLECTION")) == ["2", "4"]
    assert (report.relative_location, report.missing_location) == (5, 1)
    assert sorted(report.skipped_track_ids) == [1, 3, 5, 6, 7, 8]
    keys = [t.get("Key") for t in root.iter("TRACK") if t.get("Key")]
    assert sorted(keys) == ["2", "4"]  # no playlist names a track the collection lacks


def test_control_characters_never_make_invalid_xml(export_fixture, tmp_path):
    tracks = export_fixture.tracks.copy()
    tracks.loc[tracks["track_id"] == 6, "title"] = "bad\x01\x1b[31m\x0bname\ufffe"
    export_fixture.tree["categories"][1]["leaves"][0]["title"] = "leaf\x00\x08 name"
    target = tmp_path / "rb.xml"
    write_rekordbox_xml(export_fixture.tree, tracks, target, music_root="/m")
    xml = RekordboxXml(target)
    assert xml.get_track(TrackID=6)["Name"] == "bad [31m name"
    assert xml.get_playlist().get_playlists()[0].get_playlists()[1].get_playlists()[0].name == "leaf name"


@pytest.mark.parametrize(("path", "uri"), [
    ("/Users/me/Music/a b.mp3", "file://localhost/Users/me/Music/a%20b.mp3"),
    ("C:\\Music\\a b.mp3", "file://localhost/C:/Music/a%20b.mp3"),
    ("C:/Music/ß&é%.flac", "file://localhost/C:/Music/%C3%9F%26%C3%A9%25.flac"),
    ("Music/relative.mp3", None),
])
def test_location_uri(path, uri):
    assert location_uri(path) == uri


def test_write_is_atomic_and_replaces(export_fixture, tmp_path):
    target = tmp_path / "out" / "rekordbox.xml"
    target.parent.mkdir()
    target.write_bytes(b"old")
    write_rekordbox_xml(export_fixture.tree, export_fixture.tracks, target, music_root="/m")
    assert RekordboxXml(target).num_tracks == 7
    assert [p.name for p in target.parent.iterdir()] == ["rekordbox.xml"]  # no temporary file left
