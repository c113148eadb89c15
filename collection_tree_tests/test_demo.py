"""The demo collection generator: determinism, the input contract (it loads like the real data),
the scale it is tuned for, tree invariants, ground truth, reuse of a written collection and the CLI."""

import csv
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from collection_tree import demo, settings
from collection_tree.cli import main
from collection_tree.core.inputs import collect_leaves, load_tracks, load_tree
from collection_tree.phases.seed_clusters import build_seed_clusters

SMALL = 600  # fast enough for the tests that regenerate


@pytest.fixture(scope="module")
def default_dir(tmp_path_factory) -> Path:
    """The default demo collection (6,303 tracks, seed 42), written once for the module."""
    out = tmp_path_factory.mktemp("demo_default")
    demo.write_demo_collection(out)
    return out


@pytest.fixture(scope="module")
def loaded(default_dir):
    tracks = load_tracks(default_dir / "tracks.csv")
    known = set(tracks["track_id"].tolist())
    genre = load_tree(default_dir / "genre_tree.json", "genre", known)
    scene = load_tree(default_dir / "scene_tree.json", "scene", known)
    return tracks, genre, scene


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in demo.FILES.values()}


def walk(nodes, parent=None):
    for node in nodes:
        yield node, parent
        yield from walk(node["children"], node)


# ------------------------------------------------------------------------------------- determinism
def test_same_seed_gives_byte_identical_files_and_another_seed_differs(tmp_path):
    a = demo.write_demo_collection(tmp_path / "a", SMALL, 7)
    b = demo.write_demo_collection(tmp_path / "b", SMALL, 7)
    demo.write_demo_collection(tmp_path / "c", SMALL, 8)
    assert set(a) == {"tracks", "genre_tree", "scene_tree", "ground_truth", "manifest"}
    first, second, other = file_bytes(tmp_path / "a"), file_bytes(tmp_path / "b"), file_bytes(tmp_path / "c")
    assert first == second
    for name in demo.FILES.values():
        assert first[name] != other[name], name
    # The in-memory collection carries exactly the bytes written.
    assert demo.generate_demo_collection(SMALL, 7).files == first
    assert a["manifest"].read_bytes() == b["manifest"].read_bytes()


def test_another_process_with_other_hash_seeds_writes_the_same_bytes():
    """Byte-identical across runs, not just within one: no set or hash ordering leaks into the files."""
    script = ("import hashlib, sys; from collection_tree.demo import generate_demo_collection; "
              f"files = generate_demo_collection({SMALL}, 7).files; "
              "print(hashlib.sha256(b''.join(files[k] for k in sorted(files))).hexdigest())")
    here = demo.generate_demo_collection(SMALL, 7).files
    expected = hashlib.sha256(b"".join(here[k] for k in sorted(here))).hexdigest()
    for hash_seed in ("1", "2"):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": hash_seed})
        assert done.stdout.strip() == expected


# The files as generator version 1 wrote them: growing the vocabulary with N must leave collections
# up to the reference size (the default demo and the small test size) byte for byte as they were.
PINNED = {
    (settings.DEMO_TRACKS, settings.DEMO_SEED): {
        "tracks.csv": "e6e5d190a6395231734549415b057e5a2fb0d00c88784ca1070233cbb215cd11",
        "genre_tree.json": "86e270c734d2a1f798d8952003af79c71429ec2df4e78961d978bf7ca19733b6",
        "scene_tree.json": "0f0869fbb7606ed8f4516fae58d4e4668dd4bc1a8da9da2dfb20e290037dd9a2",
        "ground_truth.csv": "12e7ce2bdb1a449d63019a9aadf01513143430125c0bd4065f9e2a4c4634b426",
    },
    (SMALL, 7): {
        "tracks.csv": "d50420cb40df9b163293e788226b2363c0123be0c536a4dbf31bd1979bb325c6",
        "genre_tree.json": "84a2678e6e04bc0ac2635a37ef6c46de4fc3fda3512ee528fa8465306133ebf5",
        "scene_tree.json": "3192caa7931f8063ea61598ab4fe4f629aac93387de4f990561b7f24985c4ac1",
        "ground_truth.csv": "e7483bdac2660c84ad55ea69591b5b7d09aea6104f6bf615feb3f60e182e5607",
    },
}


