"""Offline end-to-end build time, peak memory and per-step seconds at growing sizes (the `make run`
path, Dagster included), with the growth exponents between sizes.

    python -m benchmarks.build_time                 # demo 6,303, genius-2000s, genius-2000s-full, demo 100K, 300K
    python -m benchmarks.build_time --with-1m       # and the demo at 1,000,000 tracks
    python -m benchmarks.build_time --quick         # demo 6,303 and genius-2000s only
    python -m benchmarks.build_time --only demo-100k,demo-300k --repeat 3
    python -m benchmarks.build_time --only demo-1m --merge   # add a row to the last results

Each build runs `collection-tree build` in a fresh process with its own output folder and DAGSTER_HOME
(offline provider, default profile); its peak RSS is read from the OS (``peak_rss_mib``: its largest
process; ``peak_tree_rss_mib``: the build and its worker processes together, sampled every 0.5 s) and
its per-step seconds from the Dagster run's step events (start to end of each step). Demo collections
above the default size are generated first by `collection-tree demo-data` (timed apart, not part of the build). Growth
exponents compare consecutive sizes of the scale series (one collection per size): a figure growing
as N^e between N1 and N2 has e = log(t2 / t1) / log(N2 / N1).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from benchmarks.harness import RESULTS, SHARED, markdown_table, write_results

DEMO_SEED = 42


@dataclass(frozen=True)
class Case:
    key: str  # for --only
    name: str
    tracks: int
    data: Path | None  # None: a demo collection of `tracks` tracks


CASES = (
    Case("demo-6k", "demo (6,303)", 6_303, None),
    Case("genius", "genius-2000s (6,303)", 6_303, SHARED / "genius-2000s"),
    Case("genius-full", "genius-2000s-full (29,999)", 29_999, SHARED / "genius-2000s-full"),
    Case("demo-100k", "demo (100,000)", 100_000, None),
    Case("demo-300k", "demo (300,000)", 300_000, None),
)
MILLION = Case("demo-1m", "demo (1,000,000)", 1_000_000, None)
QUICK = ("demo-6k", "genius")
# The scale series for growth exponents: one collection per size (genius-2000s is a same-size comparison).
SERIES = ("demo (6,303)", "genius-2000s-full (29,999)", "demo (100,000)", "demo (300,000)", "demo (1,000,000)")

# A fresh intermediate process per measured command, so its children's peak RSS is this command's alone.
# The command's address space is capped (argv[1], bytes): on a shared machine a build that outgrows it
# fails with MemoryError in its own process instead of waking the kernel's OOM killer.
MEASURE = (
    "import resource, subprocess, sys\n"
    "cap = int(sys.argv[1])\n"
    "def limit():\n"
    "    if cap > 0:\n"
    "        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))\n"
    "p = subprocess.run(sys.argv[2:], stdout=sys.stderr, preexec_fn=limit)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(p.returncode)\n"
)
# The default cap: the 300K demo peaked at ~12.3 GiB RSS before issue 18's phase-3 work (3.7 GiB after),
# and address space runs ~1 GiB above RSS (thread stacks, malloc arenas).
MAX_MEMORY_GIB = 16.0
TREE_SAMPLE_S = 0.5  # seconds between samples of a command's whole process tree (``tree_rss``)


def measured(command: list[str], env: dict[str, str], timeout: float,
             max_memory_gib: float = MAX_MEMORY_GIB) -> tuple[subprocess.CompletedProcess, float, float, float]:
    """Run a command; (process, wall seconds, peak RSS MiB of its largest process, peak RSS MiB of all its
    processes together). The first is the kernel's exact figure for one process; a build's worker
    processes (the offline answers, the play order) come on top of it, so the second sums the command's
    whole process tree, sampled every ``TREE_SAMPLE_S`` (a peak between samples can be missed)."""
    cap = str(int(max_memory_gib * 2**30))
    started = time.perf_counter()
    args = [sys.executable, "-c", MEASURE, cap, *command]
    child = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tree_peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(TREE_SAMPLE_S):
            tree_peak[0] = max(tree_peak[0], tree_rss(child.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise
    finally:
        done.set()
        sampler.join()
    seconds = time.perf_counter() - started
    proc = subprocess.CompletedProcess(args, child.returncode, out, err)
    lines = proc.stdout.strip().splitlines()
    return proc, seconds, (int(lines[-1]) / 1024 if lines else 0.0), tree_peak[0] / 2**20


def tree_rss(pid: int) -> int:
    """Bytes resident in a process and every process it started (0 once it has ended)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:  # ended between the listing and the reading
            continue
    return total


