"""Input contracts: every bad input kind fails with a message naming the file, the field and what
was expected; the real collections load as they are."""

import json
from pathlib import Path

import pandas as pd
import pytest

from collection_tree.core.errors import InputError
from collection_tree.core.inputs import collect_leaves, load_config, load_tracks, load_tree, tracks_from_storage

GENIUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "genius-2000s"

HEADER = "track_id,title,artist,year,comment,genre,scene_tags,descriptors,era\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def tree_doc(tree_type: str = "genre", leaves: list[list[int]] | None = None) -> dict:
    leaves = leaves if leaves is not None else [[1, 2], [2, 3]]
    children = [
        {"id": f"leaf-{i}", "title": f"Leaf {i}", "description": "", "filters": {"genre": [f"L{i}"]},
         "track_ids": ids, "children": []}
        for i, ids in enumerate(leaves)
    ]
    root_ids = sorted({t for ids in leaves for t in ids})
    return {"id": f"{tree_type}-1", "tree_type": tree_type, "created_at": "2026-11-24T00:00:00Z",
            "lineages": [{"id": "root", "title": "Root", "description": "", "filters": {},
                          "track_ids": root_ids, "children": children}]}


def assert_names(exc: InputError, path: Path, field: str, expected_fragment: str) -> None:
    message = str(exc)
    assert str(path) in message
    assert f"field '{field}'" in message
    assert expected_fragment in message


# --------------------------------------------------------------------------------------------- tracks
def test_real_collection_loads_as_is():
    tracks = load_tracks(GENIUS / "tracks.csv")
    assert len(tracks) == 6303
    assert tracks["track_id"].is_unique
    row = tracks.iloc[0]
    assert isinstance(row["genre"], list) and row["genre"][0] == "Rock"
    assert tracks["year"].min() == 2000 and tracks["year"].max() == 2010
    assert {"location", "country"} <= set(tracks.columns)


def test_list_facets_split_and_trimmed(tmp_path):
    path = write(tmp_path, "t.csv", HEADER + '1,A,B,2001,c,"House; Deep House ;",Berlin,,early 2000s\n')
    row = load_tracks(path).iloc[0]
    assert row["genre"] == ["House", "Deep House"]
    assert row["scene_tags"] == ["Berlin"]
    assert row["descriptors"] == []


def test_empty_year_allowed(tmp_path):
    path = write(tmp_path, "t.csv", HEADER + "1,A,B,,c,House,,,\n")
    assert pd.isna(load_tracks(path).iloc[0]["year"])


def test_parquet_tracks_with_list_columns(tmp_path):
    frame = pd.DataFrame({"track_id": [1, 2], "title": ["a", "b"], "artist": ["x", "y"], "year": [2001, None],
                          "comment": ["", ""], "genre": [["House", "Deep House"], []], "scene_tags": [[], ["Berlin"]],
                          "descriptors": [[], []], "era": ["2000s", ""], "bpm": [122.0, None]})
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    tracks = load_tracks(path)
    assert tracks.iloc[0]["genre"] == ["House", "Deep House"]
    assert tracks.iloc[1]["scene_tags"] == ["Berlin"]
    assert tracks["bpm"].iloc[0] == 122.0


