"""Stable identity across builds and the build-to-build diff (issue 15 parts 2-3)."""

import copy

from collection_tree.phases.changes import diff_trees, markdown
from collection_tree.phases.identity import carry_identity, match_sets


def _tree(categories: dict[str, dict[str, list[str]]], titles: dict[str, str] | None = None) -> dict:
    titles = titles or {}
    return {"id": "t", "categories": [
        {"id": cat, "title": cat.title(), "leaves": [
            {"id": leaf, "title": titles.get(leaf, leaf.upper()), "track_ids": tracks}
            for leaf, tracks in leaves.items()]}
        for cat, leaves in categories.items()]}


def _ids(prefix: str, n: int, start: int = 0) -> list[str]:
    return [f"{prefix}{i}" for i in range(start, start + n)]


PREVIOUS = _tree({"house": {"a": _ids("a", 10), "b": _ids("b", 10)}, "techno": {"c": _ids("c", 10)}})


def test_unchanged_rebuild_keeps_every_id_and_title():
    current = _tree({"dance": {"x": _ids("a", 10), "y": _ids("b", 10)}, "hard": {"z": _ids("c", 10)}},
                    titles={"x": "New", "y": "Other", "z": "Third"})
    tree, report = carry_identity(PREVIOUS, current)
    assert diff_trees(PREVIOUS, tree)["counts"] == {"added": 0, "removed": 0, "renamed": 0, "merged": 0,
                                                    "split": 0, "moved": 0}
    assert (report.leaves_kept, report.categories_kept, report.titles_kept) == (3, 2, 3)
    assert [c["title"] for c in tree["categories"]] == ["House", "Techno"]


def test_low_overlap_gets_no_old_id_and_new_ids_do_not_collide():
    # new "b" shares 4 tracks with old "a" (Jaccard 0.25 < 0.5): unmatched; new "a" is old "b".
    current = _tree({"house": {"b": _ids("a", 4) + _ids("n", 6), "a": _ids("b", 10)}})
    tree, _ = carry_identity(PREVIOUS, current)
    leaves = {leaf["id"]: leaf["track_ids"] for leaf in tree["categories"][0]["leaves"]}
    assert leaves["b"] == _ids("b", 10)  # matched by membership, not by its old raw id
    assert len(leaves) == 2 and "a" not in leaves


def test_one_to_one_best_match():
    assert match_sets({"p": ["1", "2", "3", "4"]}, {"q": ["1", "2", "3"], "r": ["1", "2", "3", "4"]}) == {"r": "p"}


def test_diff_lists_moves_merges_splits_and_renames():
    current = _tree({"house": {"ab": _ids("a", 10) + _ids("b", 10)},
                     "techno": {"c1": _ids("c", 6), "c2": _ids("c", 4, 6)}})
    tree, report = carry_identity(PREVIOUS, current)
    # "ab" has Jaccard 0.5 with a and with b (one keeps its id), c1 0.6 with c (keeps "c"), c2 is new
    assert report.leaves_kept == 2
    changes = diff_trees(PREVIOUS, tree)
    kept = next(leaf["id"] for leaf in tree["categories"][0]["leaves"])
    lost = ({"a", "b"} - {kept}).pop()
    assert changes["split"] == [{"from": "c", "into": ["c", "c2"]}]
    assert changes["merged"] == [{"into": kept, "from": ["a", "b"]}]
    assert changes["added"] == ["c2"] and changes["removed"] == [lost]
    assert changes["moved"] == [{"track_id": t, "from": lost, "to": kept} for t in sorted(_ids(lost, 10))] + [
        {"track_id": t, "from": "c", "to": "c2"} for t in sorted(_ids("c", 4, 6))]
    renamed = copy.deepcopy(tree)
    renamed["categories"][0]["leaves"][0]["title"] = "Renamed"
    assert diff_trees(tree, renamed)["renamed"] == [{"id": kept, "from": kept.upper(), "to": "Renamed"}]
    assert "| moved | 0 |" in markdown(diff_trees(tree, renamed))


def test_merge_is_reported():
    current = _tree({"house": {"m": _ids("a", 10) + _ids("b", 10) + _ids("n", 2)}, "techno": {"c": _ids("c", 10)}})
    tree, _ = carry_identity(PREVIOUS, current)
    changes = diff_trees(PREVIOUS, tree)
    assert changes["merged"] == [{"into": "m", "from": ["a", "b"]}]
    assert changes["removed"] == ["a", "b"] and changes["added"] == ["m"]


