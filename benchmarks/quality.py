"""Curation quality of built trees, for both profiles and both providers.

* Against ground truth (the demo collection's niche per track, ``ground_truth.csv``): adjusted mutual
  information (AMI) between leaves and niches, purity (share of tracks whose leaf's majority niche is
  their own), inverse purity (share of tracks in the leaf holding most of their niche: how little a
  niche is scattered), categories count, leaf size distribution, share of tracks assigned.
* Without ground truth (the Genius collection): per leaf, the share of its tracks whose facets hold the
  leaf's genre filter values (genre purity) and its scene values (scene tags, era, year range: scene
  purity), over all tracks and averaged per leaf. A track "contradicts" its leaf when it sits in
  genre-tree leaves none of which is under the leaf's genre lineage (with the genre tree; without it,
  when its genre values miss the leaf's genre filter): a scene or year match does not make a metal
  leaf right for a pop track.
* The curation figures of ``../shared/tools/curation.py``, computed by ``collection_tree.core.curation``:
  cross-lineage share, category lineage purity, category and leaf title fit, repeated description
  openings, broken titles, leaves outside the size bounds.

    python -m benchmarks.quality                                  # matrix: demo + genius x offline + fake
    python -m benchmarks.quality --collections demo --providers offline
    python -m benchmarks.quality OUTPUT_DIR --tracks T.csv [--ground-truth G.csv]   # one built output

Builds run through ``benchmarks.harness`` (a child process per build, ``dagster.materialize``); the
"fake" provider is the real Anthropic SDK against the loopback fake server (no latency here).
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.harness import FakeServerProcess, failed_build, markdown_table, run_build, write_results
from collection_tree.core.clusters import ClusterSet
from collection_tree.core.curation import curation_figures, genre_lineages, leaf_roots, rounded
from collection_tree.core.inputs import load_tracks
from collection_tree.core.search import FacetIndex

SCENE_KEYS = ("scene_tags", "year_range", "era")
SIZE_BINS = (0, 5, 8, 13, 21, 34, 55, 89, 144, 10**9)  # leaf size histogram edges (Fibonacci-ish)


def leaf_labels(tree: Mapping[str, Any]) -> dict[int, str]:
    return {int(t): leaf["id"] for cat in tree["categories"] for leaf in cat["leaves"] for t in leaf["track_ids"]}


def leaf_sizes(tree: Mapping[str, Any]) -> list[int]:
    return [int(leaf["track_count"]) for cat in tree["categories"] for leaf in cat["leaves"]]


def adjusted_mutual_info(labels_true: Sequence[Any], labels_pred: Sequence[Any]) -> float:
    from sklearn.metrics import adjusted_mutual_info_score

    return float(adjusted_mutual_info_score(labels_true, labels_pred))


def purity(labels_true: Sequence[Any], labels_pred: Sequence[Any]) -> float:
    """Share of tracks whose leaf's majority niche is their own niche (1.0: no leaf mixes niches)."""
    by_leaf: dict[Any, Counter] = {}
    for truth, pred in zip(labels_true, labels_pred, strict=True):
        by_leaf.setdefault(pred, Counter())[truth] += 1
    return sum(c.most_common(1)[0][1] for c in by_leaf.values()) / max(len(labels_true), 1)


def inverse_purity(labels_true: Sequence[Any], labels_pred: Sequence[Any]) -> float:
    """Share of tracks in their niche's majority leaf (1.0: no niche is scattered over leaves)."""
    return purity(labels_pred, labels_true)


def size_histogram(sizes: Iterable[int], edges: Sequence[int] = SIZE_BINS) -> dict[str, int]:
    """Leaves per size bin, keys like ``"8-12"`` and ``">=144"``."""
    values = np.asarray(list(sizes), dtype=np.int64)
    out: dict[str, int] = {}
    for lo, hi in itertools.pairwise(edges):
        label = f">={lo}" if hi >= 10**9 else f"{lo}-{hi - 1}"
        out[label] = int(((values >= lo) & (values < hi)).sum())
    return out


def structure(tree: Mapping[str, Any]) -> dict[str, Any]:
    sizes = np.asarray(leaf_sizes(tree), dtype=np.int64)
    has = sizes.size > 0
    return {
        "categories": len(tree["categories"]),
        "leaves": int(sizes.size),
        "leaf_size_min": int(sizes.min()) if has else 0,
        "leaf_size_p10": float(np.percentile(sizes, 10)) if has else 0.0,
        "leaf_size_median": float(np.median(sizes)) if has else 0.0,
        "leaf_size_p90": float(np.percentile(sizes, 90)) if has else 0.0,
        "leaf_size_max": int(sizes.max()) if has else 0,
        "leaves_under_8": int((sizes < 8).sum()),
        "leaves_over_100": int((sizes > 100).sum()),
        "leaf_size_histogram": size_histogram(sizes),
        "total_tracks": int(tree["total_tracks"]),
        "assigned_tracks": int(tree["assigned_tracks"]),
        "assigned_share": tree["assigned_tracks"] / max(tree["total_tracks"], 1),
        "ungrouped": len(tree["ungrouped_track_ids"]),
        "largest_category_share": max((c["track_count"] for c in tree["categories"]), default=0)
        / max(tree["assigned_tracks"], 1),
    }


