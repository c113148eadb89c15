"""Phase 1 matches a straightforward set-intersection loop like the reference's, exactly."""

import json
from itertools import product
from pathlib import Path

import numpy as np
import pytest

from collection_tree.core.inputs import collect_leaves, load_tracks, load_tree
from collection_tree.core.search import merge_filters
from collection_tree.phases.seed_clusters import build_seed_clusters

GENIUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "genius-2000s"


def reference_loop(genre: dict, scene: dict, min_tracks: int) -> list[dict]:
    """The reference's algorithm: Cartesian product of leaves, set intersections, sort by size."""
    out = []
    for g, s in product(collect_leaves(genre), collect_leaves(scene)):
        shared = set(g["track_ids"]) & set(s["track_ids"])
        if len(shared) >= min_tracks:
            out.append({"id": f"{g['id']}__{s['id']}", "track_ids": sorted(shared),
                        "filters": merge_filters(g["filters"], s["filters"])})
    out.sort(key=lambda c: (-len(c["track_ids"]), c["id"]))
    return out


@pytest.fixture(scope="module")
def genius_trees():
    known = set(load_tracks(GENIUS / "tracks.csv")["track_id"].tolist())
    return (load_tree(GENIUS / "genre_tree.json", "genre", known).doc,
            load_tree(GENIUS / "scene_tree.json", "scene", known).doc)


@pytest.mark.parametrize("min_tracks", [5, 8])
def test_matches_reference_loop_on_real_data(genius_trees, min_tracks):
    genre, scene = genius_trees
    seeds = build_seed_clusters(genre, scene, min_tracks=min_tracks)
    expected = reference_loop(genre, scene, min_tracks)
    assert seeds["id"].tolist() == [c["id"] for c in expected]
    assert [list(t) for t in seeds["track_ids"]] == [c["track_ids"] for c in expected]
    assert seeds["track_count"].tolist() == [len(c["track_ids"]) for c in expected]
    assert [json.loads(f) for f in seeds["filters"]] == [c["filters"] for c in expected]


def test_counts_on_real_data(genius_trees):
    seeds = build_seed_clusters(*genius_trees)
    # The data README: 562 pairs share >= 5 tracks (308 at >= 8), covering 2,443 tracks.
    assert len(seeds) == 562
    assert len(build_seed_clusters(*genius_trees, min_tracks=8)) == 308
    assert len({t for ids in seeds["track_ids"] for t in ids}) == 2443
    assert np.all(np.diff(seeds["track_count"].to_numpy()) <= 0)


def test_contexts_and_filters(genius_trees):
    genre, scene = genius_trees
    seeds = build_seed_clusters(genre, scene)
    row = seeds.iloc[0]
    g_leaf = next(leaf for leaf in collect_leaves(genre) if leaf["id"] == row["genre_leaf_id"])
    s_leaf = next(leaf for leaf in collect_leaves(scene) if leaf["id"] == row["scene_leaf_id"])
    assert row["id"] == f"{g_leaf['id']}__{s_leaf['id']}"
    assert row["genre_title"] == g_leaf["title"] and row["scene_description"] == s_leaf["description"]
    assert row["genre_lineage"] == " > ".join(g_leaf["lineage"])
    assert json.loads(row["filters"]) == merge_filters(g_leaf["filters"], s_leaf["filters"])


def test_max_seeds_keeps_the_largest(genius_trees):
    full = build_seed_clusters(*genius_trees)
    top = build_seed_clusters(*genius_trees, max_seeds=20)
    assert top["id"].tolist() == full["id"].head(20).tolist()


def test_tracks_in_several_seeds_and_duplicated_leaf_ids():
    leaf = lambda i, ids: {"id": i, "title": i.title(), "description": "", "filters": {"genre": [i]},  # noqa: E731
                           "track_ids": ids, "children": []}
    genre = {"lineages": [{"id": "r", "title": "R", "description": "", "filters": {}, "track_ids": [],
                           "children": [leaf("a", [1, 2, 3, 4, 5, 6, 6]), leaf("b", [4, 5, 6, 7, 8, 9])]}]}
    scene = {"lineages": [leaf("x", [1, 2, 3, 4, 5, 6, 7, 8, 9]), leaf("y", [1, 2])]}
    seeds = build_seed_clusters(genre, scene, min_tracks=5)
    assert seeds["id"].tolist() == ["a__x", "b__x"]
    assert [list(t) for t in seeds["track_ids"]] == [[1, 2, 3, 4, 5, 6], [4, 5, 6, 7, 8, 9]]


def test_no_pairs():
    leaf = {"id": "a", "title": "A", "description": "", "filters": {}, "track_ids": [1], "children": []}
    other = {**leaf, "id": "b", "track_ids": [2]}
    seeds = build_seed_clusters({"lineages": [leaf]}, {"lineages": [other]})
    assert len(seeds) == 0
    assert "track_ids" in seeds.columns


def test_min_tracks_must_be_positive(genius_trees):
    with pytest.raises(ValueError):
        build_seed_clusters(*genius_trees, min_tracks=0)