def step_seconds(dagster_home: Path) -> tuple[dict[str, float], list[str]]:
    """Seconds per finished step of the one run recorded in this DAGSTER_HOME (from its step events),
    and the steps that failed."""
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(dagster_home)) as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            return {}, []
        stats = instance.get_run_step_stats(runs[0].run_id)
    seconds = {s.step_key: s.end_time - s.start_time for s in stats if s.start_time and s.end_time}
    # A step killed mid-way (no failure event) stays in progress.
    failed = [s.step_key for s in stats if s.status is not None and s.status.value in ("FAILURE", "IN_PROGRESS")]
    return seconds, failed


def base_env(out: Path, home: Path, profile: str) -> dict[str, str]:
    env = {**os.environ, "COLLECTION_TREE_OUTPUT": str(out), "DAGSTER_HOME": str(home),
           "COLLECTION_TREE_LLM": "offline", "COLLECTION_TREE_PROFILE": profile}
    env.pop("ANTHROPIC_API_KEY", None)
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return env


def inputs_env(folder: Path) -> dict[str, str]:
    return {"COLLECTION_TREE_TRACKS": str(folder / "tracks.csv"),
            "COLLECTION_TREE_GENRE_TREE": str(folder / "genre_tree.json"),
            "COLLECTION_TREE_SCENE_TREE": str(folder / "scene_tree.json")}


def run_case(case: Case, profile: str, timeout: float, repeat: int,
             max_memory_gib: float = MAX_MEMORY_GIB) -> dict[str, Any]:
    """Build one collection `repeat` times; wall and per-step seconds are medians, the peak the largest."""
    with tempfile.TemporaryDirectory(prefix="ct-bench-") as tmp:
        # The machine's 1-minute load average when the case starts (2 cores shared: a load above 2 means
        # other work competed for them, and wall seconds grow with it).
        row: dict[str, Any] = {"collection": case.name, "tracks": case.tracks, "profile": profile,
                               "load_avg": round(os.getloadavg()[0], 2)}
        data = case.data
        if data is None:
            data = Path(tmp) / "collection"
            env = base_env(Path(tmp) / "gen-out", Path(tmp) / "gen-home", profile)
            proc, seconds, peak, _ = measured([sys.executable, "-m", "collection_tree.cli", "demo-data", "--tracks",
                                            str(case.tracks), "--seed", str(DEMO_SEED), "--out", str(data)],
                                           env, timeout)
            if proc.returncode != 0:
                return {**row, "ok": False, "error": proc.stderr[-300:]}
            row.update(demo_s=seconds, demo_peak_mib=peak)
        walls, peaks, tree_peaks, steps_runs, tree = [], [], [], [], {}
        proc, failed = None, []
        for attempt in range(repeat):
            run_dir = Path(tmp) / f"run-{attempt}"
            env = {**base_env(run_dir / "output", run_dir / "home", profile), **inputs_env(data)}
            proc, seconds, peak, tree_peak = measured([sys.executable, "-m", "collection_tree.cli", "build"], env,
                                                      timeout, max_memory_gib)
            steps, failed = step_seconds(run_dir / "home")
            if proc.returncode != 0:  # what finished still tells where the time went
                row.update(failed_after_s=seconds, failed_peak_mib=peak, failed_steps=failed, steps_s=steps)
                break
            walls.append(seconds)
            peaks.append(peak)
            tree_peaks.append(tree_peak)
            steps_runs.append(steps)
            tree_path = run_dir / "output" / "curated_collection.json"
            tree = json.loads(tree_path.read_text()) if tree_path.exists() else {}
    ok = proc is not None and proc.returncode == 0
    steps = {key: statistics.median(run.get(key, 0.0) for run in steps_runs)
             for key in (steps_runs[0] if steps_runs else {})} or row.get("steps_s", {})
    leaf_sizes = [leaf["track_count"] for c in tree.get("categories", []) for leaf in c["leaves"]]
    return {
        **row, "ok": ok, "runs": len(walls),
        "wall_s": statistics.median(walls) if walls else None, "wall_min_s": min(walls) if walls else None,
        "peak_rss_mib": max(peaks) if peaks else None,
        "peak_tree_rss_mib": max(tree_peaks) if tree_peaks else None,
        "steps_s": steps, "other_s": (statistics.median(walls) - sum(steps.values())) if walls else None,
        "categories": len(tree.get("categories", [])), "leaves": len(leaf_sizes),
        "max_leaf": max(leaf_sizes) if leaf_sizes else None,
        "assigned": tree.get("assigned_tracks"), "total": tree.get("total_tracks"),
        "error": "" if ok else (f"failed in {', '.join(failed)}: " if failed else "")
        + (root_cause(proc.stderr) if proc is not None else "not run"),
        "stderr_tail": "" if ok or proc is None else proc.stderr[-4000:],
    }


