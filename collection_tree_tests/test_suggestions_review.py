"""Metadata-suggestion review and apply: the table's mapping, its files read back, and the apply
step's safety rules: never in place, a backup of a replaced curated file, rows whose value changed
are skipped and reported, applying twice changes nothing."""

import shutil

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import XSS

from collection_tree.cli import main
from collection_tree.core.inputs import load_tracks
from collection_tree.exports import ExportError
from collection_tree.exports.suggestions_review import (
    apply_suggestions,
    build_review_table,
    curated_path,
    read_review_table,
    select_rows,
    write_review_table,
)

IDS = ["1:genre", "1:scene_tags", "1:descriptors", "1:era", "2:scene_tags"]


@pytest.fixture
def review(export_fixture, tmp_path):
    out = tmp_path / "out"
    write_review_table(build_review_table(export_fixture.tree, export_fixture.tracks), out)
    return out


def files_in(folder):
    return sorted(p.name for p in folder.iterdir())


def test_review_table_maps_each_suggestion_field(export_fixture):
    table = build_review_table(export_fixture.tree, export_fixture.tracks)
    assert table["id"].tolist() == IDS
    rows = table.set_index("id")
    assert rows.loc["1:genre", ["current", "proposed"]].tolist() == ["Rock; Metal", "Rock; Metal; Nu-Metal"]
    assert rows.loc["1:scene_tags", ["current", "proposed"]].tolist() == ["", "Bay Area"]
    assert rows.loc["1:descriptors", "proposed"] == "loud; raw"
    assert rows.loc["1:era", ["current", "proposed"]].tolist() == ["early 2000s", "2001"]
    # Track 2: "rock" is already its genre and "bay area" already a tag (case-insensitive): only Oakland is new.
    assert rows.loc["2:scene_tags", ["current", "proposed"]].tolist() == ["Bay Area", "Bay Area; Oakland"]
    assert set(table["status"]) == {"pending"}
    assert rows.loc["1:genre", ["artist", "title", "leaf_id", "leaf_title"]].tolist() == [
        "Q \"quoted\" & 'single'", XSS, "rock__usa", XSS]
    assert rows.loc["2:scene_tags", "confidence"] == pytest.approx(0.72)


def test_most_confident_suggestion_wins_and_previous_status_is_kept(export_fixture):
    leaf = export_fixture.tree["categories"][0]["leaves"][0]
    leaf["metadata_suggestions"].append({"track_id": 1, "suggestions": {
        "genre_refinement": "Rap Metal", "scene_tags": [], "descriptors": [], "era_refinement": None},
        "confidence": 0.8, "reasoning": "less sure"})
    table = build_review_table(export_fixture.tree, export_fixture.tracks)
    assert table.set_index("id").loc["1:genre", "proposed"] == "Rock; Metal; Nu-Metal"
    table.loc[table["id"] == "1:era", "status"] = "applied"
    again = build_review_table(export_fixture.tree, export_fixture.tracks, previous=table)
    assert again.set_index("id")["status"].to_dict() == {**dict.fromkeys(IDS, "pending"), "1:era": "applied"}



def test_a_review_is_kept_only_where_current_and_proposed_still_match(export_fixture):
    table = build_review_table(export_fixture.tree, export_fixture.tracks)
    previous = table.copy()
    previous["status"], previous["note"] = "accepted", "checked"
    previous.loc[previous["id"] == IDS[0], "proposed"] = "something else"  # the suggestion changed since
    previous.loc[previous["id"] == IDS[1], "current"] = "an older value"  # the track changed since
    again = build_review_table(export_fixture.tree, export_fixture.tracks, previous=previous)
    kept = again.set_index("id")[["status", "note"]].apply(tuple, axis=1).to_dict()
    assert kept == {**dict.fromkeys(IDS, ("accepted", "checked")), IDS[0]: ("pending", ""), IDS[1]: ("pending", "")}

