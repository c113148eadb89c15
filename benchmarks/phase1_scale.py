"""Phase 1 at scale: our vectorised seed_clusters vs a straightforward set-intersection loop like the
reference's, side by side, each case in its own process (time and peak memory).

    python -m benchmarks.phase1_scale            # 6,303 (demo), 100K (1.5K x 1.5K), 1M (5K x 5K)
    python -m benchmarks.phase1_scale --quick    # smaller cases

Like for like: both sides do the whole seed_clusters body, load and validate the trees
(``load_tree``), build the seed table (the same columns and order: ids, sorted track ids, leaf
contexts, merged filters) and write it as Parquet the way the IO manager does; only the middle step
differs. Both sides' tables must be identical (a digest of every row is compared; a difference fails
the benchmark). The loop is skipped above 5M leaf pairs.

Targets (issue 9): >= 50x faster than the loop at 100K tracks with 1.5K x 1.5K leaves; the whole
seed_clusters body for 1M tracks in < 5 s and < 2 GiB peak.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.harness import markdown_table, peak_rss_mib, run_child, write_results

CASES = {  # name: (tracks, genre leaves, scene leaves)
    "6K": (6_303, 233, 275),
    "100K": (100_000, 1_500, 1_500),
    "1M": (1_000_000, 5_000, 5_000),
}
QUICK = {"6K": (6_303, 233, 275), "30K": (30_000, 600, 600)}


def synthetic_trees(n_tracks: int, n_genre: int, n_scene: int, seed: int = 7) -> tuple[dict, dict]:
    """Trees shaped like real ones: each track in 1-2 genre leaves and 0-2 scene leaves, with scenes
    correlated to genres (so intersections of >= 5 tracks exist), leaf sizes skewed (Zipf-like)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_genre + 1) ** 0.6
    genre_main = rng.choice(n_genre, size=n_tracks, p=weights / weights.sum())
    genre_extra = np.where(rng.random(n_tracks) < 0.3, rng.integers(0, n_genre, n_tracks), -1)
    # scene leaf correlated with the genre leaf: a few scenes per genre neighbourhood
    scene_main = (genre_main * (n_scene / n_genre) + rng.integers(0, 4, n_tracks)).astype(np.int64) % n_scene
    scene_main = np.where(rng.random(n_tracks) < 0.55, scene_main, -1)  # ~45% in no scene leaf
    scene_extra = np.where(rng.random(n_tracks) < 0.2, rng.integers(0, n_scene, n_tracks), -1)
    ids = np.arange(1, n_tracks + 1)

    def tree(kind: str, n_leaves: int, *assignments: np.ndarray) -> dict:
        leaf_of = np.concatenate([a for a in assignments])
        track_of = np.concatenate([ids for _ in assignments])
        keep = leaf_of >= 0
        leaf_of, track_of = leaf_of[keep], track_of[keep]
        order = np.lexsort((track_of, leaf_of))
        leaf_of, track_of = leaf_of[order], track_of[order]
        bounds = np.searchsorted(leaf_of, np.arange(n_leaves + 1))
        leaves = []
        for i in range(n_leaves):
            members = np.unique(track_of[bounds[i]:bounds[i + 1]]).tolist()
            leaves.append({"id": f"{kind}-{i}", "title": f"{kind.title()} {i}", "description": f"{kind} leaf {i}",
                           "filters": {"genre" if kind == "genre" else "scene_tags": [f"{kind} {i}"]},
                           "track_ids": members, "children": []})
        roots = [{"id": f"{kind}-root-{r}", "title": f"{kind.title()} lineage {r}", "description": "",
                  "filters": {}, "track_ids": sorted({t for leaf in chunk for t in leaf["track_ids"]}),
                  "children": chunk}
                 for r, chunk in enumerate([leaves[j:j + 50] for j in range(0, n_leaves, 50)])]
        return {"id": f"{kind}-bench", "tree_type": kind, "created_at": "2026-11-24T00:00:00Z", "lineages": roots}

    return tree("genre", n_genre, genre_main, genre_extra), tree("scene", n_scene, scene_main, scene_extra)


def reference_loop(genre: dict, scene: dict, min_tracks: int = 5) -> list[dict]:
    """The reference's Phase 1: Cartesian product of leaves with set intersections."""
    from collection_tree.core.inputs import collect_leaves
    from collection_tree.core.search import merge_filters

    g_leaves = [(leaf, set(leaf["track_ids"])) for leaf in collect_leaves(genre)]
    s_leaves = [(leaf, set(leaf["track_ids"])) for leaf in collect_leaves(scene)]
    seeds = []
    for (g, g_set), (s, s_set) in product(g_leaves, s_leaves):
        shared = g_set & s_set
        if len(shared) >= min_tracks:
            seeds.append({"id": f"{g['id']}__{s['id']}", "track_ids": sorted(shared), "track_count": len(shared),
                          "genre_leaf": {k: g[k] for k in ("id", "title", "description", "filters", "lineage")},
                          "scene_leaf": {k: s[k] for k in ("id", "title", "description", "filters", "lineage")},
                          "filters": merge_filters(g["filters"], s["filters"])})
    seeds.sort(key=lambda c: -c["track_count"])
    return seeds