def root_cause(stderr: str) -> str:
    """The last line naming an exception other than Dagster's step wrapper (``MemoryError: ...``), else the
    end of stderr."""
    causes = [line.strip() for line in stderr.splitlines() if re.match(r"\s*[\w.]*(Error|Exception)\b", line)]
    own = [c for c in causes if not c.startswith("dagster.")] or causes
    return own[-1][:300] if own else stderr[-300:]


def exponent(a: float | None, b: float | None, n_a: int, n_b: int) -> float | None:
    """e in b / a = (n_b / n_a)^e (None when a figure is missing or too small to compare)."""
    if not a or not b or a < 0.05 or b < 0.05 or n_a == n_b:
        return None
    return math.log(b / a) / math.log(n_b / n_a)


def series(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_name = {r["collection"]: r for r in rows if r.get("ok")}
    return [by_name[name] for name in SERIES if name in by_name]


def growth_rows(rows: list[dict[str, Any]], top: int = 6) -> list[dict[str, Any]]:
    """Exponents of wall, peak RSS and the heaviest steps between consecutive sizes of the series."""
    out = []
    for a, b in zip(series(rows), series(rows)[1:], strict=False):
        row = {"from": a["collection"], "to": b["collection"],
               "wall": exponent(a["wall_s"], b["wall_s"], a["tracks"], b["tracks"]),
               "peak_rss": exponent(a["peak_rss_mib"], b["peak_rss_mib"], a["tracks"], b["tracks"])}
        heaviest = sorted(b["steps_s"], key=lambda k: -b["steps_s"][k])[:top]
        row["steps"] = ", ".join(
            f"{key} {e:.2f}" for key in heaviest
            if (e := exponent(a["steps_s"].get(key), b["steps_s"][key], a["tracks"], b["tracks"])) is not None)
        out.append(row)
    return out


def step_table(rows: list[dict[str, Any]]) -> str:
    """Seconds per step (rows) by collection (columns), heaviest at the largest size first, with the
    exponent between the two largest sizes of the series."""
    done = [r for r in rows if r.get("steps_s")]  # a failed build shows the steps it finished
    if not done:
        return "(no finished step)"
    largest = max((r for r in done if r.get("ok")), key=lambda r: r["tracks"], default=done[-1])
    keys = sorted({k for r in done for k in r["steps_s"]}, key=lambda k: -largest["steps_s"].get(k, 0.0))
    tail = series(rows)[-2:]
    table_rows = []
    for key in keys:
        row: dict[str, Any] = {"step": key}
        for r in done:
            row[label(r)] = r["steps_s"].get(key)
        if len(tail) == 2:
            row["exponent"] = exponent(tail[0]["steps_s"].get(key), tail[1]["steps_s"].get(key), tail[0]["tracks"],
                                       tail[1]["tracks"])
        table_rows.append(row)
    columns = ["step", *(label(r) for r in done), *(["exponent"] if len(tail) == 2 else [])]
    return markdown_table(blank(table_rows), columns)


def label(row: dict[str, Any]) -> str:
    return row["collection"] if row.get("ok") else f"{row['collection']} (failed)"


def blank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Missing figures print as empty cells."""
    return [{k: ("" if v is None else v) for k, v in row.items()} for row in rows]


def merged(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """These rows with the last results' rows of the other collections, in the order of the cases."""
    path = RESULTS / "build_time.json"
    previous = json.loads(path.read_text())["rows"] if path.exists() else []
    fresh = {r["collection"] for r in rows}
    order = {c.name: i for i, c in enumerate((*CASES, MILLION))}
    return sorted([*(r for r in previous if r["collection"] not in fresh), *rows],
                  key=lambda r: order.get(r["collection"], len(order)))


def heaviest_steps(row: dict[str, Any], top: int = 3) -> str:
    steps = sorted(row.get("steps_s", {}).items(), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{k} {v:.1f} s" for k, v in steps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="demo 6,303 and genius-2000s only")
    parser.add_argument("--with-1m", action="store_true", help="also build the 1,000,000-track demo (long)")
    parser.add_argument("--only", default="", help="comma-separated keys to build: "
                        + ", ".join(c.key for c in (*CASES, MILLION)))
    parser.add_argument("--repeat", type=int, default=1, help="builds per collection (median wall and steps)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before one command is abandoned")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other collections' rows of the last results (results/build_time.json)")
    parser.add_argument("--max-memory", type=float, default=MAX_MEMORY_GIB,
                        help="GiB of address space one build may use (0: no cap); beyond it the build fails")
    args = parser.parse_args(argv)
    cases = [*CASES, *([MILLION] if args.with_1m else [])]
    if args.quick:
        cases = [c for c in cases if c.key in QUICK]
    if args.only:
        wanted = {key.strip() for key in args.only.split(",")}
        unknown = wanted - {c.key for c in (*CASES, MILLION)}
        if unknown:
            parser.error(f"--only: unknown {sorted(unknown)}")
        cases = [c for c in (*CASES, MILLION) if c.key in wanted]
    rows = []
    for case in cases:
        try:
            rows.append(run_case(case, "default", args.timeout, max(1, args.repeat), args.max_memory))
        except subprocess.TimeoutExpired:
            rows.append({"collection": case.name, "tracks": case.tracks, "ok": False,
                         "error": f"timed out after {args.timeout:.0f} s"})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    if args.merge:
        rows = merged(rows)
    shown = [{**row, "ok": "yes" if row.get("ok") else "NO", "heaviest": heaviest_steps(row),
              "failed_in": ", ".join(row.get("failed_steps", []))} for row in rows]
    columns = ["collection", "ok", "runs", "load_avg", "demo_s", "wall_s", "wall_min_s", "peak_rss_mib",
               "peak_tree_rss_mib", "other_s", "categories", "leaves", "max_leaf", "assigned", "total", "heaviest",
               "failed_in", "failed_after_s", "failed_peak_mib"]
    tables = {"Results": markdown_table(blank(shown), columns), "Seconds per step": step_table(rows),
              "Growth exponents between sizes": markdown_table(blank(growth_rows(rows)),
                                                               ["from", "to", "wall", "peak_rss", "steps"])}
    for heading, table in tables.items():
        print(f"\n## {heading}\n\n{table}")
    print(f"\nwritten: {write_results('build_time', 'Offline end-to-end build', tables, {'rows': rows})}")
    return 0 if all(r.get("ok") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