def test_review_files_read_back(review):
    assert files_in(review) == ["metadata_suggestions.csv", "metadata_suggestions.parquet"]
    exact = pd.read_parquet(review / "metadata_suggestions.parquet")
    assert exact["id"].tolist() == IDS and exact["reasoning"].iloc[0] == '=HYPERLINK("x") fits the leaf'
    raw = (review / "metadata_suggestions.csv").read_bytes()
    assert raw.startswith(b"id,track_id,artist,title,field,current,proposed,confidence,reasoning,leaf_id,")
    assert b"leaf_title,status,accepted,note\n1:genre," in raw and raw.endswith(b",pending,,\n")  # LF rows
    assert b'"Line\r\nBreak"' in raw and not raw.startswith(b"\xef\xbb\xbf")  # a CR/LF in a cell stays quoted
    shown = pd.read_csv(review / "metadata_suggestions.csv", dtype=str, keep_default_na=False)
    assert shown["reasoning"].iloc[0] == "'=HYPERLINK(\"x\") fits the leaf"  # a spreadsheet shows it as text
    assert shown["title"].tolist()[-1] == "Line\r\nBreak" and shown["status"].unique().tolist() == ["pending"]


def test_apply_writes_a_new_file_next_to_the_original(review, export_fixture):
    original = export_fixture.tracks_csv
    before = original.read_bytes()
    table = read_review_table(review)
    updated, result = apply_suggestions(table, select_rows(table, "all"), original)
    assert original.read_bytes() == before  # never in place
    assert result.output_path == original.with_name("tracks.curated.csv") and result.written
    assert result.applied == IDS and not result.skipped and result.backup_path is None
    curated = load_tracks(result.output_path).set_index("track_id")
    assert curated.loc[1, "genre"] == ["Rock", "Metal", "Nu-Metal"] and curated.loc[1, "era"] == "2001"
    assert curated.loc[1, "descriptors"] == ["loud", "raw"] and curated.loc[2, "scene_tags"] == ["Bay Area", "Oakland"]
    # Every other cell is as it was.
    plain = load_tracks(original).set_index("track_id")
    changed = {(1, "genre"), (1, "scene_tags"), (1, "descriptors"), (1, "era"), (2, "scene_tags")}
    for track_id in plain.index:
        for column in plain.columns:
            if (track_id, column) not in changed:
                assert str(curated.loc[track_id, column]) == str(plain.loc[track_id, column]), (track_id, column)
    assert set(updated["status"]) == {"applied"} and set(updated["accepted"]) == {"yes"}


def test_apply_twice_changes_nothing(review, export_fixture):
    table = read_review_table(review)
    updated, first = apply_suggestions(table, select_rows(table, "all"), export_fixture.tracks_csv)
    assert first.written
    folder = export_fixture.tracks_csv.parent
    snapshot = {name: (folder / name).read_bytes() for name in files_in(folder)}
    again, second = apply_suggestions(updated, select_rows(updated, "all"), export_fixture.tracks_csv)
    assert not second.written and second.backup_path is None and not second.skipped
    assert {name: (folder / name).read_bytes() for name in files_in(folder)} == snapshot
    assert again["status"].tolist() == updated["status"].tolist()


def test_changed_rows_are_skipped_and_a_replaced_curated_file_is_backed_up(review, export_fixture):
    original = export_fixture.tracks_csv
    table = read_review_table(review)
    updated, _ = apply_suggestions(table, select_rows(table, "1"), original)  # track 1's four rows
    first_curated = curated_path(original).read_bytes()
    # The user edits the original afterwards: track 1's era and track 2's tags change.
    text = original.read_text(encoding="utf-8").replace("early 2000s", "mid 2000s").replace(",Bay Area,", ",Oakland,")
    original.write_text(text, encoding="utf-8")
    final, result = apply_suggestions(updated, select_rows(updated, "2:scene_tags"), original)
    assert dict(result.skipped).keys() == {"1:era", "2:scene_tags"}
    assert "now 'mid 2000s'" in dict(result.skipped)["1:era"]
    assert result.applied == ["1:genre", "1:scene_tags", "1:descriptors"]  # the earlier accepts still hold
    assert result.backup_path.read_bytes() == first_curated and result.backup_path.parent == original.parent
    curated = load_tracks(result.output_path).set_index("track_id")
    assert curated.loc[1, "era"] == "mid 2000s" and curated.loc[2, "scene_tags"] == ["Oakland"]
    assert curated.loc[1, "genre"] == ["Rock", "Metal", "Nu-Metal"]
    statuses = final.set_index("id")
    assert statuses.loc["1:era", "status"] == "skipped" and "changed since the review" in statuses.loc["1:era", "note"]
    assert statuses.loc["1:genre", "status"] == "applied"


