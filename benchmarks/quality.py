"""Curation quality of a built tree.

* Against ground truth (the demo collection's niche per track): adjusted mutual information and
  purity of leaves, categories count, leaf sizes, share assigned.
* Without ground truth (the Genius collection): per leaf, the share of its tracks whose facets hold
  the leaf's genre values, its scene values, and neither (a track "contradicting" its leaf).

    python -m benchmarks.quality OUTPUT_DIR [--ground-truth demo_collection/ground_truth.csv]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from collection_tree.core.clusters import ClusterSet
from collection_tree.core.search import FacetIndex


def leaf_labels(tree: dict[str, Any]) -> dict[int, str]:
    return {int(t): leaf["id"] for cat in tree["categories"] for leaf in cat["leaves"] for t in leaf["track_ids"]}


def adjusted_mutual_info(labels_true: list[Any], labels_pred: list[Any]) -> float:
    from sklearn.metrics import adjusted_mutual_info_score

    return float(adjusted_mutual_info_score(labels_true, labels_pred))


def purity(labels_true: list[Any], labels_pred: list[Any]) -> float:
    """Share of tracks whose leaf's majority niche is their own niche."""
    by_leaf: dict[Any, Counter] = {}
    for truth, pred in zip(labels_true, labels_pred, strict=True):
        by_leaf.setdefault(pred, Counter())[truth] += 1
    return sum(c.most_common(1)[0][1] for c in by_leaf.values()) / max(len(labels_true), 1)


def structure(tree: dict[str, Any]) -> dict[str, Any]:
    sizes = [leaf["track_count"] for cat in tree["categories"] for leaf in cat["leaves"]]
    return {
        "categories": len(tree["categories"]),
        "leaves": len(sizes),
        "leaf_size_min": int(min(sizes)) if sizes else 0,
        "leaf_size_median": float(np.median(sizes)) if sizes else 0.0,
        "leaf_size_max": int(max(sizes)) if sizes else 0,
        "assigned_share": tree["assigned_tracks"] / max(tree["total_tracks"], 1),
        "ungrouped": len(tree["ungrouped_track_ids"]),
        "largest_category_share": max((c["track_count"] for c in tree["categories"]), default=0)
        / max(tree["assigned_tracks"], 1),
    }


def against_ground_truth(tree: dict[str, Any], truth: pd.DataFrame) -> dict[str, Any]:
    labels = leaf_labels(tree)
    truth = truth[truth["track_id"].isin(labels)]
    true = truth["niche_id"].astype(str).tolist()
    pred = [labels[int(t)] for t in truth["track_id"]]
    return {"ami": adjusted_mutual_info(true, pred), "purity": purity(true, pred)}


def facet_agreement(leaves: ClusterSet, tracks: pd.DataFrame) -> dict[str, Any]:
    """Share of assigned tracks matching their leaf's genre filter values, scene values, neither."""
    index = FacetIndex(tracks)
    genre_ok = scene_ok = neither = total = 0
    for cluster in leaves.clusters:
        rows = index.rows_of(cluster.track_ids)
        genre_keys = {k: v for k, v in cluster.filters.items() if k == "genre"}
        scene_keys = {k: v for k, v in cluster.filters.items() if k in ("scene_tags", "year_range", "era")}
        g = index.scores(genre_keys)[rows] > 0 if genre_keys else np.zeros(len(rows), bool)
        s = index.scores(scene_keys)[rows] > 0 if scene_keys else np.zeros(len(rows), bool)
        genre_ok += int(g.sum())
        scene_ok += int(s.sum())
        neither += int((~g & ~s).sum())
        total += len(rows)
    return {"genre_match_share": genre_ok / max(total, 1), "scene_match_share": scene_ok / max(total, 1),
            "contradicting_share": neither / max(total, 1)}


def evaluate(output_dir: Path, tracks: pd.DataFrame, ground_truth: Path | None = None) -> dict[str, Any]:
    tree = json.loads((output_dir / "curated_collection.json").read_text())
    result = structure(tree)
    store_leaves = output_dir / "store" / "collection_leaves.json"
    if store_leaves.exists():
        result.update(facet_agreement(ClusterSet.from_dict(json.loads(store_leaves.read_text())), tracks))
    if ground_truth is not None and ground_truth.exists():
        result.update(against_ground_truth(tree, pd.read_csv(ground_truth)))
    return result


def main(argv: list[str] | None = None) -> int:
    from collection_tree.core.inputs import load_tracks

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--tracks", type=Path, required=True)
    parser.add_argument("--ground-truth", type=Path)
    args = parser.parse_args(argv)
    print(json.dumps(evaluate(args.output_dir, load_tracks(args.tracks), args.ground_truth), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
