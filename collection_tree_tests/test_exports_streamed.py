"""The XML and HTML exports stream to disk: the same bytes as the in-memory document, and an error
while serialising surfaces as itself with the previous file kept (``ET.tostring`` turned a
MemoryError in its writer into "I/O operation on closed file", the 1M-track build's export failure;
the documents are now written as text, and the same holds for their lines)."""

import pytest

from collection_tree.exports.html_browser import render_collection_html, write_collection_html
from collection_tree.exports.paths import atomic_write_xml
from collection_tree.exports.rekordbox import build_rekordbox_xml, write_rekordbox_xml
from collection_tree.exports.traktor import build_traktor_nml, write_traktor_nml


def test_streamed_exports_are_the_in_memory_documents(export_fixture, tmp_path):
    tree, tracks = export_fixture.tree, export_fixture.tracks
    write_traktor_nml(tree, tracks, tmp_path / "collection.nml", music_root="/srv/music")
    write_rekordbox_xml(tree, tracks, tmp_path / "rekordbox.xml", music_root="/srv/music")
    write_collection_html(tree, tracks, {}, [], tmp_path / "collection.html")
    assert (tmp_path / "collection.nml").read_bytes() == build_traktor_nml(tree, tracks, "/srv/music")[0]
    assert (tmp_path / "rekordbox.xml").read_bytes() == build_rekordbox_xml(tree, tracks, "/srv/music")[0]
    assert (tmp_path / "collection.html").read_text(encoding="utf-8") == render_collection_html(tree, tracks, {}, [])
    assert b"<ENTRY" in (tmp_path / "collection.nml").read_bytes()


def test_an_error_mid_document_surfaces_as_itself_and_keeps_the_previous_file(tmp_path):
    target = tmp_path / "collection.nml"
    target.write_bytes(b"previous")

    def lines():
        yield "<NML>\n"
        for i in range(50):
            if i > 20:
                raise MemoryError("no room for the rest of the document")
            yield f'  <ENTRY TITLE="t{i}" />\n'

    with pytest.raises(MemoryError, match="no room"):
        atomic_write_xml(target, "<?xml?>", lines())
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["collection.nml"]  # no temporary file left


def test_the_collection_written_a_run_of_tracks_at_a_time_is_the_whole_one(export_fixture, monkeypatch):
    """Rekordbox's and Traktor's COLLECTION are made a run of tracks at a time (bounded memory at 1M
    tracks): runs of two tracks give the document one run of all of them gives."""
    from collection_tree.exports import paths

    tree, tracks = export_fixture.tree, export_fixture.tracks
    whole = (build_traktor_nml(tree, tracks, "/srv/music")[0], build_rekordbox_xml(tree, tracks, "/srv/music")[0])
    monkeypatch.setattr(paths, "COLLECTION_RUN", 2)
    runs = (build_traktor_nml(tree, tracks, "/srv/music")[0], build_rekordbox_xml(tree, tracks, "/srv/music")[0])
    assert runs == whole
    assert whole[0].count(b"<ENTRY TITLE=") == 7 and whole[1].count(b"<TRACK TrackID=") == 7


def test_joined_runs_join_to_the_lines():
    from collection_tree.exports.paths import joined_runs

    lines = [f"<L{i} />\n" for i in range(10)]
    for run in (1, 3, 10, 11):
        pieces = list(joined_runs(lines, run))
        assert "".join(pieces) == "".join(lines)
        assert len(pieces) == -(-len(lines) // run)
    assert list(joined_runs([], 4)) == []
