"""Stable identity across full rebuilds (issue 15 part 2), on the user's own path: ``collection-tree build``
three times into one output folder and one Dagster instance (so each build sees the previous one in
Dagster's history): the base collection, the same again, then with 5% of its tracks replaced. Prints
the share of the previous build's leaves whose id (and title) the next build keeps, and what moved.

    python -m benchmarks.identity [--tracks 6000] [--replace 0.05] [--fresh]

``--fresh`` turns off ``keep_previous`` in phases 3 and 5 (run config), to measure what identity matching
alone keeps. The curation figures of each build follow the table.
The collection is a seeded sample of genius-2000s-full (its trees name every track id, so replaced
tracks come from the same trees); every build is offline, in a child process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from benchmarks import harness
from collection_tree.core.curation import curation_figures, summary_line
from collection_tree.core.inputs import load_tracks


def _collection(folder: Path, tracks: pd.DataFrame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    source = harness.COLLECTIONS["genius-full"]
    tracks.to_csv(folder / "tracks.csv", index=False)
    for name in ("genre_tree.json", "scene_tree.json"):
        shutil.copy(source / name, folder / name)
    return folder


def _build(collection: Path, work: Path, fresh: bool) -> dict:
    """``collection-tree build`` on ``collection`` into ``work``'s output and Dagster home."""
    home = work / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "COLLECTION_TREE_"))}
    env.update({"DAGSTER_HOME": str(home), "PYTHONHASHSEED": "0", "COLLECTION_TREE_LLM": "offline",
                "COLLECTION_TREE_LLM_CACHE": "off", "COLLECTION_TREE_OUTPUT": str(work / "output"),
                "COLLECTION_TREE_TRACKS": str(collection / "tracks.csv"),
                "COLLECTION_TREE_GENRE_TREE": str(collection / "genre_tree.json"),
                "COLLECTION_TREE_SCENE_TREE": str(collection / "scene_tree.json")})
    command = [sys.executable, "-m", "collection_tree.cli", "build"]
    if fresh:
        run_yaml = work / "run.yaml"
        run_yaml.write_text(yaml.safe_dump({"assigned_clusters": {"keep_previous": False},
                                            "categories": {"keep_previous": False}}))
        command += ["--config", str(run_yaml)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"build of {collection} failed:\n{proc.stderr[-3000:]}")
    tree = json.loads((work / "output" / "curated_collection.json").read_text())
    tree["_changes"] = json.loads((work / "output" / "changes.json").read_text())["counts"]
    tree["_curation"] = summary_line(curation_figures(tree, load_tracks(collection / "tracks.csv"),
                                                      json.loads((collection / "genre_tree.json").read_text())))
    return tree


def _kept(previous: dict, rebuilt: dict) -> dict:
    """The rebuilt tree already carries the ids it matched (the build did it): count what it kept."""
    old = {leaf["id"]: leaf["title"] for c in previous["categories"] for leaf in c["leaves"]}
    new = {leaf["id"]: leaf["title"] for c in rebuilt["categories"] for leaf in c["leaves"]}
    kept = [key for key in new if key in old]
    old_categories = {c["id"] for c in previous["categories"]}
    return {"leaves_before": len(old), "leaves_after": len(new), "ids_kept": len(kept),
            "ids_kept_share": round(len(kept) / max(len(old), 1), 4),
            "titles_kept_share": round(sum(new[k] == old[k] for k in kept) / max(len(old), 1), 4),
            "categories_kept": f"{sum(c['id'] in old_categories for c in rebuilt['categories'])}/{len(old_categories)}",
            **rebuilt["_changes"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=6000)
    parser.add_argument("--replace", type=float, default=0.05)
    parser.add_argument("--fresh", action="store_true", help="keep_previous off: identity matching alone")
    args = parser.parse_args(argv)
    full = pd.read_csv(harness.COLLECTIONS["genius-full"] / "tracks.csv", dtype=str, keep_default_na=False)
    shuffled = full.sample(frac=1.0, random_state=15).reset_index(drop=True)
    base = shuffled.iloc[: args.tracks]
    n = round(args.tracks * args.replace)
    replaced = pd.concat([base.iloc[n:], shuffled.iloc[args.tracks: args.tracks + n]])
    with tempfile.TemporaryDirectory(prefix="ct-identity-") as tmp:
        work = Path(tmp)
        base_dir, replaced_dir = _collection(work / "base", base), _collection(work / "replaced", replaced)
        first = _build(base_dir, work, args.fresh)
        again = _build(base_dir, work, args.fresh)
        changed = _build(replaced_dir, work, args.fresh)
    rows = [{"case": "unchanged rebuild", **_kept(first, again)},
            {"case": f"{args.replace:.0%} of {args.tracks} tracks replaced", **_kept(again, changed)}]
    print(f"keep_previous: {'off' if args.fresh else 'on'}")
    print(harness.markdown_table(rows, list(rows[0])))
    for name, tree in (("first build", first), ("unchanged rebuild", again), ("5% replaced", changed)):
        print(f"curation, {name}: {tree['_curation']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
