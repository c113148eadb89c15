"""Stable identity across full rebuilds (issue 15 part 2): prints the share of leaf ids and titles a
rebuild keeps, for unchanged inputs and with 5% of the tracks replaced.

    python -m benchmarks.identity [--tracks 6000] [--replace 0.05]

The collection is a seeded sample of genius-2000s-full (its trees name every track id, so replaced
tracks come from the same trees); each build is a full offline build in a child process.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from benchmarks import harness
from collection_tree.phases.changes import diff_trees
from collection_tree.phases.identity import carry_identity


def _collection(folder: Path, tracks: pd.DataFrame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    source = harness.COLLECTIONS["genius-full"]
    tracks.to_csv(folder / "tracks.csv", index=False)
    for name in ("genre_tree.json", "scene_tree.json"):
        shutil.copy(source / name, folder / name)
    return folder


def _build(name: str, folder: Path, work: Path) -> dict:
    harness.COLLECTIONS[name] = folder
    trees: dict = {}

    def keep(output: Path, _paths: dict) -> dict:
        trees["tree"] = json.loads((output / "curated_collection.json").read_text())
        return {}

    result = harness.run_build(name, "default", "offline", work=work, evaluate=keep)
    if not result["ok"]:
        raise RuntimeError(f"build {name} failed: {result['step_failures']}")
    return trees["tree"]


def _kept(previous: dict, rebuilt: dict) -> dict:
    tree, report = carry_identity(previous, rebuilt)
    old = {leaf["id"]: leaf["title"] for c in previous["categories"] for leaf in c["leaves"]}
    new = {leaf["id"]: leaf["title"] for c in tree["categories"] for leaf in c["leaves"]}
    same_title = sum(1 for key, title in new.items() if old.get(key) == title)
    counts = diff_trees(previous, tree)["counts"]
    return {"leaves_before": len(old), "leaves_after": len(new), "ids_kept": report.leaves_kept,
            "ids_kept_share": round(report.leaves_kept / max(len(old), 1), 4),
            "titles_kept_share": round(same_title / max(len(old), 1), 4),
            "categories_kept": f"{report.categories_kept}/{len(previous['categories'])}", **counts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=6000)
    parser.add_argument("--replace", type=float, default=0.05)
    args = parser.parse_args(argv)
    full = pd.read_csv(harness.COLLECTIONS["genius-full"] / "tracks.csv", dtype=str, keep_default_na=False)
    shuffled = full.sample(frac=1.0, random_state=15).reset_index(drop=True)
    base = shuffled.iloc[: args.tracks]
    n = round(args.tracks * args.replace)
    replaced = pd.concat([base.iloc[n:], shuffled.iloc[args.tracks: args.tracks + n]])
    with tempfile.TemporaryDirectory(prefix="ct-identity-") as tmp:
        work = Path(tmp)
        first = _build("identity-base", _collection(work / "base", base), work)
        again = _build("identity-base", _collection(work / "base", base), work)
        changed = _build("identity-replaced", _collection(work / "replaced", replaced), work)
    rows = [{"case": "unchanged rebuild", **_kept(first, again)},
            {"case": f"{args.replace:.0%} of {args.tracks} tracks replaced", **_kept(first, changed)}]
    print(harness.markdown_table(rows, list(rows[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
