"""The demo's vocabulary grows with the collection like a real catalogue's: the reference size keeps the
base vocabulary, larger sizes add sub-genres, cities, scenes and eras drawn from word lists (never
numbered names), a larger vocabulary contains every smaller one, and grown collections keep the
reference's shape: 20-60 tracks per seed cluster, the same share of orphans, the same noise kinds,
trees whose nodes hold exactly their parent's matching tracks."""

import re
from itertools import pairwise

import numpy as np
import pytest

from collection_tree import demo, demo_taxonomy, demo_vocab, demo_vocab_scale
from collection_tree.core.inputs import collect_leaves, load_tracks
from collection_tree.phases.seed_clusters import build_seed_clusters

SIZES = (demo_taxonomy.REFERENCE_TRACKS, 20_000, 100_000, 1_000_000)


def base_movement_titles() -> list[str]:
    return [m[0] for _region, _countries, cities in demo_vocab.SCENE_REGIONS for _c, _k, moves in cities for m in moves]


def movement_titles(voc: demo_taxonomy.Vocabulary) -> list[str]:
    return [m.title for m in voc.scenes.movements]


def genre_leaf_titles(voc: demo_taxonomy.Vocabulary) -> list[str]:
    return [voc.genres.titles[g] for g in voc.genres.leaves.tolist()]


@pytest.fixture(scope="module")
def vocabularies() -> dict[int, demo_taxonomy.Vocabulary]:
    return {n: demo_taxonomy.vocabulary(n) for n in SIZES}


# ------------------------------------------------------------------------------------ the vocabulary
def test_up_to_the_reference_size_the_vocabulary_is_the_base_one():
    for n in (demo.MIN_TRACKS, 600, demo_taxonomy.REFERENCE_TRACKS):
        voc = demo_taxonomy.vocabulary(n)
        assert not voc.grown and voc.words == demo_taxonomy.BASE_WORDS
        assert sorted(movement_titles(voc)) == sorted(base_movement_titles())
        assert [voc.genres.titles[r] for r in voc.genres.roots] == [r for r, _b, _f in demo_vocab.GENRE_LINEAGES]
        assert len(voc.scenes.leaf_ids) == demo_taxonomy.base_scene_leaves()
    assert demo_taxonomy.vocabulary(demo_taxonomy.REFERENCE_TRACKS + 500).grown


def test_vocabulary_grows_with_n_and_contains_every_smaller_one(vocabularies):
    sizes = sorted(vocabularies)
    base = vocabularies[sizes[0]]
    for smaller, larger in pairwise(sizes):
        small, big = vocabularies[smaller], vocabularies[larger]
        assert len(big.scenes.leaf_ids) > len(small.scenes.leaf_ids)
        assert len(big.genres.leaves) > len(small.genres.leaves)
        assert set(movement_titles(small)) <= set(movement_titles(big))
        assert set(genre_leaf_titles(small)) <= set(genre_leaf_titles(big))
        assert set(big.scenes.tags) >= set(small.scenes.tags)
    # Scene leaves follow N^SCENE_GROWTH (a movement adds up to 4 slices at once), genre leaves N^GENRE_GROWTH.
    for n in sizes[1:]:
        scene_leaves = len(vocabularies[n].scenes.leaf_ids)
        target = demo_taxonomy.scene_leaf_target(n)
        assert target <= scene_leaves <= target + 3
        ratio = n / sizes[0]
        genre_ratio = len(vocabularies[n].genres.leaves) / len(base.genres.leaves)
        assert genre_ratio == pytest.approx(ratio ** demo_taxonomy.GENRE_GROWTH, rel=0.05)
    assert demo_taxonomy.scene_leaf_target(1_000_000) / demo_taxonomy.base_scene_leaves() == pytest.approx(
        (1_000_000 / demo_taxonomy.REFERENCE_TRACKS) ** demo_taxonomy.SCENE_GROWTH, rel=0.001)


def test_grown_names_come_from_the_word_lists(vocabularies):
    """Every added genre is a named sub-genre or a qualifier plus a known genre; every added movement is
    "<city> <its own genre>" in a listed city, within the years music was made."""
    voc = vocabularies[max(SIZES)]
    genres, scenes = voc.genres, voc.scenes
    base_leaves = set(genre_leaf_titles(vocabularies[min(SIZES)]))
    named = {t for _root, _branch, titles in demo_vocab_scale.EXTRA_GENRES for t in titles}
    sounds = {**demo_vocab.SOUND, **demo_vocab_scale.EXTRA_SOUND}
    qualified = 0
    for title in set(genre_leaf_titles(voc)) - base_leaves:
        if title in named:
            continue
        root = genres.titles[genres.root[genres.by_title[title]]]
        options = [(q, title.removeprefix(q).lstrip()) for q in demo_vocab_scale.GENRE_QUALIFIERS[
            sounds[root].artist_style] if title.startswith(q)]
        assert any(rest in base_leaves and rest not in demo_vocab_scale.PLACE_BOUND_GENRES for _q, rest in options), \
            title
        qualified += 1
    assert qualified > 1000 and named <= set(genre_leaf_titles(voc))
    cities = {c.name for c in demo_taxonomy._cities()}
    added = [m for m in scenes.movements if m.title not in set(base_movement_titles())]
    assert len(added) > 10_000
    for move in added:
        city = scenes.tags[move.city_tag]
        assert city in cities and move.title == f"{city} {genres.titles[move.genres[0]]}"
        assert set(move.genres) <= set(genres.leaves.tolist())
        assert demo_taxonomy.EARLIEST_YEAR <= move.start <= move.end <= demo_taxonomy.LATEST_YEAR
        assert not re.search(r"\d", move.title.replace(genres.titles[move.genres[0]], ""))
    # Cities of every region (and new regions) take part; music capitals hold more scenes.
    per_city = {c: 0 for c in cities}
    for move in added:
        per_city[scenes.tags[move.city_tag]] += 1
    assert sum(1 for count in per_city.values() if count) > 0.95 * len(cities)
    assert {"East Asia", "Eastern Europe", "Oceania", "Canada"} <= {spec["title"] for spec in scenes.specs}
    assert per_city["London"] > np.median(list(per_city.values())) * 2


