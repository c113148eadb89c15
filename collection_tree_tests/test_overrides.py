"""overrides.json (issue 15 part 4): validation, application, and survival across a rebuild."""

import json

import pytest

from collection_tree.phases.changes import diff_trees
from collection_tree.phases.identity import carry_identity
from collection_tree.phases.overrides import OverridesError, apply_overrides, load_overrides


def _tree(a: list[str], b: list[str], c: list[str]) -> dict:
    def leaf(key, tracks):
        return {"id": key, "title": key.upper(), "track_ids": list(tracks), "track_count": len(tracks)}
    return {"id": "t", "assigned_tracks": len(a) + len(b) + len(c), "ungrouped_track_ids": [], "categories": [
        {"id": "house", "title": "House", "track_ids": [], "track_count": 0, "leaves": [leaf("a", a), leaf("b", b)]},
        {"id": "techno", "title": "Techno", "track_ids": [], "track_count": 0, "leaves": [leaf("c", c)]}]}


A, B, C = [f"a{i}" for i in range(10)], [f"b{i}" for i in range(10)], [f"c{i}" for i in range(10)]
OVERRIDES = {"rename_leaves": {"a": "My Warmup"}, "pin_tracks": {"c0": "a", "gone": "a"},
             "exclude_tracks": ["b9"], "lock_leaves": ["b", "zz"], "move_leaves": {"c": "house"},
             "rename_categories": {"techno": "Hard"}}


def test_apply_reports_applied_and_stale():
    tree, report = apply_overrides(_tree(A, B, C), OVERRIDES)
    leaves = {leaf["id"]: leaf for cat in tree["categories"] for leaf in cat["leaves"]}
    assert leaves["a"]["title"] == "My Warmup" and leaves["a"]["track_ids"][-1] == "c0"
    assert "b9" not in leaves["b"]["track_ids"] and tree["ungrouped_track_ids"] == ["b9"]
    assert [c["id"] for c in tree["categories"]] == ["house"]  # techno emptied by the move
    assert tree["categories"][0]["track_count"] == 29 == tree["assigned_tracks"]
    assert report.stale == ["lock leaf zz: no such leaf", "pin track gone to a: track not in this build"]
    assert len(report.applied) == 6


def test_an_excluded_track_is_ungrouped_with_the_reason_and_a_pinned_one_loses_its_reason():
    tree = _tree(A, B, C)
    tree["ungrouped_track_ids"] = ["u1", "u2"]
    tree["ungrouped_reasons"] = [{"track_id": "u1", "reason": "no seed"}, {"track_id": "u2", "reason": "too few"}]
    out, _ = apply_overrides(tree, {"exclude_tracks": ["a3"], "pin_tracks": {"u1": "b"}})
    assert out["ungrouped_track_ids"] == ["a3", "u2"]
    assert out["ungrouped_reasons"] == [
        {"track_id": "a3", "reason": "excluded by the user (overrides.json exclude_tracks)"},
        {"track_id": "u2", "reason": "too few"}]


def test_overrides_survive_a_rebuild_and_the_diff_lists_exactly_what_moved():
    first, _ = apply_overrides(_tree(A, B, C), OVERRIDES)
    # The next build: the LLM titles differ, a track left "b" and one new track joined "c".
    rebuilt = _tree(A, B[:-2], [*C, "c10"])
    for cat in rebuilt["categories"]:
        for leaf in cat["leaves"]:
            leaf["id"], leaf["title"] = "new-" + leaf["id"], "Fresh " + leaf["id"]
    carried, identity = carry_identity(first, rebuilt)
    assert identity.leaves_kept == 3
    second, report = apply_overrides(carried, OVERRIDES)
    leaves = {leaf["id"]: leaf for cat in second["categories"] for leaf in cat["leaves"]}
    assert leaves["a"]["title"] == "My Warmup" and "c0" in leaves["a"]["track_ids"]
    changes = diff_trees(first, second)
    assert changes["moved"] == [{"track_id": "b8", "from": "b", "to": None},
                                {"track_id": "c10", "from": None, "to": "c"}]
    assert changes["renamed"] == [] and changes["added"] == changes["removed"] == []
    assert "pin track c0 to a" in report.applied