def test_never_in_place_even_when_given_the_curated_file(review, export_fixture):
    table = read_review_table(review)
    curated = curated_path(export_fixture.tracks_csv)
    shutil.copy(export_fixture.tracks_csv, curated)
    with pytest.raises(ExportError, match="curated copy"):
        apply_suggestions(table, select_rows(table, "all"), curated)


def test_parquet_tracks_keep_their_list_columns(review, export_fixture, tmp_path):
    original = tmp_path / "lib" / "tracks.parquet"
    original.parent.mkdir()
    pq.write_table(pa.Table.from_pandas(export_fixture.tracks, preserve_index=False), original)
    before = original.read_bytes()
    table = read_review_table(review)
    _, result = apply_suggestions(table, select_rows(table, "all", min_confidence=0.8), original)
    assert original.read_bytes() == before and result.output_path.name == "tracks.curated.parquet"
    back = pd.read_parquet(result.output_path).set_index("track_id")
    assert list(back.loc[1, "genre"]) == ["Rock", "Metal", "Nu-Metal"]
    assert list(back.loc[2, "scene_tags"]) == ["Bay Area"]  # 0.72 < 0.8: not selected
    assert load_tracks(result.output_path).set_index("track_id").loc[1, "scene_tags"] == ["Bay Area"]


def test_selection(review, tmp_path):
    table = read_review_table(review)
    pick = lambda **kw: table.loc[select_rows(table, **kw), "id"].tolist()  # noqa: E731
    assert pick(accept="all") == IDS
    assert pick(min_confidence=0.8) == IDS[:4]
    assert pick(accept="2:scene_tags, 1:era") == ["1:era", "2:scene_tags"]
    assert pick(accept="1", min_confidence=0.95) == []
    sheet = pd.read_csv(review / "metadata_suggestions.csv", dtype=str, keep_default_na=False)
    sheet["accepted"] = ["yes", "", "X", "no", "1"]
    sheet.to_csv(tmp_path / "mine.csv", index=False)
    assert pick(accepted_csv=tmp_path / "mine.csv") == ["1:genre", "1:descriptors", "2:scene_tags"]
    for bad in ({"accept": "3:genre"}, {"accept": "99"}, {}, {"accepted_csv": tmp_path / "nope.csv"}):
        with pytest.raises(ExportError):
            select_rows(table, **bad)


# --------------------------------------------------------------------------------------------- CLI
@pytest.fixture
def cli(review, monkeypatch):
    monkeypatch.setenv("COLLECTION_TREE_OUTPUT", str(review))
    monkeypatch.delenv("COLLECTION_TREE_TRACKS", raising=False)
    return review