def test_grown_word_lists_extend_the_base_ones(vocabularies):
    words = vocabularies[max(SIZES)].words
    for field in ("first_names", "last_names", "stage_words", "adjectives", "nouns"):
        grown, base = getattr(words, field), getattr(demo_taxonomy.BASE_WORDS, field)
        assert grown[: len(base)] == base and len(grown) > len(base) * 1.4 and len(set(grown)) == len(grown)


# ------------------------------------------------------------------------------------ grown collections
@pytest.fixture(scope="module")
def grown() -> dict[int, demo.DemoCollection]:
    return {n: demo.generate_demo_collection(n, 3) for n in (12_000, 40_000)}


def test_seed_clusters_grow_with_n_at_20_to_60_tracks_each(grown):
    stats = {n: demo.collection_stats(c) for n, c in grown.items()}
    reference = demo.collection_stats(demo.generate_demo_collection(demo_taxonomy.REFERENCE_TRACKS, 3))
    for n, figures in [(demo_taxonomy.REFERENCE_TRACKS, reference), *stats.items()]:
        assert 20 <= n / figures["seed_clusters"] <= 60, (n, figures)
        assert 0.35 <= figures["tracks_in_no_seed"] / n <= 0.65
        assert figures["niches"] > figures["seed_clusters"]
    small, big = stats[12_000], stats[40_000]
    assert big["seed_clusters"] / small["seed_clusters"] > (40_000 / 12_000) ** 0.8
    assert big["scene_leaves"] > small["scene_leaves"] > reference["scene_leaves"]
    assert big["genre_leaves"] > small["genre_leaves"] > reference["genre_leaves"]


def test_grown_collection_keeps_the_noise_model_and_recovers_its_niches(grown, tmp_path):
    collection = grown[40_000]
    demo.save_demo_collection(collection, tmp_path)
    tracks = load_tracks(tmp_path / "tracks.csv")
    assert len(tracks) == collection.n_tracks and tracks["track_id"].is_unique
    assert tracks["location"].str.casefold().is_unique
    n = len(tracks)
    in_genre_leaf = {t for leaf in collect_leaves(collection.genre_tree) for t in leaf["track_ids"]}
    in_scene_leaf = {t for leaf in collect_leaves(collection.scene_tree) for t in leaf["track_ids"]}
    roots = {collection_root for collection_root, _b, _f in demo_vocab.GENRE_LINEAGES} | set(
        demo_vocab_scale.EXTRA_SOUND)
    assert 0.05 * n < n - len(in_genre_leaf) < 0.35 * n
    assert 0.1 * n < n - len(in_scene_leaf) < 0.45 * n
    assert 0 < (tracks["scene_tags"].map(len) == 0).sum() < 0.1 * n
    assert 0 < sum(len(set(g) & roots) > 1 for g in tracks["genre"]) < 0.05 * n
    agree = np.mean([demo.era_phrase(int(y)) == e for y, e in zip(tracks["year"], tracks["era"], strict=True)])
    assert 0.98 < agree < 1.0
    per_artist = tracks.groupby("artist").size()
    assert per_artist.mean() > 2 and not tracks["artist"].str.fullmatch(r".* \d+").any()
    # Phase 1 recovers the niches, as at the reference size.
    truth = collection.ground_truth
    niche_of = dict(zip(truth["track_id"], truth["niche_id"], strict=True))
    seeds = build_seed_clusters(collection.genre_tree, collection.scene_tree, 5)
    niche_ids = set(truth["niche_id"])
    assert np.mean([s in niche_ids for s in seeds["id"]]) > 0.9
    assert np.mean([np.mean([niche_of[t] == sid for t in ids]) for sid, ids in zip(
        seeds["id"], seeds["track_ids"], strict=True)]) > 0.85
    # The lazily parsed frame is what the input contract reads.
    assert tracks.equals(collection.tracks[list(tracks.columns)])


@pytest.mark.parametrize("tree_name", ["genre_tree", "scene_tree"])
def test_grown_tree_nodes_hold_exactly_their_parents_matching_tracks(grown, tree_name):
    collection = grown[12_000]
    tracks = collection.tracks
    facets = {int(t): ({v.casefold() for v in g}, {v.casefold() for v in s}, int(y)) for t, g, s, y in zip(
        tracks["track_id"], tracks["genre"], tracks["scene_tags"], tracks["year"], strict=True)}

    def match(track: tuple, filters: dict) -> bool:
        genre, scene, year = track
        wanted = {w.casefold() for w in filters.get("genre", filters.get("scene_tags", []))}
        if not (genre if "genre" in filters else scene) & wanted:
            return False
        return "year_range" not in filters or filters["year_range"][0] <= year <= filters["year_range"][1]

    def check(nodes: list, pool: list[int]) -> None:
        for node in nodes:
            assert node["track_ids"] == [t for t in pool if match(facets[t], node["filters"])], node["id"]
            assert len(node["track_ids"]) >= demo.MIN_NODE_TRACKS
            check(node["children"], node["track_ids"])

    tree = getattr(collection, tree_name)
    check(tree["lineages"], sorted(facets))
    ids = [s["id"] for s in demo_taxonomy.walk_specs(tree["lineages"])]
    assert len(ids) == len(set(ids))