@pytest.mark.parametrize(("n_tracks", "seed"), list(PINNED))
def test_reference_sized_collections_are_byte_identical_to_the_pinned_files(n_tracks, seed):
    files = demo.generate_demo_collection(n_tracks, seed).files
    assert {name: hashlib.sha256(data).hexdigest() for name, data in files.items()} == PINNED[(n_tracks, seed)]


def test_bad_sizes_and_seeds_are_refused():
    for n in (0, 10, demo.MIN_TRACKS - 1, True, 100.5):
        with pytest.raises(ValueError, match="n_tracks"):
            demo.generate_demo_collection(n, 1)
    with pytest.raises(ValueError, match="seed"):
        demo.generate_demo_collection(SMALL, -1)


# ---------------------------------------------------------------------------------- input contract
def test_files_load_through_the_input_contract_without_warnings(default_dir, caplog):
    with caplog.at_level(logging.WARNING):
        tracks = load_tracks(default_dir / "tracks.csv")
        known = set(tracks["track_id"].tolist())
        genre = load_tree(default_dir / "genre_tree.json", "genre", known)
        scene = load_tree(default_dir / "scene_tree.json", "scene", known)
    assert not caplog.records
    assert len(tracks) == settings.DEMO_TRACKS
    assert tracks["track_id"].tolist() == list(range(1, settings.DEMO_TRACKS + 1))
    assert genre.dropped_unknown_ids == 0 and scene.dropped_unknown_ids == 0
    assert not genre.warnings and not scene.warnings
    assert set(demo.TRACK_COLUMNS) <= set(tracks.columns)
    # The loaded trees are the written ones (nothing cleaned away).
    for tree in (genre, scene):
        raw = json.loads(Path(tree.path).read_text(encoding="utf-8"))
        assert tree.doc == raw
        assert re.fullmatch(rf"{tree.tree_type}-[0-9a-f]{{8}}", tree.id)
        digest = hashlib.sha256(json.dumps(raw["lineages"], sort_keys=True, ensure_ascii=False,
                                           separators=(",", ":")).encode("utf-8")).hexdigest()
        assert tree.id == f"{tree.tree_type}-{digest[:8]}"
        assert tree.created_at == demo.CREATED_AT


