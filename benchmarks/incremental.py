"""The incremental update (issue 15 part 1, "Done when"): a full build of N tracks of a collection, then the
rest appended and ``collection-tree update`` run; prints the share of new tracks placed, the share of old
tracks keeping a leaf with the same id, the update's wall time against the full build's (offline), and
the LLM calls of each through the loopback fake Anthropic server.

    python -m benchmarks.incremental                          # genius-2000s-full: 29,000 then +999
    python -m benchmarks.incremental --collection genius --base 6000

Each build is the real CLI (``collection-tree build`` / ``update``) in a child process on one
DAGSTER_HOME, so the update reads the previous tree from the asset history as a user's would. Wall
times are the CLI's own "finished in" figure (the run, not the interpreter's start). Offline, the full
build the update stands in for (``update --full``: the grown collection over the same history) is
timed too. The offline pair (full build, update) runs ``--repeat`` times, each in a fresh folder, and
the walls are the medians: one pair's ratio moved between 22% and 42% on this 2-core host as its
speed drifted. LLM calls are the fake server's ``/v1/messages`` requests during each command (cache
off).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks import harness

FINISHED = re.compile(r"finished in ([0-9.]+)s")
PROCESS_S: dict[str, float] = {}  # command -> seconds of its whole process (interpreter start, imports, choice)


def _cli(env: dict[str, str], *args: str) -> float:
    """The run's own seconds (the CLI's "finished in"); the process's are added to ``PROCESS_S``."""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "collection_tree.cli", *args], env=env, capture_output=True,
                          text=True, timeout=7200)
    PROCESS_S[args[0]] = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"collection-tree {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    match = FINISHED.search(proc.stdout)
    if match is None:
        raise RuntimeError(f"collection-tree {' '.join(args)}: no 'finished in' line:\n{proc.stdout[-2000:]}")
    return float(match.group(1))


EXPORTS = ("m3u_playlists", "rekordbox_xml", "traktor_nml", "serato_crates", "collection_html",
           "metadata_suggestions_review")


def _steps(home: Path) -> dict[str, float]:
    """Seconds per step of the latest run in ``home`` (the tree step, the exports, everything else)."""
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_runs(limit=1)[0]
        stats = {s.step_key: (s.end_time or 0.0) - (s.start_time or 0.0)
                 for s in instance.get_run_step_stats(run.run_id)}
    exports = sum(v for k, v in stats.items() if k in EXPORTS)
    tree = stats.get("collection_tree", 0.0)
    return {"tree_step_s": tree, "exports_s": exports, "other_steps_s": sum(stats.values()) - tree - exports,
            "each_s": stats}


def _placement(tree: dict[str, Any]) -> dict[int, str]:
    return {int(t): leaf["id"] for c in tree["categories"] for leaf in c["leaves"] for t in leaf["track_ids"]}


def _scenario(folder: Path, source: Path, base: pd.DataFrame, extra: pd.DataFrame, provider: str,
              base_url: str = "", server: harness.FakeServerProcess | None = None) -> dict[str, Any]:
    """Full build of ``base``, then ``base + extra`` and ``update``, in ``folder``; the figures of both."""
    data = folder / "data"
    data.mkdir(parents=True)
    for name in ("genre_tree.json", "scene_tree.json"):
        shutil.copy(source / name, data / name)
    base.to_csv(data / "tracks.csv", index=False)
    home = folder / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    own = ("COLLECTION_TREE_PROFILE", "COLLECTION_TREE_LLM_CACHE", "COLLECTION_TREE_LLM")
    env = {k: v for k, v in harness.child_env("default", provider, base_url, home).items()
           if not k.startswith("COLLECTION_TREE_") or k in own}
    env.update({"COLLECTION_TREE_OUTPUT": str(folder / "out"), "COLLECTION_TREE_TRACKS": str(data / "tracks.csv"),
                "COLLECTION_TREE_GENRE_TREE": str(data / "genre_tree.json"),
                "COLLECTION_TREE_SCENE_TREE": str(data / "scene_tree.json")})
    calls: dict[str, int] = {}
    if server is not None:
        server.reset()
    full_s = _cli(env, "build")
    full_process_s = PROCESS_S["build"]
    full_steps = _steps(home)
    if server is not None:
        calls["full"] = len(server.log()[0])
        server.reset()
    first = json.loads((folder / "out" / "curated_collection.json").read_text())
    pd.concat([base, extra]).to_csv(data / "tracks.csv", index=False)
    past = os.stat(data / "tracks.csv").st_mtime - 60
    os.utime(data / "tracks.csv", (past, past))
    update_s = _cli(env, "update")
    update_process_s = PROCESS_S["update"]
    update_steps = _steps(home)
    if server is not None:
        calls["update"] = len(server.log()[0])
    second = json.loads((folder / "out" / "curated_collection.json").read_text())
    # What the update stands in for: the full build of the same grown collection over the same history.
    rebuild_s = _cli(env, "update", "--full") if server is None else 0.0
    before, after = _placement(first), _placement(second)
    added = {int(t) for t in extra["track_id"]}
    ungrouped = {int(t) for t in second["ungrouped_track_ids"]}
    return {"full_s": full_s, "update_s": update_s, "rebuild_s": rebuild_s, "full_process_s": full_process_s,
            "update_process_s": update_process_s, "calls": calls, "full_steps": full_steps,
            "update_steps": update_steps,
            "new_placed": sum(1 for t in added if t in after), "new_ungrouped": sum(1 for t in added if t in ungrouped),
            "new": len(added), "old_placed": len(before),
            "old_same_leaf": sum(1 for t, key in before.items() if after.get(t) == key),
            "leaves_before": len({v for v in before.values()}), "leaves_after": len({v for v in after.values()})}