def test_diff_command_matches_by_membership_then_lists_moves(tmp_path, capsys):
    import json

    from collection_tree.cli import main

    old = {"id": "x", "tree_type": "collection", **_tree({"h": {"a": ["1", "2", "3"]}})}
    new = {"id": "y", "tree_type": "collection", **_tree({"h": {"z": ["1", "2", "4"]}})}
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    assert main(["diff", str(tmp_path / "old.json"), str(tmp_path / "new.json"), "--json"]) == 0
    changes = json.loads(capsys.readouterr().out)
    assert changes["added"] == changes["removed"] == []  # z (Jaccard 0.5 with a) carries a's id
    assert changes["moved"] == [{"track_id": "3", "from": "a", "to": None}, {"track_id": "4", "from": None, "to": "a"}]
    assert main(["diff", str(tmp_path / "old.json"), str(tmp_path / "missing.json")]) == 2


def _words(table: dict[str, set[str]]):
    return lambda ids: [table.get(t, set()) for t in ids]


def test_a_previous_title_is_carried_only_while_it_fits_its_tracks():
    previous = _tree({"house": {"a": _ids("a", 10), "b": _ids("b", 10)}}, titles={"a": "Acid Jazz", "b": "Deep House"})
    current = _tree({"house": {"x": _ids("a", 10), "y": _ids("b", 10)}}, titles={"x": "Deep House", "y": "Deep House"})
    # a's tracks are deep house, none of them jazz; b's title fits 9 of 10 against the fresh title's 10 of 10
    words = {**{t: {"deep", "house"} for t in _ids("a", 10)}, **{t: {"deep", "house"} for t in _ids("b", 9)},
             "b9": {"garage"}}
    tree, report = carry_identity(previous, current, words_of=_words(words))
    titles = {leaf["id"]: leaf["title"] for leaf in tree["categories"][0]["leaves"]}
    assert titles == {"a": "Deep House", "b": "Deep House"}  # a refreshed (fit 0.0 vs 1.0), b kept (0.9 vs 1.0)
    assert (report.leaves_kept, report.titles_kept, report.titles_refreshed) == (2, 1, 1)
    assert diff_trees(previous, tree)["renamed"] == [{"id": "a", "from": "Acid Jazz", "to": "Deep House"}]


def test_without_track_words_titles_are_carried_unchecked():
    previous = _tree({"house": {"a": _ids("a", 10)}}, titles={"a": "Acid Jazz"})
    current = _tree({"house": {"x": _ids("a", 10)}}, titles={"x": "Deep House"})
    tree, report = carry_identity(previous, current)
    assert tree["categories"][0]["leaves"][0]["title"] == "Acid Jazz" and report.titles_refreshed == 0


def test_broken_and_unfitting_category_titles_are_refreshed():
    previous = _tree({"house": {"a": _ids("a", 10)}}, titles={"a": "House, late 200"})
    current = _tree({"deep house": {"x": _ids("a", 10)}}, titles={"x": "House, late 2000s"})
    tree, report = carry_identity(previous, current, words_of=_words({t: {"deep", "house"} for t in _ids("a", 10)}))
    category = tree["categories"][0]
    # the old category title "House" fits as well as "Deep House": carried; the broken leaf title is not
    assert (category["id"], category["title"]) == ("house", "House")
    assert category["leaves"][0]["title"] == "House, late 2000s" and report.titles_refreshed == 1
    unfit = _tree({"techno": {"x": _ids("a", 10)}})
    tree, report = carry_identity(_tree({"techno": {"a": _ids("a", 10)}}), {
        **unfit, "categories": [{**unfit["categories"][0], "title": "Deep House"}]},
        words_of=_words({t: {"deep", "house"} for t in _ids("a", 10)}))
    # the category is refreshed (fit 0.0 vs 1.0); leaf "A" fits no worse than "X" (both 0.0): kept
    assert tree["categories"][0]["title"] == "Deep House" and report.titles_refreshed == 1
    assert tree["categories"][0]["leaves"][0]["title"] == "A"


def test_a_first_build_adds_every_leaf_and_moves_no_track():
    """Without a previous build there is no placement to move from: every leaf is added, no track listed."""
    from collection_tree.phases.changes import diff_trees

    current = {"id": "now", "categories": [{"id": "c", "leaves": [
        {"id": "a", "title": "A", "track_ids": ["1", "2"]}, {"id": "b", "title": "B", "track_ids": ["3"]}]}]}
    changes = diff_trees(None, current)
    assert changes["previous_id"] is None and changes["added"] == ["a", "b"]
    assert changes["moved"] == [] and changes["counts"]["moved"] == 0 and changes["counts"]["added"] == 2
    # against an empty previous build, arriving tracks are moves from nothing (an update's new tracks)
    assert [m["track_id"] for m in diff_trees({"id": "before", "categories": []}, current)["moved"]] == ["1", "2", "3"]