def test_csv_matches_the_real_data_format(default_dir, loaded):
    tracks, _genre, _scene = loaded
    with (default_dir / "tracks.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(demo.TRACK_COLUMNS)
    row = next(r for r in rows if r["genre"].count(";") >= 2 and r["scene_tags"] and r["descriptors"])
    assert "; " in row["genre"] and "; " in row["scene_tags"]
    # The comment is what a tagger wrote; the facets are parsed from it.
    assert f"Genre: {row['genre'].replace('; ', ' / ')}" in row["comment"]
    assert f"Era: {row['era']} ({row['year']})" in row["comment"]
    assert f"Descriptors: {row['descriptors'].replace('; ', ', ')}" in row["comment"]
    assert re.fullmatch(r"(early|mid|late) \d{3}0s", row["era"])
    assert re.fullmatch(r"[A-G][#b]?m?", row["key"])
    for r in rows:
        assert re.fullmatch(r"Music/[^/]+/[^/]+\.(flac|mp3|aiff)", r["location"]), r["location"]
        assert not re.search(r'[<>:"\\|?*]', r["location"])
    assert len({r["location"].casefold() for r in rows}) == len(rows)
    assert tracks["energy"].between(1, 10).all()
    assert tracks["duration"].gt(60).all()


def test_facets_are_plausible(loaded):
    tracks, _genre, _scene = loaded
    genre_lists = tracks["genre"].tolist()
    # Broad to specific: the first genre is a lineage root.
    roots = {title for title, _branches, _flat in demo.vocab.GENRE_LINEAGES}
    assert all(g[0] in roots for g in genre_lists)
    # Lineage-typical tempo: drum & bass styles (bar half-time) without a contradicting lineage sit near 170-176.
    dnb = [b for g, b in zip(genre_lists, tracks["bpm"], strict=True)
           if g[0] == "Drum & Bass" and len(g) > 1 and "Halftime" not in g and not set(g) & (roots - {g[0]})]
    assert len(dnb) > 50 and all(168 <= b <= 178 for b in dnb if not np.isnan(b))
    # Era phrases agree with years except for the few contradictions.
    agree = np.mean([demo.era_phrase(int(y)) == e for y, e in zip(tracks["year"], tracks["era"], strict=True)])
    assert 0.98 < agree < 1.0
    # Artists recur (several tracks each) and mostly within one niche.
    per_artist = tracks.groupby("artist").size()
    assert per_artist.mean() > 2 and per_artist.max() > 5


# --------------------------------------------------------------------------------------- the scale
def test_scale_matches_the_first_versions_collection():
    collection = demo.generate_demo_collection()
    stats = demo.collection_stats(collection)
    n = settings.DEMO_TRACKS
    # The reference: ~233 genre leaves, ~275 scene leaves, ~298 seeds; about half the tracks orphans.
    assert 200 <= stats["genre_leaves"] <= 265
    assert 240 <= stats["scene_leaves"] <= 310
    assert 250 <= stats["seed_clusters"] <= 350
    assert 0.35 <= stats["tracks_in_no_seed"] / n <= 0.65
    # Seeds come out of the tree files exactly as phase 1 computes them.
    seeds = build_seed_clusters(collection.genre_tree, collection.scene_tree, 5)
    assert len(seeds) == stats["seed_clusters"]
    assert seeds["track_count"].min() >= 5


def test_noise_leaves_orphans_of_each_kind(loaded):
    tracks, genre, scene = loaded
    n = len(tracks)
    in_genre_leaf = {t for leaf in collect_leaves(genre.doc) for t in leaf["track_ids"]}
    in_scene_leaf = {t for leaf in collect_leaves(scene.doc) for t in leaf["track_ids"]}
    empty_scene = int((tracks["scene_tags"].map(len) == 0).sum())
    roots = {title for title, _branches, _flat in demo.vocab.GENRE_LINEAGES}
    two_lineages = sum(len(set(g) & roots) > 1 for g in tracks["genre"])
    assert 0.05 * n < n - len(in_genre_leaf) < 0.35 * n  # tagged at branch level only
    assert 0.1 * n < n - len(in_scene_leaf) < 0.45 * n  # place-only, drifted, swapped or no scene tags
    assert 0 < empty_scene < 0.1 * n
    assert 0 < two_lineages < 0.05 * n
    # Descriptors are shared across lineages (no descriptor identifies a niche by itself).
    lineages_of = Counter()
    for g, descriptors in zip(tracks["genre"], tracks["descriptors"], strict=True):
        for d in set(descriptors):
            lineages_of[(d, g[0])] += 1
    spread = Counter(d for d, _root in lineages_of)
    assert sum(count >= 3 for count in spread.values()) >= 10


# ---------------------------------------------------------------------------------- tree invariants
@pytest.mark.parametrize("tree_name", ["genre", "scene"])
def test_every_node_holds_exactly_the_parent_tracks_matching_its_filters(loaded, tree_name):
    tracks, genre, scene = loaded
    tree = genre if tree_name == "genre" else scene
    facets = {
        int(t): {"genre": {v.casefold() for v in g}, "scene_tags": {v.casefold() for v in s}, "year": int(y)}
        for t, g, s, y in zip(tracks["track_id"], tracks["genre"], tracks["scene_tags"], tracks["year"], strict=True)
    }

    def match(track: dict, filters: dict) -> bool:
        for key, wanted in filters.items():
            if key == "year_range":
                if not wanted[0] <= track["year"] <= wanted[1]:
                    return False
            elif not track[key] & {w.casefold() for w in wanted}:
                return False
        return True

    ids = [node["id"] for node, _ in walk(tree.doc["lineages"])]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", i) for i in ids)
    for node, parent in walk(tree.doc["lineages"]):
        assert node["track_ids"] == sorted(node["track_ids"])
        assert len(node["track_ids"]) >= demo.MIN_NODE_TRACKS
        assert set(node["filters"]) <= {"genre", "scene_tags", "year_range"}
        pool = parent["track_ids"] if parent else facets.keys()
        expected = sorted(t for t in pool if match(facets[t], node["filters"]))
        assert node["track_ids"] == expected, node["id"]
        for child in node["children"]:
            assert set(child["track_ids"]) <= set(node["track_ids"])
    leaves = collect_leaves(tree.doc)
    assert all(leaf["children"] == [] for leaf in leaves)
    assert max(len(leaf["lineage"]) for leaf in leaves) >= 3  # depth 3 somewhere: broad to specific


def test_lineages_read_like_music(loaded):
    _tracks, genre, scene = loaded
    genre_paths = {" > ".join(leaf["lineage"]) for leaf in collect_leaves(genre.doc)}
    assert {"House > Deep House > Lo-Fi House", "Techno > Minimal Techno", "Drum & Bass > Liquid",
            "Hip-Hop > Boom Bap", "Rock > Post-Punk", "Jazz > Spiritual Jazz"} <= genre_paths
    scene_leaves = {leaf["title"]: leaf for leaf in collect_leaves(scene.doc)}
    for title in ("Berlin Minimal 2000-2008", "Detroit Techno Second Wave 1990-1997", "Bristol Sound 1991-1999",
                  "UK Garage 1997-2003", "Chicago Acid 1986-1990", "Lo-Fi House Revival 2014-2019"):
        assert title in scene_leaves
    leaf = scene_leaves["Berlin Minimal 2000-2008"]
    assert leaf["lineage"] == ["Germany", "Berlin", "Berlin Minimal 2000-2008"]
    assert leaf["filters"] == {"scene_tags": ["Berlin Minimal"], "year_range": [2000, 2008]}


# ------------------------------------------------------------------------------------- ground truth
def test_ground_truth_covers_every_track_and_explains_the_seeds(default_dir, loaded):
    tracks, genre, scene = loaded
    with (default_dir / "ground_truth.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["track_id", "niche_id", "genre_leaf_id", "scene_leaf_id"]
    assert [int(r["track_id"]) for r in rows] == tracks["track_id"].tolist()
    assert all(r["niche_id"] == f"{r['genre_leaf_id']}__{r['scene_leaf_id']}" for r in rows)
    genre_leaves = {leaf["id"]: set(leaf["track_ids"]) for leaf in collect_leaves(genre.doc)}
    scene_leaves = {leaf["id"]: set(leaf["track_ids"]) for leaf in collect_leaves(scene.doc)}
    in_own_genre = np.mean([int(r["track_id"]) in genre_leaves.get(r["genre_leaf_id"], ()) for r in rows])
    in_own_scene = np.mean([int(r["track_id"]) in scene_leaves.get(r["scene_leaf_id"], ()) for r in rows])
    assert 0.6 < in_own_genre < 0.95 and 0.5 < in_own_scene < 0.9  # noise moves the rest elsewhere
    # Phase 1 recovers the niches: seed ids are niche ids and their tracks mostly come from that niche.
    niche_of = {int(r["track_id"]): r["niche_id"] for r in rows}
    seeds = build_seed_clusters(genre.doc, scene.doc, 5)
    assert np.mean([s in set(niche_of.values()) for s in seeds["id"]]) > 0.9
    purity = [np.mean([niche_of[t] == sid for t in ids]) for sid, ids in zip(seeds["id"], seeds["track_ids"],
                                                                              strict=True)]
    assert np.mean(purity) > 0.85


# ------------------------------------------------------------------------------------------- ensure
def test_ensure_reuses_a_complete_collection_and_regenerates_a_broken_one(tmp_path):
    out = tmp_path / "demo"
    assert demo.ensure_demo_collection(out, SMALL, 3) == out
    expected = file_bytes(out)
    stamps = {name: (out / name).stat().st_mtime_ns for name in expected}
    (out / "marker").write_text("x")
    demo.ensure_demo_collection(out, SMALL, 3)
    assert {name: (out / name).stat().st_mtime_ns for name in expected} == stamps  # reused, not rewritten

    # A truncated file, a missing file, a corrupt manifest, another seed: each makes it regenerate.
    tracks = out / "tracks.csv"
    tracks.write_bytes(tracks.read_bytes()[:1000])
    demo.ensure_demo_collection(out, SMALL, 3)
    assert file_bytes(out) == expected
    (out / "scene_tree.json").unlink()
    demo.ensure_demo_collection(out, SMALL, 3)
    assert file_bytes(out) == expected
    (out / demo.MANIFEST).write_text("{not json")
    assert not demo.is_complete(out, SMALL, 3)
    demo.ensure_demo_collection(out, SMALL, 3)
    assert demo.is_complete(out, SMALL, 3) and file_bytes(out) == expected
    demo.ensure_demo_collection(out, SMALL, 4)
    assert demo.is_complete(out, SMALL, 4) and not demo.is_complete(out, SMALL, 3)


def test_ensure_defaults_and_the_input_resource_use_the_settings(tmp_path, monkeypatch):
    import dagster

    from collection_tree.resources.factory import build_resources

    monkeypatch.setenv(settings.Settings.env_name("output"), str(tmp_path))
    with dagster.build_resources(build_resources()) as resources:  # as a run initialises them
        paths = resources.inputs.resolved()
    demo_dir = tmp_path / "demo_collection"
    assert paths["tracks"] == demo_dir / "tracks.csv"
    manifest = json.loads((demo_dir / demo.MANIFEST).read_text())
    assert (manifest["n_tracks"], manifest["seed"], manifest["version"]) == (
        settings.DEMO_TRACKS, settings.DEMO_SEED, demo.GENERATOR_VERSION)
    assert demo.is_complete(demo_dir)
    assert all(p.exists() for p in paths.values())


# ------------------------------------------------------------------------------------ other sizes
def test_small_and_large_collections_stay_valid():
    for n in (demo.MIN_TRACKS, 30_000):
        collection = demo.generate_demo_collection(n, 5)
        assert len(collection.tracks) == n and len(collection.ground_truth) == n
        for tree in (collection.genre_tree, collection.scene_tree):
            assert tree["lineages"] and all(leaf["track_ids"] for leaf in collect_leaves(tree))
            for node, parent in walk(tree["lineages"]):
                assert parent is None or set(node["track_ids"]) <= set(parent["track_ids"])
        stats = demo.collection_stats(collection)
        assert 0 < stats["tracks_in_no_seed"] < n
    # The bigger collection fills every niche: more leaves and seeds than the default size, never more
    # leaves than the vocabulary has.
    big = demo.collection_stats(collection)
    assert big["seed_clusters"] > 350 and big["genre_leaves"] <= len(demo.vocabulary(30_000).genres.leaves)


# --------------------------------------------------------------------------------------------- CLI
def test_cli_writes_the_collection_and_prints_the_figures(tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["demo-data", "--tracks", str(SMALL), "--seed", "11", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert all((out / name).exists() for name in demo.FILES.values())
    assert file_bytes(out) == demo.generate_demo_collection(SMALL, 11).files
    stats = demo.collection_stats(demo.generate_demo_collection(SMALL, 11))
    assert f"genre leaves {stats['genre_leaves']}" in printed
    assert f"scene leaves {stats['scene_leaves']}" in printed
    assert f"seed clusters >= 5: {stats['seed_clusters']}" in printed
    assert f"tracks in no seed: {stats['tracks_in_no_seed']:,}" in printed
    assert str(out / "tracks.csv") in printed
    assert demo.is_complete(out, SMALL, 11)

    assert main(["demo-data", "--tracks", "3", "--out", str(tmp_path / "bad")]) == 2
    assert "n_tracks" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
