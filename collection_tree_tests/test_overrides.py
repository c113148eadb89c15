"""overrides.json (issue 15 part 4): validation, application, and survival across a rebuild."""

import json

import pytest

from collection_tree.phases.changes import diff_trees
from collection_tree.phases.identity import carry_identity
from collection_tree.phases.overrides import OverridesError, apply_overrides, load_overrides, locked_leaves


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
    assert report.stale == ["pin track gone to a: track not in this build", "lock leaf zz: no such leaf"]
    assert len(report.applied) == 6
    assert locked_leaves(OVERRIDES) == {"b", "zz"}


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