def test_invalid_overrides_name_file_entry_and_expectation(tmp_path):
    path = tmp_path / "overrides.json"
    path.write_text(json.dumps({"pin_tracks": {"t1": 5}}))
    with pytest.raises(OverridesError, match=r"overrides.json: entry 'pin_tracks/t1': 5 is not of type 'string'"):
        load_overrides(path)
    path.write_text(json.dumps({"renames": {}}))
    with pytest.raises(OverridesError, match="Additional properties"):
        load_overrides(path)
    path.write_text("{")
    with pytest.raises(OverridesError, match="not JSON"):
        load_overrides(path)
    assert load_overrides(tmp_path / "absent.json") == {}


def test_overrides_path_follows_the_output_unless_set(tmp_path):
    from collection_tree.settings import Settings

    assert Settings.from_env({"COLLECTION_TREE_OUTPUT": str(tmp_path)}).overrides_file() == tmp_path / "overrides.json"
    own = tmp_path / "edits.json"
    assert Settings.from_env({"COLLECTION_TREE_OVERRIDES": str(own)}).overrides_file() == own


def _leaves(tree: dict) -> dict:
    return {leaf["id"]: leaf for cat in tree["categories"] for leaf in cat["leaves"]}


def test_a_locked_leaf_the_new_build_split_comes_back_whole_with_its_title():
    previous, _ = apply_overrides(_tree(A, B, C), {})
    # The new build split "b" in two and named the halves its own way; one new track joined.
    rebuilt = _tree(A, B[:5], C)
    rebuilt["categories"][0]["leaves"][1]["title"] = "B, first half"
    rebuilt["categories"][1]["leaves"].append({"id": "b-2", "title": "B, second half", "track_ids": [*B[5:], "n1"],
                                               "track_count": 6})
    tree, report = apply_overrides(rebuilt, {"lock_leaves": ["b"], "exclude_tracks": ["b9"]}, previous)
    leaves = _leaves(tree)
    assert leaves["b"]["title"] == "B" and sorted(leaves["b"]["track_ids"]) == sorted(B[:9])  # b9: excluded
    assert leaves["b-2"]["track_ids"] == ["n1"]  # the new track stays where the build put it
    assert report.applied == ["exclude track b9", "lock leaf b: 4 track(s) brought back, 0 sent back to their leaves"]


def test_a_locked_leaf_gives_back_the_tracks_a_merge_brought_in_and_is_rebuilt_when_gone():
    previous, _ = apply_overrides(_tree(A, B, C), {})
    merged = _tree(A, [*B, *C[:7]], C[7:])  # the new build merged most of "c" into "b"
    tree, report = apply_overrides(merged, {"lock_leaves": ["b"]}, previous)
    assert sorted(_leaves(tree)["b"]["track_ids"]) == sorted(B)
    assert sorted(_leaves(tree)["c"]["track_ids"]) == sorted(C)  # back with their leaf-mates
    assert report.applied == ["lock leaf b: 0 track(s) brought back, 7 sent back to their leaves"]

    gone = _tree(A, [], C)  # "b" merged into "a" entirely: the locked leaf is rebuilt from the previous one
    gone["categories"][0]["leaves"] = [{"id": "a", "title": "A", "track_ids": [*A, *B], "track_count": 20}]
    tree, report = apply_overrides(gone, {"lock_leaves": ["b"]}, previous)
    leaves = _leaves(tree)
    assert sorted(leaves["b"]["track_ids"]) == sorted(B) and sorted(leaves["a"]["track_ids"]) == sorted(A)
    assert next(c["id"] for c in tree["categories"] if any(lf["id"] == "b" for lf in c["leaves"])) == "house"
    assert tree["assigned_tracks"] == 30


def test_a_pinned_track_takes_its_suggestions_along_and_leaves_the_exemplars():
    tree = _tree(A, B, C)
    for leaf in _leaves(tree).values():
        leaf["examples"] = [{"track_id": t, "title": t, "artist": "x", "year": None} for t in leaf["track_ids"][:3]]
        leaf["metadata_suggestions"] = [{"track_id": leaf["track_ids"][0], "field": "genre", "confidence": 0.9}]
    out, _ = apply_overrides(tree, {"pin_tracks": {"b0": "a"}})
    leaves = _leaves(out)
    assert [e["track_id"] for e in leaves["b"]["examples"]] == ["b1", "b2"]
    assert leaves["b"]["metadata_suggestions"] == []
    assert [s["track_id"] for s in leaves["a"]["metadata_suggestions"]] == ["a0", "b0"]