def test_missing_tracks_file(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(InputError) as err:
        load_tracks(path)
    assert_names(err.value, path, "path", "existing tracks file")


def test_missing_column(tmp_path):
    path = write(tmp_path, "t.csv", "track_id,title,artist,year,comment,genre,scene_tags,era\n1,a,b,2000,c,,,\n")
    with pytest.raises(InputError) as err:
        load_tracks(path)
    assert_names(err.value, path, "descriptors", "a column of that name")


def test_duplicate_track_id(tmp_path):
    path = write(tmp_path, "t.csv", HEADER + "1,a,b,2000,c,,,,\n1,d,e,2001,f,,,,\n")
    with pytest.raises(InputError) as err:
        load_tracks(path)
    assert_names(err.value, path, "track_id", "unique values")
    assert "duplicate track_id 1" in str(err.value)


def test_non_integer_track_id(tmp_path):
    path = write(tmp_path, "t.csv", HEADER + "x1,a,b,2000,c,,,,\n")
    with pytest.raises(InputError) as err:
        load_tracks(path)
    assert_names(err.value, path, "track_id", "an integer")
    assert "row 2" in str(err.value)


def test_bad_year(tmp_path):
    path = write(tmp_path, "t.csv", HEADER + "1,a,b,twenty,c,,,,\n")
    with pytest.raises(InputError) as err:
        load_tracks(path)
    assert_names(err.value, path, "year", "an integer or empty")


def test_bad_optional_numeric(tmp_path):
    path = write(tmp_path, "t.csv", HEADER.strip() + ",bpm\n1,a,b,2000,c,,,,,fast\n")
    with pytest.raises(InputError) as err:
        load_tracks(path)
    assert_names(err.value, path, "bpm", "a finite number or empty")


def test_empty_tracks_table(tmp_path):
    path = write(tmp_path, "t.csv", HEADER)
    with pytest.raises(InputError) as err:
        load_tracks(path)
    assert_names(err.value, path, "track_id", "at least one track row")


def test_wrong_extension(tmp_path):
    path = write(tmp_path, "t.xlsx", "whatever")
    with pytest.raises(InputError) as err:
        load_tracks(path)
    assert_names(err.value, path, "path", ".csv or .parquet")


def test_tracks_round_trip_through_parquet_storage(tmp_path):
    tracks = load_tracks(GENIUS / "tracks.csv").head(50)
    path = tmp_path / "stored.parquet"
    tracks.to_parquet(path, index=False)
    back = tracks_from_storage(pd.read_parquet(path))
    assert back["genre"].tolist() == tracks["genre"].tolist()
    assert all(isinstance(v, list) for v in back["scene_tags"])


def test_stored_lists_that_are_not_clean_are_cleaned_as_on_load(tmp_path):
    """Clean stored lists are taken as they are; any other (padding, blanks, repeats, nulls, a string)
    is cleaned by ``split_facet`` exactly as the loader does."""
    from collection_tree.core.inputs import split_facet

    genre = [["Rock", "Metal"], [" Rock ", "Rock", ""], [], None, ["Pop", None, "Pop"], ["a\u2028"]]
    path = tmp_path / "dirty.parquet"
    pd.DataFrame({"track_id": range(len(genre)), "genre": genre}).to_parquet(path, index=False)
    back = tracks_from_storage(pd.read_parquet(path))
    assert back["genre"].tolist() == [split_facet(v) for v in genre]
    assert back["genre"].tolist() == [["Rock", "Metal"], ["Rock"], [], [], ["Pop"], ["a"]]
    clean = [["Rock", "Metal"], ["Pop", "Pop"], None, [], ["Jazz"]]  # stripped, no blanks: a repeat, a null
    pd.DataFrame({"track_id": range(len(clean)), "genre": clean}).to_parquet(path, index=False)
    back = tracks_from_storage(pd.read_parquet(path))
    assert back["genre"].tolist() == [["Rock", "Metal"], ["Pop"], [], [], ["Jazz"]]


# ---------------------------------------------------------------------------------------------- trees
def test_real_trees_load_with_no_dropped_ids():
    known = set(load_tracks(GENIUS / "tracks.csv")["track_id"].tolist())
    genre = load_tree(GENIUS / "genre_tree.json", "genre", known)
    scene = load_tree(GENIUS / "scene_tree.json", "scene", known)
    assert genre.dropped_unknown_ids == 0 and scene.dropped_unknown_ids == 0
    assert len(collect_leaves(genre.doc)) == 255
    assert len(collect_leaves(scene.doc)) == 184
    assert genre.id == "genre-bea9a5cf" and scene.created_at == "2026-11-24T00:00:00Z"


def test_unknown_track_ids_dropped_and_counted(tmp_path):
    path = write(tmp_path, "g.json", json.dumps(tree_doc(leaves=[[1, 2, 99], [2, 3, 98]])))
    tree = load_tree(path, "genre", known_track_ids={1, 2, 3})
    assert tree.dropped_unknown_ids == 4  # 99 and 98 in the leaves, and both again in the root
    assert [leaf["track_ids"] for leaf in collect_leaves(tree.doc)] == [[1, 2], [2, 3]]
    assert any("unknown track id" in w for w in tree.warnings)


def test_wrong_tree_type(tmp_path):
    path = write(tmp_path, "g.json", json.dumps(tree_doc("scene")))
    with pytest.raises(InputError) as err:
        load_tree(path, "genre")
    assert_names(err.value, path, "tree_type", "'genre'")
    assert "'scene'" in str(err.value)


def test_malformed_json(tmp_path):
    path = write(tmp_path, "g.json", '{"id": "x", "tree_type": ')
    with pytest.raises(InputError) as err:
        load_tree(path, "genre")
    assert_names(err.value, path, "(document)", "valid JSON")
    assert "line 1" in str(err.value)


def test_empty_tree(tmp_path):
    doc = tree_doc()
    doc["lineages"] = []
    path = write(tmp_path, "g.json", json.dumps(doc))
    with pytest.raises(InputError) as err:
        load_tree(path, "genre")
    assert_names(err.value, path, "lineages", "at least one lineage")


def test_tree_whose_leaves_name_only_unknown_tracks_is_empty(tmp_path):
    path = write(tmp_path, "g.json", json.dumps(tree_doc(leaves=[[50], [51]])))
    with pytest.raises(InputError) as err:
        load_tree(path, "genre", known_track_ids={1, 2})
    assert_names(err.value, path, "lineages", "at least one leaf with known tracks")


def test_missing_tree_file(tmp_path):
    path = tmp_path / "scene.json"
    with pytest.raises(InputError) as err:
        load_tree(path, "scene")
    assert_names(err.value, path, "path", "existing scene tree JSON file")


@pytest.mark.parametrize("bad", ["two", True, 2.0, None])
def test_node_with_bad_track_ids(tmp_path, bad):
    doc = tree_doc()
    doc["lineages"][0]["children"][1]["track_ids"] = [1, bad]
    path = write(tmp_path, "g.json", json.dumps(doc))
    with pytest.raises(InputError) as err:
        load_tree(path, "genre")
    assert_names(err.value, path, "lineages[0][id=root].children[1][id=leaf-1].track_ids",
                 "a list of integer track ids")


def test_duplicate_node_id(tmp_path):
    doc = tree_doc()
    doc["lineages"][0]["children"][1]["id"] = "leaf-0"
    path = write(tmp_path, "g.json", json.dumps(doc))
    with pytest.raises(InputError) as err:
        load_tree(path, "genre")
    assert "ids unique within the tree" in str(err.value)


def test_missing_created_at(tmp_path):
    doc = tree_doc()
    del doc["created_at"]
    path = write(tmp_path, "g.json", json.dumps(doc))
    with pytest.raises(InputError) as err:
        load_tree(path, "genre")
    assert_names(err.value, path, "created_at", "a non-empty string")


# --------------------------------------------------------------------------------------------- config
def test_config_overrides(tmp_path):
    path = write(tmp_path, "config.json", json.dumps({"creative_model": "claude-opus-5-5"}))
    assert load_config(path)["creative_model"] == "claude-opus-5-5"
    assert load_config(None) == {}


@pytest.mark.parametrize("key", ["creativ_model", "other", "models"])
def test_config_unknown_key_is_an_error_listing_the_valid_keys(tmp_path, key):
    path = write(tmp_path, "config.json", json.dumps({"creative_model": "claude-opus-5-5", key: "x"}))
    with pytest.raises(InputError) as err:
        load_config(path)
    assert_names(err.value, path, key, "one of the keys creative_model, mechanical_model")


def test_config_bad_model_value(tmp_path):
    path = write(tmp_path, "config.json", json.dumps({"mechanical_model": 3}))
    with pytest.raises(InputError) as err:
        load_config(path)
    assert_names(err.value, path, "mechanical_model", "a non-empty model name string")


def test_config_malformed(tmp_path):
    path = write(tmp_path, "config.json", "{nope")
    with pytest.raises(InputError) as err:
        load_config(path)
    assert_names(err.value, path, "(document)", "valid JSON")


# ------------------------------------------------- values that used to be stored corrupted or fail unnamed
def test_a_track_id_too_large_is_refused_not_wrapped_around(tmp_path):
    path = write(tmp_path, "t.csv", HEADER + "1,a,b,2000,c,,,,\n99999999999999999999,d,e,2001,f,,,,\n")
    with pytest.raises(InputError) as err:
        load_tracks(path)
    assert_names(err.value, path, "track_id", "an integer between -9007199254740991 and 9007199254740991")
    assert "row 3: '99999999999999999999'" in str(err.value)


def test_a_parquet_datetime_year_is_refused(tmp_path):
    frame = pd.DataFrame({"track_id": [1], "title": ["a"], "artist": ["x"],
                          "year": pd.to_datetime(["2001-01-01"]), "comment": [""], "genre": [["House"]],
                          "scene_tags": [[]], "descriptors": [[]], "era": [""]})
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    with pytest.raises(InputError) as err:
        load_tracks(path)
    assert_names(err.value, path, "year", "an integer or empty between 1 and 9999")
    assert "datetime64" in str(err.value)


def test_a_year_out_of_range_is_refused(tmp_path):
    path = write(tmp_path, "t.csv", HEADER + "1,a,b,978307200000000,c,,,,\n")
    with pytest.raises(InputError) as err:
        load_tracks(path)
    assert_names(err.value, path, "year", "between 1 and 9999")


@pytest.mark.parametrize("genre", [[7, 8], [[7], [8]]], ids=["ints", "lists-of-ints"])
def test_a_parquet_genre_column_of_numbers_is_refused(tmp_path, genre):
    frame = pd.DataFrame({"track_id": [1, 2], "title": ["a", "b"], "artist": ["x", "y"], "year": [2001, 2002],
                          "comment": ["", ""], "genre": genre, "scene_tags": [[], []], "descriptors": [[], []],
                          "era": ["", ""]})
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    with pytest.raises(InputError) as err:
        load_tracks(path)
    assert_names(err.value, path, "genre", "a ';'-separated string or a list of strings in every row")
    assert "row 2" in str(err.value)


def test_an_infinite_bpm_is_refused(tmp_path):
    path = write(tmp_path, "t.csv", HEADER.strip() + ",bpm\n1,a,b,2000,c,,,,,inf\n")
    with pytest.raises(InputError) as err:
        load_tracks(path)
    assert_names(err.value, path, "bpm", "a finite number or empty")


def deep_tree(depth: int) -> dict:
    node = {"id": f"n{depth}", "title": f"N{depth}", "filters": {}, "track_ids": [1], "children": []}
    for level in range(depth - 1, 0, -1):
        node = {"id": f"n{level}", "title": f"N{level}", "filters": {}, "track_ids": [1], "children": [node]}
    return {"id": "g", "tree_type": "genre", "created_at": "2026-11-24T00:00:00Z", "lineages": [node]}


@pytest.mark.parametrize("depth", [100, 3000])
def test_a_tree_nested_too_deep_is_refused(tmp_path, depth):
    path = tmp_path / "g.json"
    # json.dumps itself recurses: write the 3,000 levels as text
    text = json.dumps(deep_tree(depth)) if depth < 500 else (
        '{"id": "g", "tree_type": "genre", "created_at": "x", "lineages": ['
        + '{"id": "n", "title": "N", "track_ids": [1], "children": [' * depth + "]}" * depth + "]}")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_tree(path, "genre")
    assert f"{path}: field '" in str(err.value) and "expected a tree at most 64 levels deep" in str(err.value)


def test_a_tree_64_levels_deep_loads(tmp_path):
    path = write(tmp_path, "g.json", json.dumps(deep_tree(64)))
    assert [leaf["id"] for leaf in collect_leaves(load_tree(path, "genre").doc)] == ["n64"]


# --------------------------------------------------------------------------------- filter contract
def test_filter_problems_are_named_by_file_and_node_and_never_silent(tmp_path):
    doc = tree_doc()
    doc["lineages"][0]["filters"] = {"genre": ["Root"], "bpm_rang": [120, 128]}  # misspelt key
    doc["lineages"][0]["children"][0]["filters"] = {"genre": "Leaf 0", "year_range": [2008, 2000]}  # reversed
    doc["lineages"][0]["children"][1]["filters"] = {"genre": ["L1"], "year_range": "2000-2005",  # a string
                                                    "bpm_range": [120, 128], "era": [{"x": 1}]}
    path = write(tmp_path, "g.json", json.dumps(doc))
    tree = load_tree(path, "genre", {1, 2, 3}, track_columns={"track_id", "genre", "year", "era"})
    root = tree.doc["lineages"][0]
    leaf0, leaf1 = root["children"]
    assert root["filters"] == {"genre": ["Root"]}
    assert leaf0["filters"] == {"genre": ["Leaf 0"], "year_range": [2000, 2008]}
    assert leaf1["filters"] == {"genre": ["L1"]}  # no bpm column in these tracks; the rest malformed
    assert tree.filter_warnings == [
        f"{path}: node 'root': filter 'bpm_rang' names no track column (known: artist, bpm_range, country, "
        "descriptors, duration_range, energy_range, era, genre, key, label, scene_tags, title, year_range); ignored",
        f"{path}: node 'leaf-0': filter 'year_range': reversed range [2008, 2000], read as [2000, 2008]",
        f"{path}: node 'leaf-1': filter 'year_range': expected [low, high] with two numbers, got '2000-2005'; "
        "ignored",
        f"{path}: node 'leaf-1': filter 'bpm_range' names no track column (known: artist, bpm_range, country, "
        "descriptors, duration_range, energy_range, era, genre, key, label, scene_tags, title, year_range); ignored",
        f"{path}: node 'leaf-1': filter 'era': expected a string or a list of strings, got [{{'x': 1}}]; ignored",
    ]


def test_the_real_trees_have_no_filter_problems():
    tracks = load_tracks(GENIUS / "tracks.csv")
    for kind in ("genre", "scene"):
        tree = load_tree(GENIUS / f"{kind}_tree.json", kind, set(tracks["track_id"]), set(tracks.columns))
        assert tree.filter_warnings == []


def test_track_ids_alone_are_validated_and_read_as_the_full_load_reads_them(tmp_path):
    """``load_track_ids`` (``collection-tree update``'s choice) gives the ids and kept columns of
    ``load_tracks``, from CSV and Parquet, and refuses what ``load_tracks`` refuses in ``track_id``."""
    from collection_tree.core.inputs import load_track_ids

    frame = pd.DataFrame({"track_id": ["30", "4", "17"], "title": ["a", "b", "c"], "artist": ["x", "y", "z"],
                          "year": ["2001", "", "1999"], "comment": ["", "", ""], "genre": ["House", "", "Techno"],
                          "scene_tags": ["", "", ""], "descriptors": ["", "", ""], "era": ["", "", ""],
                          "bpm": ["120", "", "128"], "extra_column": ["", "", ""]})
    csv = tmp_path / "tracks.csv"
    frame.to_csv(csv, index=False)
    parquet = tmp_path / "tracks.parquet"
    frame.to_parquet(parquet)
    for path in (csv, parquet):
        full = load_tracks(path)
        ids, columns = load_track_ids(path)
        assert ids == [int(t) for t in full["track_id"]] == [4, 17, 30]
        assert set(columns) == set(full.columns) and "extra_column" not in columns
    frame.loc[1, "track_id"] = "30"
    frame.to_csv(csv, index=False)
    with pytest.raises(InputError, match="duplicate track_id 30"):
        load_track_ids(csv)
    frame.drop(columns=["title"]).to_csv(csv, index=False)
    with pytest.raises(InputError, match="title"):
        load_track_ids(csv)
