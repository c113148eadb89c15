"""scored_search, assign_tracks_to_branches and merge_filters."""

import numpy as np
import pandas as pd
import pytest

from collection_tree.core.search import FacetIndex, assign_tracks_to_branches, merge_filters, scored_search


@pytest.fixture
def tracks() -> pd.DataFrame:
    return pd.DataFrame({
        "track_id": [10, 11, 12, 13, 14],
        "title": ["a", "b", "c", "d", "e"],
        "artist": ["x", "x", "y", "z", "z"],
        "year": pd.array([2001, 2005, 1998, 2003, None], dtype="Int64"),
        "comment": [""] * 5,
        "genre": [["House", "Deep House"], ["House"], ["Techno", "Minimal"], ["House", "Deep House"], []],
        "scene_tags": [["Berlin"], ["Chicago"], ["Berlin"], [], []],
        "descriptors": [["dusty"], [], ["hypnotic"], ["dusty", "warm"], []],
        "era": ["2000s", "2000s", "1990s", "2000s", ""],
        "bpm": [122.0, 126.0, 130.0, np.nan, 120.0],
    })


def test_merge_filters_union_and_intersection():
    merged = merge_filters({"genre": ["House"], "year_range": [1995, 2008]},
                           {"genre": ["House", "Deep House"], "scene_tags": ["Berlin"], "year_range": [2000, 2010]})
    assert merged == {"genre": ["House", "Deep House"], "year_range": [2000, 2008], "scene_tags": ["Berlin"]}


def test_merge_filters_disjoint_ranges_meet_in_the_middle():
    assert merge_filters({"year_range": [1990, 1994]}, {"year_range": [2000, 2004]})["year_range"] == [1997, 1997]


def test_scored_search_ranks_by_match(tracks):
    result = scored_search(tracks, {"genre": ["Deep House"], "scene_tags": ["Berlin"]}, top_n=10)
    # 10 matches both; 12 only the scene, 13 only the genre: tied at 0.5, ties by track id
    assert result["track_id"].tolist() == [10, 12, 13]
    assert result["score"].tolist() == pytest.approx([1.0, 0.5, 0.5])


def test_scored_search_is_case_insensitive_and_candidate_limited(tracks):
    result = scored_search(tracks, {"genre": ["house"]}, top_n=None, candidate_ids=[11, 12, 13])
    assert result["track_id"].tolist() == [11, 13]


def test_range_components_decay_outside(tracks):
    index = FacetIndex(tracks)
    scores = index.scores({"year_range": [2000, 2004]})
    # inside -> 1; 2005 is 1 year outside a 4-year range -> 0.75; 1998 -> 0.5; missing year -> 0
    assert scores.tolist() == pytest.approx([1.0, 0.75, 0.5, 1.0, 0.0])


def test_multi_value_lists_reward_more_matches(tracks):
    scores = FacetIndex(tracks).scores({"descriptors": ["dusty", "warm"]})
    assert scores[3] > scores[0] > scores[1] == 0


def test_unknown_filter_key_is_ignored(tracks):
    # (the warning, naming file and node, comes from the tree loader: test_inputs.py)
    scores = FacetIndex(tracks).scores({"mood_ring": ["blue"], "genre": ["Techno"]})
    assert scores.tolist() == [0, 0, 1, 0, 0]


def test_assign_tracks_to_branches_best_branch_and_min_score(tracks):
    branches = [{"id": "deep", "filters": {"genre": ["Deep House"]}},
                {"id": "berlin", "filters": {"scene_tags": ["Berlin"], "genre": ["Techno"]}}]
    assigned = assign_tracks_to_branches(tracks, branches, min_score=0.01)
    assert assigned == {10: "deep", 11: None, 12: "berlin", 13: "deep", 14: None}


def test_assign_ties_go_to_first_branch(tracks):
    branches = [{"id": "a", "filters": {"genre": ["House"]}}, {"id": "b", "filters": {"genre": ["House"]}}]
    assert assign_tracks_to_branches(tracks, branches, track_ids=[10, 11]) == {10: "a", 11: "a"}