def _split(steps: dict[str, float]) -> str:
    return f"{steps['tree_step_s']:.1f}s / {steps['exports_s']:.1f}s / {steps['other_steps_s']:.1f}s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collection", default="genius-full", choices=("genius", "genius-full"))
    parser.add_argument("--base", type=int, default=29000, help="tracks in the first build; the rest are added")
    parser.add_argument("--skip-fake", action="store_true", help="offline only (no LLM call counts)")
    parser.add_argument("--repeat", type=int, default=3, help="offline (full build, update) pairs; walls are medians")
    args = parser.parse_args(argv)
    source = harness.COLLECTIONS[args.collection]
    assert source is not None
    tracks = pd.read_csv(source / "tracks.csv", dtype=str, keep_default_na=False).sample(frac=1.0, random_state=15)
    base, extra = tracks.iloc[: args.base], tracks.iloc[args.base:]
    with tempfile.TemporaryDirectory(prefix="ct-incremental-") as tmp:
        work = Path(tmp)
        pairs = [_scenario(work / f"offline-{i}", source, base, extra, "offline") for i in range(max(1, args.repeat))]
        fake: dict[str, Any] = {}
        if not args.skip_fake:
            with harness.FakeServerProcess() as server:
                fake = _scenario(work / "anthropic", source, base, extra, "anthropic", server.base_url, server)
    offline = sorted(pairs, key=lambda p: p["update_s"])[len(pairs) // 2]  # the steps of the median update
    # every pair places the same (the placement figures are any pair's)
    placements = {(p["new_placed"], p["old_same_leaf"], p["leaves_after"]) for p in pairs}
    if len(placements) != 1:
        raise RuntimeError(f"the offline pairs placed differently: {placements}")
    walls = {key: statistics.median(p[key] for p in pairs)
             for key in ("full_s", "update_s", "rebuild_s", "full_process_s", "update_process_s")}
    rows = [
        {"figure": "new tracks placed", "value": f"{offline['new_placed']}/{offline['new']} "
                                                 f"({offline['new_placed'] / max(offline['new'], 1):.1%}); "
                                                 f"{offline['new_ungrouped']} ungrouped with a reason"},
        {"figure": "old tracks in a leaf with the same id",
         "value": f"{offline['old_same_leaf']}/{offline['old_placed']} "
                  f"({offline['old_same_leaf'] / max(offline['old_placed'], 1):.2%})"},
        {"figure": "leaves before -> after", "value": f"{offline['leaves_before']} -> {offline['leaves_after']}"},
        {"figure": f"wall, offline, median of {len(pairs)}: full build / update",
         "value": f"{walls['full_s']:.1f}s / {walls['update_s']:.1f}s "
                  f"({walls['update_s'] / walls['full_s']:.1%} of the full build)"},
        {"figure": "wall, offline, median: full rebuild of the grown collection (`update --full`) / update",
         "value": f"{walls['rebuild_s']:.1f}s / {walls['update_s']:.1f}s "
                  f"({walls['update_s'] / walls['rebuild_s']:.1%} of that full build)"},
        {"figure": "wall, offline, each pair: update / full build",
         "value": ", ".join(f"{p['update_s']:.1f}/{p['full_s']:.1f}s ({p['update_s'] / p['full_s']:.1%})"
                            for p in pairs)},
        {"figure": "whole command, offline, median (interpreter start, imports, the update's choice): "
                   "full build / update",
         "value": f"{walls['full_process_s']:.1f}s / {walls['update_process_s']:.1f}s "
                  f"({walls['update_process_s'] / walls['full_process_s']:.1%})"},
        {"figure": "steps, offline: full build (phases 1-7 + tree / exports / rest)",
         "value": _split(offline["full_steps"])},
        {"figure": "steps, offline: update (tree step / exports / rest)", "value": _split(offline["update_steps"])},
        {"figure": "steps, offline: update, each (s)",
         "value": ", ".join(f"{k} {v:.1f}" for k, v in offline["update_steps"]["each_s"].items())},
        {"figure": "update's tree step / full build wall",
         "value": f"{offline['update_steps']['tree_step_s'] / offline['full_s']:.1%}"},
    ]
    if fake:
        rows.append({"figure": "LLM calls (fake server): full build / update",
                     "value": f"{fake['calls']['full']} / {fake['calls']['update']} "
                              f"({fake['calls']['update'] / max(fake['calls']['full'], 1):.1%})"})
        rows.append({"figure": "wall, fake server: full build / update",
                     "value": f"{fake['full_s']:.1f}s / {fake['update_s']:.1f}s"})
    print(f"{args.collection}: {len(base)} tracks built, then +{len(extra)}")
    print(harness.markdown_table(rows, ["figure", "value"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