def test_cli_show_prints_a_beets_style_diff(cli, capsys):
    assert main(["suggestions", "show", "--min-confidence", "0.5", "--limit", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Q \"quoted\" & 'single' - {XSS}  (track 1, leaf '{XSS}')"
    assert lines[1] == "  genre: Rock; Metal -> Rock; Metal; Nu-Metal  [1:genre, 0.90, pending]"
    assert lines[2] == "  scene_tags: (empty) -> Bay Area  [1:scene_tags, 0.90, pending]"
    assert lines[4] == "  era: early 2000s -> 2001  [1:era, 0.90, pending]"
    assert lines[5].startswith("5 suggestions for 2 tracks (1 tracks shown)")
    assert main(["suggestions", "show", "--min-confidence", "0.5"]) == 0
    assert "#hash - Line  Break  (track 2" in capsys.readouterr().out  # CR/LF cannot move the cursor


def test_cli_dry_run_changes_nothing_then_accept_and_apply_accepted_record_statuses(cli, export_fixture, capsys):
    tracks = str(export_fixture.tracks_csv)
    before = {name: (cli / name).read_bytes() for name in ("metadata_suggestions.csv", "metadata_suggestions.parquet")}
    assert main(["suggestions", "apply", "--accept", "1:genre,2", "--dry-run", "--tracks", tracks]) == 0
    assert "2 changes would be written" in capsys.readouterr().out
    assert not curated_path(export_fixture.tracks_csv).exists()
    # a dry run writes nothing at all: the review table is byte for byte the same
    assert {name: (cli / name).read_bytes() for name in before} == before
    assert main(["suggestions", "accept", "--accept", "1:genre,2"]) == 0
    assert "2 suggestions marked accepted" in capsys.readouterr().out
    statuses = pd.read_csv(cli / "metadata_suggestions.csv", dtype=str, keep_default_na=False).set_index("id")
    assert statuses["status"].to_dict() == {**dict.fromkeys(IDS, "pending"), "1:genre": "accepted",
                                            "2:scene_tags": "accepted"}
    assert main(["suggestions", "apply", "--accept", "accepted", "--tracks", tracks]) == 0
    assert "wrote " in capsys.readouterr().out
    table = read_review_table(cli).set_index("id")
    assert table.loc["1:genre", "status"] == "applied" and table.loc["1:era", "status"] == "pending"
    assert load_tracks(curated_path(export_fixture.tracks_csv)).set_index("track_id").loc[1, "era"] == "early 2000s"
    assert main(["suggestions", "apply", "--accept", "accepted", "--tracks", tracks]) == 0
    assert "no change to write" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["show", "--min-confidence", "2"], ["show", "--min-confidence", "-0.1"],
                                  ["apply", "--accept", "all", "--min-confidence", "1.5"],
                                  ["accept", "--min-confidence", "high"], ["show", "--status", "bogus"],
                                  ["show", "--status", "pending,done"]])
def test_cli_refuses_out_of_range_confidence_and_unknown_statuses(cli, args, capsys):
    before = (cli / "metadata_suggestions.csv").read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        main(["suggestions", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert ("expected a number between 0 and 1" in err) or ("expected 'all' or statuses among pending, accepted, "
                                                             "applied, skipped" in err)
    assert (cli / "metadata_suggestions.csv").read_bytes() == before


def test_cli_refusals(cli, export_fixture, capsys, monkeypatch):
    assert main(["suggestions", "apply", "--accept", "all"]) == 2
    assert "no tracks file" in capsys.readouterr().err
    monkeypatch.setenv("COLLECTION_TREE_TRACKS", str(export_fixture.tracks_csv))
    assert main(["suggestions", "apply"]) == 2
    assert "nothing selected" in capsys.readouterr().err
    assert main(["suggestions", "apply", "--accept", "7:genre"]) == 2
    assert "unknown suggestion id" in capsys.readouterr().err
    assert not curated_path(export_fixture.tracks_csv).exists()


def test_a_read_only_collection_folder_gets_no_new_file(review, export_fixture):
    folder = export_fixture.tracks_csv.parent
    before = files_in(folder)
    table = read_review_table(review)
    folder.chmod(0o555)  # locked by its owner; root could still write, so the mode itself is honoured
    try:
        with pytest.raises(ExportError, match="read-only"):
            apply_suggestions(table, select_rows(table, "all"), export_fixture.tracks_csv)
        assert files_in(folder) == before
    finally:
        folder.chmod(0o755)
