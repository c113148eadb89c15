"""The incremental update's pure decisions: the tracks change and which leaves get new text."""

import pytest

from collection_tree.phases.incremental import (
    IncrementalParams,
    leaves_to_refresh,
    membership_change_share,
    tracks_change,
)


def test_tracks_change_separates_added_removed_kept():
    change = tracks_change([1, 2, 3], [2, 3, 4, 5])
    assert change.added == {4, 5}
    assert change.removed == {1}
    assert change.kept == {2, 3}
    assert not change.append_only


def test_append_only_needs_new_tracks_and_no_removals():
    assert tracks_change([1, 2], [1, 2, 3]).append_only
    assert not tracks_change([1, 2], [1, 2]).append_only
    assert tracks_change([1, 2], [2, 1]).unchanged


def test_membership_change_share_counts_joins_and_leaves():
    assert membership_change_share(range(10), range(10)) == 0.0
    assert membership_change_share(range(10), range(1, 12)) == pytest.approx(0.3)  # 1 left, 10 and 11 joined
    assert membership_change_share([], [1]) == 1.0


def test_leaves_to_refresh_takes_new_leaves_and_changes_above_the_share():
    before = {"a": range(10), "b": range(10, 20)}
    after = {"a": [*range(10), 100, 101], "b": list(range(10, 21)), "c": [200, 201]}
    assert leaves_to_refresh(before, after, share=0.2) == ["c"]  # a changed by exactly 0.2: not more
    assert leaves_to_refresh(before, after, share=0.1) == ["a", "c"]


def test_refresh_share_defaults_to_a_fifth_and_is_bounded():
    assert IncrementalParams.for_profile().refresh_share == 0.2
    with pytest.raises(ValueError, match="refresh_share"):
        IncrementalParams.for_profile(refresh_share=1.5)