def against_ground_truth(tree: Mapping[str, Any], truth: pd.DataFrame) -> dict[str, Any]:
    """AMI, purity and inverse purity of the assigned tracks' leaves against their true niches."""
    labels = leaf_labels(tree)
    truth = truth[truth["track_id"].isin(labels)]
    true = truth["niche_id"].astype(str).tolist()
    pred = [labels[int(t)] for t in truth["track_id"]]
    return {"ami": adjusted_mutual_info(true, pred), "purity": purity(true, pred),
            "inverse_purity": inverse_purity(true, pred), "niches": len(set(true))}


def facet_agreement(leaves: ClusterSet, tracks: pd.DataFrame,
                    genre_tree: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Share of assigned tracks matching their leaf's genre filter values and its scene values (scene
    tags, era, year range), over tracks and as the mean over leaves; and the share contradicting their
    leaf's genre (see the module docstring): a scene or year match never counts as agreement."""
    index = FacetIndex(tracks)
    lineages = genre_lineages(genre_tree) if genre_tree is not None else None
    genre_ok = scene_ok = contradicting = total = 0
    per_leaf: list[tuple[float, float]] = []
    for cluster in leaves.clusters:
        rows = index.rows_of(cluster.track_ids)
        if len(rows) == 0:
            continue
        genre_keys = {k: v for k, v in cluster.filters.items() if k == "genre"}
        scene_keys = {k: v for k, v in cluster.filters.items() if k in SCENE_KEYS}
        g = index.scores(genre_keys)[rows] > 0 if genre_keys else np.zeros(len(rows), bool)
        sc = index.scores(scene_keys)[rows] > 0 if scene_keys else np.zeros(len(rows), bool)
        genre_ok += int(g.sum())
        scene_ok += int(sc.sum())
        if lineages is not None:
            leaf_root, title_roots, track_roots = lineages
            roots = leaf_roots({"id": cluster.id, "genre_context": cluster.genre_title}, leaf_root, title_roots)
            ids = tracks["track_id"].to_numpy()[rows]
            contradicting += sum(1 for t in ids if roots and track_roots.get(int(t)) and
                                 not track_roots[int(t)] & roots)
        else:
            contradicting += int((~g).sum()) if genre_keys else 0
        total += len(rows)
        per_leaf.append((float(g.mean()), float(sc.mean())))
    return {"genre_match_share": genre_ok / max(total, 1), "scene_match_share": scene_ok / max(total, 1),
            "contradicting_share": contradicting / max(total, 1),
            "leaf_genre_purity_mean": float(np.mean([p[0] for p in per_leaf])) if per_leaf else 0.0,
            "leaf_scene_purity_mean": float(np.mean([p[1] for p in per_leaf])) if per_leaf else 0.0}


def evaluate_tree(tree: Mapping[str, Any], leaves: ClusterSet | None, tracks: pd.DataFrame,
                  truth: pd.DataFrame | None = None, genre_tree: Mapping[str, Any] | None = None) -> dict[str, Any]:
    result = structure(tree)
    if leaves is not None:
        result.update(facet_agreement(leaves, tracks, genre_tree))
    if genre_tree is not None:
        result.update(rounded(curation_figures(tree, tracks, genre_tree)))
    if truth is not None:
        result.update(against_ground_truth(tree, truth))
    return result


def evaluate(output_dir: Path, tracks: pd.DataFrame, ground_truth: Path | None = None) -> dict[str, Any]:
    """Quality of a build's outputs: ``curated_collection.json``, the stored ``collection_leaves`` and the
    stored genre tree (for lineages)."""
    tree = json.loads((output_dir / "curated_collection.json").read_text())
    store_leaves = output_dir / "store" / "collection_leaves.json"
    leaves = ClusterSet.from_dict(json.loads(store_leaves.read_text())) if store_leaves.exists() else None
    store_genre = output_dir / "store" / "genre_tree.json"
    genre_tree = json.loads(store_genre.read_text()) if store_genre.exists() else None
    truth = pd.read_csv(ground_truth) if ground_truth is not None and ground_truth.exists() else None
    return evaluate_tree(tree, leaves, tracks, truth, genre_tree)


def evaluate_build(output_dir: Path, paths: Mapping[str, str]) -> dict[str, Any]:
    """``quality`` and ``leaf_sizes`` of a finished build (``harness.run_build``'s ``evaluate``)."""
    tree_file = output_dir / "curated_collection.json"
    if not tree_file.exists():
        return {"quality": {}, "leaf_sizes": []}
    truth = Path(paths["ground_truth"]) if paths.get("ground_truth") else None
    return {"quality": evaluate(output_dir, load_tracks(Path(paths["tracks"])), truth),
            "leaf_sizes": leaf_sizes(json.loads(tree_file.read_text()))}


