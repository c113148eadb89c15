"""The track similarity model (core/similarity.py), genre lineages and the guard (core/lineage.py), and the
placement helpers built on them (phases/placement.py: folding, leaf bounds, part titles)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

import collection_tree.core.similarity as similarity
from collection_tree.core.clusters import Cluster
from collection_tree.core.lineage import GenreLineages
from collection_tree.core.similarity import TrackSimilarity, camelot
from collection_tree.phases.placement import bound_leaves, cut_in_two, fold_small_clusters, split_oversized


def tracks_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame({
        "track_id": [r["track_id"] for r in rows],
        "title": [f"Song {r['track_id']}" for r in rows],
        "artist": [r.get("artist", f"Artist {r['track_id']}") for r in rows],
        "year": pd.array([r.get("year") for r in rows], dtype="Int64"),
        "comment": [""] * len(rows),
        "genre": [r.get("genre", []) for r in rows],
        "scene_tags": [r.get("scene_tags", []) for r in rows],
        "descriptors": [r.get("descriptors", []) for r in rows],
        "era": [r.get("era", "") for r in rows],
    })
    for column in ("bpm", "energy", "key"):
        if any(column in r for r in rows):
            frame[column] = [r.get(column) for r in rows]
    return frame


def tree(lineages: dict[str, dict[str, list[int]]], branch_tracks: dict[str, list[int]] | None = None
         ) -> dict[str, Any]:
    """A genre tree: root id -> {leaf id: track ids}; ``branch_tracks``: tracks a root holds directly."""
    roots = []
    for root, leaves in lineages.items():
        children = [{"id": leaf, "title": leaf.title(), "description": "", "filters": {}, "track_ids": ids,
                     "children": []} for leaf, ids in leaves.items()]
        direct = (branch_tracks or {}).get(root, [])
        roots.append({"id": root, "title": root.title(), "description": "", "filters": {},
                      "track_ids": sorted({t for ids in leaves.values() for t in ids} | set(direct)),
                      "children": children})
    return {"id": "genre-test", "tree_type": "genre", "created_at": "2026-01-01T00:00:00Z", "lineages": roots}


# ------------------------------------------------------------------------------------ the model
@pytest.mark.parametrize(("key", "expected"), [
    ("Am", (8, "A")), ("C", (8, "B")), ("8A", (8, "A")), ("12b", (12, "B")), ("Ebm", (2, "A")),
    ("F# minor", (11, "A")), ("Db major", (3, "B")), ("", None), ("H", None), ("13A", None), (None, None),
])
def test_keys_on_the_camelot_wheel(key, expected):
    assert camelot(key) == expected


def test_the_specific_end_of_the_genre_path_decides_and_scores_are_weighted_means():
    rows = [{"track_id": t, "genre": ["Rock", "Metal", "Nu-Metal"], "scene_tags": ["USA"]} for t in range(1, 6)]
    rows += [{"track_id": t, "genre": ["Rock", "Metal", "Thrash Metal"], "scene_tags": ["USA"]} for t in range(6, 11)]
    rows += [{"track_id": t, "genre": ["Rock", "Indie Rock"], "scene_tags": ["USA"]} for t in range(11, 16)]
    rows += [{"track_id": 99, "genre": ["Rock", "Metal", "Nu-Metal"], "scene_tags": ["UK"]}]
    model = TrackSimilarity(tracks_frame(rows))
    centroids = model.centroids([range(1, 6), range(6, 11), range(11, 16)])
    scores = model.scores([1, 99, 6], centroids)
    assert scores[0, 0] == pytest.approx(1.0, abs=1e-5)  # a track identical to its group's members
    assert np.all((scores >= 0) & (scores <= 1 + 1e-6))
    assert scores[1, 0] > scores[1, 1] > scores[1, 2]  # Nu-Metal first, then Metal, then Rock alone
    assert scores[1, 0] < scores[0, 0]  # its scene differs


def test_audio_features_break_ties_of_identical_tags():
    base = {"genre": ["House", "Deep House"], "scene_tags": ["Berlin"], "energy": 5}
    rows = [{"track_id": t, **base, "bpm": 120 + t % 3, "key": "8A", "year": 2001} for t in range(1, 9)]
    rows += [{"track_id": t, **base, "bpm": 170 + t % 3, "key": "2B", "year": 2015} for t in range(9, 17)]
    rows += [{"track_id": 50, **base, "bpm": 123, "key": "9A", "year": 2003},  # near the first group
             {"track_id": 51, **base, "bpm": 168, "key": "3B", "year": 2014}]  # near the second
    model = TrackSimilarity(tracks_frame(rows))
    assert set(model.blocks) >= {"genre", "scene", "year", "bpm", "energy", "key"}
    scores = model.scores([50, 51], model.centroids([range(1, 9), range(9, 17)]))
    assert scores[0, 0] > scores[0, 1] and scores[1, 1] > scores[1, 0]


def test_a_collection_without_audio_columns_has_no_audio_blocks():
    model = TrackSimilarity(tracks_frame([{"track_id": 1, "genre": ["Pop"]}, {"track_id": 2, "genre": ["Rap"]}]))
    assert set(model.blocks) == {"genre"}
    assert model.scores([1], model.centroids([[2]]))[0, 0] == 0.0


def test_ranked_keeps_allowed_top_k_best_first_ties_by_column_in_any_chunking(monkeypatch):
    rows = [{"track_id": t, "genre": ["Rock", g], "year": 2000 + t % 5}
            for t, g in enumerate(["Punk", "Punk", "Grunge", "Grunge", "Emo", "Emo"] * 5, start=1)]
    model = TrackSimilarity(tracks_frame(rows))
    groups = [[1, 2], [3, 4], [5, 6], [1, 2]]  # the last centroid repeats the first: a tie
    centroids = model.centroids(groups)
    ids = np.arange(1, 31)
    whole = model.ranked(ids, centroids, 2)
    assert whole.columns[0].tolist() == [0, 3]  # the tie goes to the lower column
    dense = model.scores(ids, centroids)
    for i in range(len(ids)):
        assert whole.scores[i].tolist() == sorted(dense[i].tolist(), reverse=True)[:2]
    monkeypatch.setattr(similarity, "SCORE_CELLS", 4)  # one track per chunk
    assert np.array_equal(model.ranked(ids, centroids, 2).columns, whole.columns)

    def no_punk_for_even_ids(chunk: np.ndarray) -> np.ndarray:
        allowed = np.ones((len(chunk), 4), dtype=bool)
        allowed[chunk % 2 == 0, 0] = allowed[chunk % 2 == 0, 3] = False
        return allowed

    guarded = model.ranked(ids, centroids, 3, no_punk_for_even_ids)
    assert guarded.columns[1].tolist() == [1, 2, -1]  # track 2: only two allowed clusters, padded
    assert all(0 not in guarded.columns[i] for i in range(1, 30, 2))


def test_the_model_is_deterministic():
    rows = [{"track_id": t, "genre": ["Rock", ["Punk", "Emo"][t % 2]], "scene_tags": [["USA", "UK"][t % 3 > 0]],
             "era": "early 2000s", "year": 2000 + t % 4, "bpm": 100 + t, "key": "8A"} for t in range(1, 40)]
    first, second = TrackSimilarity(tracks_frame(rows)), TrackSimilarity(tracks_frame(rows))
    assert (first.matrix != second.matrix).nnz == 0 and first.feature_names == second.feature_names


# ------------------------------------------------------------------------------------ lineages
def test_lineages_of_tracks_and_clusters():
    doc = tree({"rock": {"rock-metal": [1, 2], "rock-punk": [3]}, "pop": {"pop-dance": [2, 4]}},
               branch_tracks={"rock": [5]})
    lineages = GenreLineages.from_tree(doc)
    assert lineages.of_track(1) == ("rock",)
    assert lineages.of_track(2) == ("rock", "pop")  # leaves of two lineages
    assert lineages.of_track(5) == ("rock",)  # in the branch only: its branch's lineage
    assert lineages.of_track(77) == ()  # the tree does not name it: no lineage
    metal = Cluster(id="rock-metal__usa", track_ids=[1], genre_leaf_id="rock-metal")
    dance = Cluster(id="pop-dance__uk~2", track_ids=[2, 4])  # no genre_leaf_id: the id's part before "__"
    odd = Cluster(id="mystery", track_ids=[3])
    assert [lineages.of_cluster(c) for c in (metal, dance, odd)] == ["rock", "pop", None]
    allowed = lineages.allowed([1, 2, 4, 5, 77], lineages.root_columns([metal, dance, odd]))
    assert allowed.tolist() == [[True, False, True], [True, True, True], [False, True, True],
                                [True, False, True], [True, True, True]]
    wrong = Cluster(id="pop-dance__x", track_ids=[1, 2, 5, 77])
    assert lineages.violations([metal, wrong]) == [(1, "pop-dance__x"), (5, "pop-dance__x")]
    assert lineages.describe(2) == "Rock, Pop" and lineages.describe(77) == "no lineage"


def test_violations_found_at_once_are_those_of_each_cluster_in_turn():
    """``violations`` looks every member up at once; the per-cluster reading it replaced is the reference."""
    import json
    import random
    from pathlib import Path

    doc = json.loads((Path(__file__).resolve().parents[2] / "shared" / "data" / "genius-2000s-full"
                      / "genre_tree.json").read_text(encoding="utf-8"))
    lineages = GenreLineages.from_tree(doc)
    leaves = sorted(lineages.leaf_root)
    ids = [int(t) for t in lineages.position.tolist()]
    rng = random.Random(3)
    clusters = [Cluster(id=f"{rng.choice(leaves)}__x{i}", track_ids=rng.sample(ids, rng.randint(0, 40))
                        + ([10**12] if i % 7 == 0 else [])) for i in range(400)]
    clusters.append(Cluster(id="mystery", track_ids=ids[:30]))  # no lineage: takes anyone

    def each_in_turn() -> list[tuple[int, str]]:
        out = []
        for cluster, column in zip(clusters, lineages.root_columns(clusters).tolist(), strict=True):
            if column >= 0 and cluster.track_ids:
                ok = lineages.allowed(cluster.track_ids, np.array([column]))[:, 0]
                out += [(int(t), cluster.id) for t, good in zip(cluster.track_ids, ok.tolist(), strict=True)
                        if not good]
        return out

    found = lineages.violations(clusters)
    assert found == each_in_turn()
    assert 0 < len(found) < sum(len(c.track_ids) for c in clusters)  # some members fit, some do not
    assert lineages.violations([]) == [] and lineages.violations([Cluster(id="mystery", track_ids=[])]) == []


# ------------------------------------------------------------------------------------ placement
def two_styles(n_each: int, start: int = 1) -> list[dict[str, Any]]:
    rows = []
    for i in range(n_each):
        rows.append({"track_id": start + i, "genre": ["Rock", "Metal", "Nu-Metal"], "scene_tags": ["USA"],
                     "year": 2001})
        rows.append({"track_id": start + n_each + i, "genre": ["Rock", "Metal", "Thrash Metal"],
                     "scene_tags": ["USA"], "year": 2001})
    return rows


def test_a_cut_follows_what_separates_the_tracks_and_keeps_both_sides_sizeable():
    model = TrackSimilarity(tracks_frame(two_styles(40)))
    a, b = cut_in_two(model, list(range(1, 81)), 5)
    assert {tuple(a), tuple(b)} == {tuple(range(1, 41)), tuple(range(41, 81))}
    assert cut_in_two(model, list(range(1, 81)), 5) == (a, b)  # deterministic
    # 76 Nu-Metal and 4 Thrash Metal: the odd four cannot be a side of their own (at least a fifth each)
    lopsided = [*range(1, 41), *range(41, 45), *range(81, 117)]
    rows = [*two_styles(40), *({"track_id": t, "genre": ["Rock", "Metal", "Nu-Metal"], "scene_tags": ["USA"],
                                "year": 2001} for t in range(81, 117))]
    model = TrackSimilarity(tracks_frame(rows))
    a, b = cut_in_two(model, lopsided, 5)
    assert min(len(a), len(b)) >= 16 and sorted(a + b) == sorted(lopsided)


def test_oversized_leaves_split_recursively_with_titles_that_say_what_differs():
    rows = []
    styles = ["Nu-Metal", "Thrash Metal", "Doom Metal"]
    for k, style in enumerate(styles):
        rows += [{"track_id": 1000 * (k + 1) + i, "genre": ["Rock", "Metal", style], "scene_tags": ["USA"],
                  "year": 2000 + i % 10, "era": "early 2000s" if i % 10 < 4 else "late 2000s"} for i in range(140)]
    model = TrackSimilarity(tracks_frame(rows))
    parent = Cluster(id="rock-metal__usa-2005-2010", track_ids=[r["track_id"] for r in rows],
                     genre_leaf_id="rock-metal", title="Metal, USA late 2000s")
    taken = {parent.id}
    parts = split_oversized(parent, model, 150, 5, taken, "offline")
    assert all(5 <= p.track_count <= 150 for p in parts) and len(parts) >= 3
    assert sorted(t for p in parts for t in p.track_ids) == sorted(parent.track_ids)
    assert all(re.fullmatch(r"rock-metal__usa-2005-2010~\d+", p.id) for p in parts)
    assert len({p.id for p in parts}) == len(parts) and {p.id for p in parts} <= taken
    assert all(p.origin == "split" and p.genre_leaf_id == "rock-metal" and p.named_by == "offline" for p in parts)
    assert len({p.title for p in parts}) == len(parts)
    for p in parts:  # each part is mostly one style, and its title names it
        style = max(styles, key=lambda s, p=p: sum(1 for r in rows if r["track_id"] in p.track_ids
                                                   and s in r["genre"]))
        assert style in p.title, p.title
        # never two eras that disagree, never a cut year
        assert not re.search(r"\b(?:early|mid|late) \d{1,3}\b(?!\d)|\b\d{1,3}$", p.title)
        assert not ("late 2000s" in p.title and "early 2000s" in p.title.casefold())


def test_bounds_fold_small_leaves_within_their_lineage_and_explain_what_cannot_stay():
    rows = [*two_styles(10), {"track_id": 90, "genre": ["Pop", "Dance"], "scene_tags": ["USA"], "year": 2001},
            {"track_id": 91, "genre": ["Pop", "Dance"], "year": 2001},
            {"track_id": 92, "genre": ["Jazz", "Bebop"], "year": 1960},
            {"track_id": 93, "genre": ["Jazz", "Bebop"], "year": 1961}]
    doc = tree({"rock": {"rock-nu": list(range(1, 11)), "rock-thrash": list(range(11, 21))},
                "pop": {"pop-dance": [90, 91]}, "jazz": {"jazz-bebop": [92, 93]}})
    lineages = GenreLineages.from_tree(doc)
    model = TrackSimilarity(tracks_frame(rows))
    clusters = [Cluster(id="rock-nu__usa", track_ids=list(range(1, 11)), genre_leaf_id="rock-nu"),
                Cluster(id="rock-thrash__usa", track_ids=list(range(11, 18)), genre_leaf_id="rock-thrash"),
                Cluster(id="rock-thrash__uk", track_ids=[18, 19, 20], genre_leaf_id="rock-thrash"),
                Cluster(id="pop-dance__usa", track_ids=[90, 91], genre_leaf_id="pop-dance"),
                Cluster(id="jazz-bebop__a", track_ids=[92], genre_leaf_id="jazz-bebop"),
                Cluster(id="jazz-bebop__b", track_ids=[93], genre_leaf_id="jazz-bebop")]
    # the Pop tracks are more similar to the rock clusters (USA, 2001) than to anything else: they must
    # not be carried there
    result = bound_leaves(clusters, model, lineages, max_size=150, min_size=5, taken=set(), named_by="offline")
    by_id = {c.id: c.track_ids for c in result.clusters}
    assert by_id["rock-thrash__usa"] == list(range(11, 21))  # 18-20 folded to the most similar rock cluster
    assert "rock-thrash__uk" not in by_id and "pop-dance__usa" not in by_id
    unplaced = {u["track_id"]: u["reason"] for u in result.fold.unplaced}
    assert set(unplaced) == {90, 91, 92, 93}  # Pop and Jazz have two tracks each: no playlist
    assert unplaced[90] == "too few tracks of Pop for a playlist (2 < 5)"
    assert "too few tracks of Jazz" in unplaced[92]
    assert result.fold.folded_clusters == 1 and lineages.violations(result.clusters) == []


def test_leftover_small_leaves_of_one_lineage_merge_into_a_playlist():
    rows = [{"track_id": t, "genre": ["Jazz", "Bebop"], "year": 1960} for t in range(1, 7)]
    lineages = GenreLineages.from_tree(tree({"jazz": {"jazz-bebop": list(range(1, 7))}}))
    model = TrackSimilarity(tracks_frame(rows))
    clusters = [Cluster(id="jazz-bebop__a", track_ids=[1, 2, 3], genre_leaf_id="jazz-bebop"),
                Cluster(id="jazz-bebop__b", track_ids=[4, 5, 6], genre_leaf_id="jazz-bebop")]
    result = fold_small_clusters(clusters, model, lineages, 5, merge_leftovers=True)
    assert [(c.id, c.track_ids, c.origin) for c in result.clusters] == [("jazz-bebop__b", [1, 2, 3, 4, 5, 6],
                                                                          "merged")]
    assert result.merged_small == 1 and not result.unplaced


def lineage_world() -> tuple[TrackSimilarity, Any, list[Cluster], Any, np.ndarray]:
    """300 tracks of three lineages (some in two, every tenth in none), three clusters per genre leaf
    and one of unknown lineage; the model, the guard, the clusters, their centroids and the track ids."""
    from collection_tree.phases.placement import Guard

    rng = np.random.default_rng(3)
    styles = [("rock", "Punk"), ("rock", "Grunge"), ("pop", "Dance"), ("pop", "Punk"), ("jazz", "Bebop")]
    rows = []
    for t in range(1, 301):
        root, style = styles[int(rng.integers(len(styles)))]
        rows.append({"track_id": t, "genre": [root.title(), style], "scene_tags": [["USA", "UK", "Japan"][t % 3]],
                     "year": int(rng.integers(1990, 2010))})
    leaves: dict[str, dict[str, list[int]]] = {}
    for r in rows:
        root, style = r["genre"][0].lower(), r["genre"][1].lower()
        if r["track_id"] % 10:  # every tenth track sits in no leaf: no lineage
            leaves.setdefault(root, {}).setdefault(f"{root}-{style}", []).append(r["track_id"])
    leaves["rock"]["rock-punk"] += [t for t in range(5, 300, 37) if t % 10]  # some tracks in two lineages
    lineages = GenreLineages.from_tree(tree(leaves))
    model = TrackSimilarity(tracks_frame(rows))
    clusters = [Cluster(id=f"{leaf}__{i}", track_ids=ids[i::3], genre_leaf_id=leaf)
                for root in leaves.values() for leaf, ids in root.items() for i in range(3)]
    clusters.append(Cluster(id="mystery", track_ids=[1, 2, 3]))  # unknown lineage: open to every track
    guard = Guard(lineages, clusters)
    return model, guard, clusters, model.centroids([c.track_ids for c in clusters]), np.arange(1, 301)


def test_guarded_ranking_by_lineage_equals_masking_every_cluster():
    model, guard, _, centroids, ids = lineage_world()
    by_lineage = guard.ranked(model, ids, centroids, 6)
    masked = model.ranked(ids, centroids, 6, guard.allowed)
    assert np.array_equal(by_lineage.columns, masked.columns)
    assert np.allclose(by_lineage.scores, masked.scores, atol=1e-6)
    allowed = guard.allowed(ids)
    assert all(allowed[i, c] for i in range(300) for c in by_lineage.columns[i] if c >= 0)


def test_score_bounds_are_never_below_a_score_and_never_above_one():
    """A track's bound is at least its best score against the centroids (under the guard: against the
    clusters it may enter), and at most what a score can be (a weighted mean of cosines); 0 for an id
    the collection lacks."""
    model, guard, _, centroids, ids = lineage_world()
    with_unknown = np.append(ids, 9999)
    bounds = model.score_bounds(with_unknown, model.peaks(centroids))
    best = model.scores(ids, centroids).max(axis=1)
    assert (bounds[:-1] >= best).all() and bounds[-1] == 0
    assert bounds.max() <= 1 + 2 * similarity.SCORE_BOUND_SLACK
    guarded = guard.score_bounds(model, ids, centroids)
    allowed_best = guard.ranked(model, ids, centroids, 1).scores[:, 0]
    assert (guarded >= allowed_best).all()
    assert (guarded <= bounds[:-1] + 1e-12).all()  # fewer clusters: lower peaks,
    assert (guarded < bounds[:-1] - 1e-6).any()  # strictly lower for some tracks
    # the bound is tight enough to settle questions: most tracks' bound is under 1
    assert (bounds[:-1] < 0.99).mean() > 0.5


@pytest.mark.parametrize("margin", [0.0, 0.02, 0.05, 0.1, 0.2])
def test_similarity_poor_fits_rank_only_open_questions_with_the_same_answer(monkeypatch, margin):
    """Members whose bound rules out a lead of ``margin`` are not ranked; the poor fits are exactly
    those of ranking every member (its best other allowed cluster ``margin`` above its own)."""
    import collection_tree.phases.reassignment as reassignment

    model, guard, clusters, centroids, _ = lineage_world()
    owner = {}
    for cluster in clusters:
        for t in cluster.track_ids:
            owner.setdefault(int(t), cluster.id)
    members = np.array(sorted(owner), dtype=np.int64)
    own_col = np.array([[c.id for c in clusters].index(owner[int(t)]) for t in members])
    own = model.scores_at(members, centroids, own_col)
    every = guard.ranked(model, members, centroids, 2)
    other = np.where(every.columns[:, 0] != own_col, every.scores[:, 0], every.scores[:, 1])
    expected = sorted(members[np.isfinite(other) & (other - own >= margin)].tolist())

    ranked_ids: list[int] = []
    real_ranked = guard.ranked

    def recording(model_, track_ids, centroids_, k):
        ranked_ids.extend(np.asarray(track_ids).tolist())
        return real_ranked(model_, track_ids, centroids_, k)

    monkeypatch.setattr(guard, "ranked", recording)
    assert reassignment.similarity_poor_fits(clusters, owner, model, centroids, guard, margin) == expected
    assert set(expected) <= set(ranked_ids)
    if margin >= 0.05:
        assert 0 < len(ranked_ids) < len(members)  # the bound settles some members, not all
    if margin == 0.0:
        assert expected  # the comparison is not an empty one


@pytest.mark.parametrize("dense_cells", [1, 1 << 25])
def test_ranked_scores_equal_the_full_product_exactly(monkeypatch, dense_cells):
    """Scored over the tracks' own features only (dense or sparse centroids, in chunks, with ids the
    collection lacks): bit for bit the scores of the product over every feature."""
    rng = np.random.default_rng(11)
    scenes = [f"Scene {i}" for i in range(40)]
    rows = [{"track_id": t, "genre": ["Rock", f"Style {int(rng.integers(12))}"],
             "scene_tags": list(rng.choice(scenes, size=int(rng.integers(0, 3)), replace=False)),
             "descriptors": [f"d{int(rng.integers(30))}"], "year": int(rng.integers(1990, 2010)),
             "bpm": float(rng.integers(80, 160)), "energy": float(rng.random())}
            for t in range(1, 401)]
    model = TrackSimilarity(tracks_frame(rows))
    centroids = model.centroids([list(range(i, 401, 37)) for i in range(1, 38)])
    ids = np.array([*range(400, 0, -3), 9999, *range(2, 401, 3), -5], dtype=np.int64)
    monkeypatch.setattr(similarity, "DENSE_CENTROID_CELLS", dense_cells)
    monkeypatch.setattr(similarity, "SCORE_CELLS", 37 * 50)  # 50 tracks per chunk
    ranked = model.ranked(ids, centroids, 37)
    known = model.rows(ids) >= 0
    full = model.scores(ids[known], centroids)  # known ids only, one row each
    for row, i in enumerate(np.flatnonzero(known).tolist()):
        assert np.array_equal(ranked.scores[i], full[row][ranked.columns[i]])
        assert ranked.scores[i].tolist() == sorted(full[row].tolist(), reverse=True)
    assert (ranked.scores[~known] == 0).all()  # unknown ids score 0 everywhere


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_the_argmax_top_k_equals_the_argpartition_top_k(monkeypatch, k):
    """Up to ``TOP_BY_ARGMAX`` the best k come from argmax passes: the same columns and scores as the
    first k of the argpartition path, ties (repeated centroids) and masked clusters included."""
    rng = np.random.default_rng(5)
    rows = [{"track_id": t, "genre": ["Rock", f"Style {int(rng.integers(6))}"], "year": int(rng.integers(1995, 2000))}
            for t in range(1, 301)]
    model = TrackSimilarity(tracks_frame(rows))
    groups = [list(range(i, 301, 11)) for i in range(1, 12)]
    centroids = model.centroids(groups + groups[:3])  # three centroids repeated: ties at every rank

    def some_masked(chunk: np.ndarray) -> np.ndarray:
        allowed = np.ones((len(chunk), 14), dtype=bool)
        allowed[chunk % 3 == 0, :12] = False  # every third track: two clusters left, then -inf
        return allowed

    assert k <= similarity.TOP_BY_ARGMAX
    deep = model.ranked(np.arange(1, 301), centroids, similarity.TOP_BY_ARGMAX + 3, some_masked)
    shallow = model.ranked(np.arange(1, 301), centroids, k, some_masked)
    assert np.array_equal(shallow.columns, deep.columns[:, :k])
    assert np.array_equal(shallow.scores, deep.scores[:, :k])
    assert (shallow.columns[2, 2:] == -1).all()  # track 3: padded past its two allowed clusters


def test_signature_groups_are_the_groups_of_unique_rows():
    from collection_tree.phases.placement import _signature_groups

    rng = np.random.default_rng(9)
    for width in (0, 3, 8, 21):
        distinct = rng.random((40, width)) < 0.3
        signature = distinct[rng.integers(0, 40, 2000)]
        unique, group = _signature_groups(signature)
        expected, inverse = np.unique(signature, axis=0, return_inverse=True)
        assert len(unique) == len(expected)
        assert np.array_equal(unique[group], signature)  # every row is its group's signature
        assert np.array_equal(unique, expected) and np.array_equal(group, inverse.ravel())  # same order too


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tfidf_and_l2_rows_equal_scikit_learns_to_the_bit(dtype):
    """core.tfidf spares the model scikit-learn's import; its numbers must be scikit-learn's own."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.preprocessing import normalize

    from collection_tree.core.tfidf import l2_rows, tfidf_rows

    rng = np.random.default_rng(5)
    dense = rng.random((400, 60)) * (rng.random((400, 60)) < 0.15) * rng.integers(1, 5, (400, 60))
    dense[[3, 77, 200]] = 0.0  # empty rows stay empty
    dense[:, 7] = 0.0  # a term no row has
    dense[10, :] = 1e-30  # tiny values on every term of one row
    counts = sp.csr_matrix(dense.astype(dtype))
    ours, theirs = tfidf_rows(counts), TfidfTransformer(norm="l2", smooth_idf=True).fit_transform(counts)
    rows = sp.csr_matrix(rng.random((300, 40)).astype(dtype) * (rng.random((300, 40)) < 0.3))
    for mine, reference in ((ours, theirs), (l2_rows(rows), normalize(rows))):
        assert mine.dtype == reference.dtype == dtype
        assert np.array_equal(mine.indptr, reference.indptr) and np.array_equal(mine.indices, reference.indices)
        assert np.array_equal(mine.data, reference.data)  # bit for bit, not approximately
    assert counts.nnz and np.array_equal(counts.toarray(), dense.astype(dtype))  # the inputs are left as they were
    assert rows.nnz and np.isclose(np.linalg.norm(l2_rows(rows).toarray(), axis=1).max(), 1.0, atol=1e-6)


def test_importing_the_code_location_does_not_import_scikit_learn():
    """scikit-learn (~0.7 s to import) and scipy.optimize (0.16 s): the code location, the CLI and an
    update do without them."""
    import subprocess
    import sys

    code = ("import sys, collection_tree.definitions, collection_tree.operations, collection_tree.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'anthropic')"
            " or m.startswith('scipy.optimize')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