def reference_table(genre: dict, scene: dict, min_tracks: int = 5) -> pd.DataFrame:
    """The loop's seeds as the seed table phase 1 stores (``SEED_COLUMNS``, by track count desc, then id)."""
    from collection_tree.phases.seed_clusters import SEED_COLUMNS

    seeds = sorted(reference_loop(genre, scene, min_tracks), key=lambda c: (-c["track_count"], c["id"]))
    rows = []
    for seed in seeds:
        row = {"id": seed["id"], "track_count": seed["track_count"], "track_ids": seed["track_ids"],
               "genre_leaf_id": seed["genre_leaf"]["id"], "scene_leaf_id": seed["scene_leaf"]["id"]}
        for prefix in ("genre", "scene"):
            leaf = seed[f"{prefix}_leaf"]
            row.update({f"{prefix}_title": leaf["title"], f"{prefix}_description": leaf["description"],
                        f"{prefix}_lineage": " > ".join(leaf["lineage"]),
                        f"{prefix}_filters": json.dumps(leaf["filters"], sort_keys=True)})
        row["filters"] = json.dumps(seed["filters"], sort_keys=True)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(SEED_COLUMNS))


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """As the Parquet IO manager writes a table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None), path)


def table_digest(frame: pd.DataFrame) -> str:
    """sha256 of every row of a seed table, track ids as plain ints: equal digests, identical seeds."""
    rows = [[*(str(v) if k != "track_ids" else [int(t) for t in v] for k, v in row.items())]
            for row in frame.to_dict("records")]
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode("utf-8")).hexdigest()


def child(case: str, impl: str, n_tracks: int, n_genre: int, n_scene: int) -> dict:
    """One measurement in this (fresh) process. Trees are generated and written first; loading
    (with validation), building and writing are timed, the same steps for both implementations."""
    import pyarrow.parquet  # noqa: F401 (imported before timing: both sides write with it)

    from collection_tree.core.inputs import load_tree
    from collection_tree.phases.seed_clusters import build_seed_clusters

    genre, scene = synthetic_trees(n_tracks, n_genre, n_scene)
    with tempfile.TemporaryDirectory() as tmp:
        g_path, s_path = Path(tmp) / "genre.json", Path(tmp) / "scene.json"
        g_path.write_text(json.dumps(genre))
        s_path.write_text(json.dumps(scene))
        del genre, scene
        base_rss = peak_rss_mib()
        started = time.perf_counter()
        g_doc = load_tree(g_path, "genre").doc
        s_doc = load_tree(s_path, "scene").doc
        loaded = time.perf_counter()
        build = build_seed_clusters if impl == "vectorised" else reference_table
        seeds = build(g_doc, s_doc, 5)
        built = time.perf_counter()
        write_parquet(seeds, Path(tmp) / "seeds.parquet")
        done = time.perf_counter()
    return {"case": case, "impl": impl, "tracks": n_tracks, "genre_leaves": n_genre, "scene_leaves": n_scene,
            "seeds": len(seeds), "load_s": loaded - started, "build_s": built - loaded, "write_s": done - built,
            "total_s": done - started, "peak_mib": peak_rss_mib(), "peak_over_start_mib": peak_rss_mib() - base_rss,
            "digest": table_digest(seeds)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small cases only")
    parser.add_argument("--loop-timeout", type=float, default=240.0, help="seconds before the loop is abandoned")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        case, impl, n, g, s = args.child
        print(json.dumps(child(case, impl, int(n), int(g), int(s))))
        return 0
    rows = []
    for case, (n, g, s) in (QUICK if args.quick else CASES).items():
        for impl in ("vectorised", "loop"):
            pairs = g * s
            if impl == "loop" and pairs > 5_000_000:
                rows.append({"case": case, "impl": impl, "tracks": n, "note": f"skipped: {pairs:,} pairs"})
                continue
            result = run_child("benchmarks.phase1_scale", ["--child", case, impl, str(n), str(g), str(s)],
                               timeout=args.loop_timeout if impl == "loop" else 600)
            rows.append(result or {"case": case, "impl": impl, "tracks": n,
                                   "note": f"did not finish in {args.loop_timeout:.0f}s"})
            print(json.dumps(rows[-1]), file=sys.stderr)
    by_case: dict[str, dict[str, dict]] = {}
    for row in rows:
        by_case.setdefault(row["case"], {})[row["impl"]] = row
    different = []
    for case, impls in by_case.items():
        vec, loop = impls.get("vectorised"), impls.get("loop")
        if vec and loop and "build_s" in loop and "build_s" in vec:
            vec["speedup_build"] = loop["build_s"] / max(vec["build_s"], 1e-9)
            vec["speedup_total"] = loop["total_s"] / max(vec["total_s"], 1e-9)
            vec["same_seeds"] = loop["same_seeds"] = "yes" if vec["digest"] == loop["digest"] else "NO"
            if vec["digest"] != loop["digest"]:
                different.append(case)
    columns = ["case", "impl", "tracks", "genre_leaves", "scene_leaves", "seeds", "load_s", "build_s", "write_s",
               "total_s", "peak_mib", "speedup_build", "speedup_total", "same_seeds", "note"]
    table = markdown_table(rows, columns)
    print(table)
    path = write_results("phase1_scale", "Phase 1 at scale: vectorised vs reference loop", {"Results": table},
                         {"rows": rows})
    print(f"\nwritten: {path}")
    if different:
        raise AssertionError(f"phase 1: the vectorised and the loop seed tables differ in {different}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