# ------------------------------------------------------------------------------ the matrix
QUALITY_COLUMNS = ["collection", "provider", "profile", "ok", "categories", "leaves", "leaf_size_p10",
                   "leaf_size_median", "leaf_size_p90", "leaf_size_max", "assigned_share", "ungrouped", "ami",
                   "purity", "inverse_purity", "genre_match_share", "scene_match_share", "contradicting_share",
                   "largest_category_share"]
PROVIDERS = {"offline": "offline", "fake": "anthropic"}


def quality_row(build: Mapping[str, Any]) -> dict[str, Any]:
    q = build.get("quality", {})
    return {"collection": build["collection"], "provider": build["provider"], "profile": build["profile"],
            "ok": "yes" if build["ok"] else "NO", **{k: q.get(k, "") for k in QUALITY_COLUMNS[4:]}}


def run_matrix(collections: Sequence[str], providers: Sequence[str], profiles: Sequence[str], *,
               known: Sequence[Mapping[str, Any]] = (), timeout: float = 1800,
               log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> list[dict[str, Any]]:
    """Build every (collection, provider, profile) not already in ``known`` (builds from
    ``benchmarks.llm_budget``: same shape) and return all builds."""
    label = {"offline": "offline", "fake": "fake-anthropic"}
    have = {(b["collection"], b["provider"], b["profile"]): b for b in known}
    builds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ct-quality-") as tmp, FakeServerProcess() as server:
        for collection in collections:
            for provider in providers:
                for profile in profiles:
                    key = (collection, label[provider], profile)
                    if key in have:
                        builds.append(dict(have[key]))
                        continue
                    server.reset()
                    started = time.perf_counter()
                    try:
                        build = run_build(collection, profile, PROVIDERS[provider], work=Path(tmp),
                                          base_url=server.base_url, timeout=timeout, evaluate=evaluate_build)
                    except (RuntimeError, subprocess.TimeoutExpired) as exc:
                        build = failed_build(collection, profile, PROVIDERS[provider], exc)
                    builds.append(build)
                    log(f"quality: {collection}/{label[provider]}/{profile}: ok={build['ok']} "
                        f"({time.perf_counter() - started:.0f}s)")
    return builds


CURATION_COLUMNS = ["collection", "provider", "profile", "cross_lineage_share", "category_lineage_purity",
                    "category_title_fit", "category_titles_over_5_words", "leaf_title_fit", "leaf_max",
                    "leaves_out_of_bounds", "same_description_opening_share", "commonest_title_shape_share",
                    "broken_titles"]


def quality_tables(builds: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    rows = [quality_row(b) for b in builds]
    tables = {"Quality": markdown_table(rows, QUALITY_COLUMNS)}
    curation = [{"collection": b["collection"], "provider": b["provider"], "profile": b["profile"],
                 **{k: b.get("quality", {}).get(k, "") for k in CURATION_COLUMNS[3:]}} for b in builds]
    tables["Curation (the figures of ../shared/tools/curation.py)"] = markdown_table(curation, CURATION_COLUMNS)
    hist = [{"collection": b["collection"], "provider": b["provider"], "profile": b["profile"],
             **b.get("quality", {}).get("leaf_size_histogram", {})} for b in builds]
    tables["Leaf size histogram (leaves per size bin)"] = markdown_table(
        hist, ["collection", "provider", "profile", *size_histogram([])])
    return tables


def write(builds: Sequence[Mapping[str, Any]], tables: Mapping[str, str]) -> Path:
    keep = ("collection", "provider", "profile", "ok", "quality", "leaf_sizes", "checks_failed")
    return write_results("quality", "Curation quality: both profiles, both providers", dict(tables),
                         {"builds": [{k: b.get(k) for k in keep} for b in builds]})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", type=Path, nargs="?", help="evaluate this built output folder only")
    parser.add_argument("--tracks", type=Path, help="with output_dir: the tracks file")
    parser.add_argument("--ground-truth", type=Path, help="with output_dir: ground_truth.csv")
    parser.add_argument("--collections", default="demo,genius")
    parser.add_argument("--providers", default="offline,fake")
    parser.add_argument("--profiles", default="seed,default")
    args = parser.parse_args(argv)
    if args.output_dir is not None:
        if args.tracks is None:
            parser.error("--tracks is required with output_dir")
        print(json.dumps(evaluate(args.output_dir, load_tracks(args.tracks), args.ground_truth), indent=1))
        return 0
    builds = run_matrix([c for c in args.collections.split(",") if c], [p for p in args.providers.split(",") if p],
                        [p for p in args.profiles.split(",") if p])
    tables = quality_tables(builds)
    for heading, table in tables.items():
        print(f"\n## {heading}\n\n{table}")
    print(f"\nwritten: {write(builds, tables)}")
    return 0 if all(b["ok"] for b in builds) else 1


if __name__ == "__main__":
    sys.exit(main())
