"""Offline end-to-end build time and peak memory (the `make run` path, Dagster included).

    python -m benchmarks.build_time [--quick]

Runs `collection-tree build` in a fresh process per collection, each with its own output folder and
DAGSTER_HOME, and reads the child's peak RSS from the OS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import SHARED, markdown_table, write_results

COLLECTIONS = {
    "demo (6,303)": None,  # generated demo collection
    "genius-2000s (6,303)": SHARED / "genius-2000s",
    "genius-2000s-full (29,999)": SHARED / "genius-2000s-full",
}


MEASURE = (
    "import resource, subprocess, sys\n"
    "p = subprocess.run([sys.executable, '-m', 'collection_tree.cli', 'build'], stdout=sys.stderr)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(p.returncode)\n"
)


def run_build(name: str, data: Path | None, profile: str, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="ct-bench-") as tmp:
        env = {**os.environ, "COLLECTION_TREE_OUTPUT": str(Path(tmp) / "output"),
               "DAGSTER_HOME": str(Path(tmp) / "home"), "COLLECTION_TREE_LLM": "offline",
               "COLLECTION_TREE_PROFILE": profile}
        env.pop("ANTHROPIC_API_KEY", None)
        Path(env["DAGSTER_HOME"]).mkdir()
        (Path(env["DAGSTER_HOME"]) / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        if data is not None:
            env.update({"COLLECTION_TREE_TRACKS": str(data / "tracks.csv"),
                        "COLLECTION_TREE_GENRE_TREE": str(data / "genre_tree.json"),
                        "COLLECTION_TREE_SCENE_TREE": str(data / "scene_tree.json")})
        else:  # the demo is generated outside the timed build, as `make run` does it once
            subprocess.run([sys.executable, "-m", "collection_tree.cli", "demo-data", "--out",
                            str(Path(tmp) / "output" / "demo_collection")], env=env, check=True,
                           capture_output=True)
        # A fresh intermediate process per build, so its children's peak RSS is this build's alone.
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", MEASURE], env=env, capture_output=True, text=True,
                              timeout=timeout)
        seconds = time.perf_counter() - started
        peak_kib = int(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else 0
        tree_path = Path(tmp) / "output" / "curated_collection.json"
        tree = json.loads(tree_path.read_text()) if tree_path.exists() else {}
    return {
        "collection": name, "profile": profile, "ok": proc.returncode == 0, "wall_s": seconds,
        # ru_maxrss of children is the max over all children so far; report it when it grew
        "peak_rss_mib": peak_kib / 1024,
        "categories": len(tree.get("categories", [])),
        "leaves": sum(len(c["leaves"]) for c in tree.get("categories", [])),
        "assigned": tree.get("assigned_tracks"), "total": tree.get("total_tracks"),
        "error": "" if proc.returncode == 0 else proc.stderr[-300:],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 30K collection")
    parser.add_argument("--timeout", type=float, default=1200)
    args = parser.parse_args(argv)
    rows = []
    for name, data in COLLECTIONS.items():
        if args.quick and "full" in name:
            continue
        rows.append(run_build(name, data, "default", args.timeout))
        print(json.dumps(rows[-1]), file=sys.stderr)
    columns = ["collection", "profile", "ok", "wall_s", "peak_rss_mib", "categories", "leaves", "assigned", "total"]
    table = markdown_table(rows, columns)
    print(table)
    print(f"\nwritten: {write_results('build_time', 'Offline end-to-end build', {'Results': table}, {'rows': rows})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
