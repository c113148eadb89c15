"""Every benchmark that fits in about ten minutes on two cores, in one go (`make bench`).

    python -m benchmarks.run_all            # phase 1 scale, build time (6K to 300K), LLM budget, quality, plots
    python -m benchmarks.run_all --with-1m  # the same, plus the 1,000,000-track demo build (long)
    python -m benchmarks.run_all --quick    # phase 1 small cases, 6K builds only, LLM budget on the demo only

Steps, each writing its own benchmarks/results/<name>.md and .json:

1. ``phase1_scale``: vectorised Phase 1 vs the reference loop (6K, 100K, 1M tracks; ``--quick``: 6K, 30K).
2. ``build_time``: offline end-to-end builds with per-step seconds and growth exponents (demo 6,303,
   genius-2000s, genius-2000s-full, demo 100K and 300K; ``--with-1m`` adds the 1M demo; ``--quick``: the
   two 6,303-track collections).
3. ``llm_budget``: seed vs default profile through the fake Anthropic server with the latency model
   (demo and genius-2000s; ``--quick``: demo).
4. ``quality``: both profiles x both providers (offline, fake server) on demo and genius-2000s; the fake
   server builds of step 3 are reused, so only the offline ones run here.
5. ``plots``: ``profiles_<collection>.png`` (leaf sizes, calls, cost and simulated wait per phase).

Then ``run_all.md`` / ``.json``: the time each step took and the targets table.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks.harness import RESULTS, markdown_table, write_results


def _step(name: str, timings: list[dict[str, Any]], fn: Callable[[], Any]) -> Any:
    print(f"\n# {name}\n", flush=True)
    started = time.perf_counter()
    ok = True
    try:
        result = fn()
        ok = not (isinstance(result, int) and result != 0)  # a main()'s exit status
        return result
    except Exception as exc:  # one failed benchmark must not hide the others' results
        ok = False
        print(f"{name} FAILED: {exc!r}", file=sys.stderr)
        return None
    finally:
        timings.append({"step": name, "seconds": round(time.perf_counter() - started, 1), "ok": "yes" if ok else "NO"})


def checkout_revision() -> str:
    """The commit benchmarked, with "+ local changes" when the work tree differs (read-only git)."""
    import subprocess

    root = RESULTS.parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} + local changes" if dirty else head


def main(argv: list[str] | None = None) -> int:
    from benchmarks import build_time, llm_budget, phase1_scale, plots, quality

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller cases (about three minutes)")
    parser.add_argument("--with-1m", action="store_true", help="also build the 1,000,000-track demo")
    parser.add_argument("--skip", default="", help="comma-separated steps to skip: phase1, build_time, llm_budget, "
                                                   "quality")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    quick = ["--quick"] if args.quick else []
    collections = ["demo"] if args.quick else ["demo", "genius"]
    timings: list[dict[str, Any]] = []
    started = time.perf_counter()

    if "phase1" not in skip:
        _step("phase1_scale", timings, lambda: phase1_scale.main(quick))
    if "build_time" not in skip:
        _step("build_time", timings, lambda: build_time.main([*quick, *(["--with-1m"] if args.with_1m else [])]))
    budget: dict[str, Any] | None = None
    if "llm_budget" not in skip:
        def run_budget() -> dict[str, Any]:
            report = llm_budget.run(collections)
            llm_budget.print_tables(report["tables"])
            print(f"\nwritten: {llm_budget.write(report)}")
            return report

        budget = _step("llm_budget", timings, run_budget)
    if "quality" not in skip:
        def run_quality() -> list[dict[str, Any]]:
            builds = quality.run_matrix(collections, ["offline", "fake"], ["seed", "default"],
                                        known=budget["builds"] if budget else ())
            tables = quality.quality_tables(builds)
            llm_budget.print_tables(tables)
            print(f"\nwritten: {quality.write(builds, tables)}")
            return builds

        _step("quality", timings, run_quality)
    if budget:
        def draw() -> None:
            for collection in collections:
                print(plots.plot_profiles(budget["builds"], RESULTS / f"profiles_{collection}.png", collection))

        _step("plots", timings, draw)

    all_ok = all(t["ok"] == "yes" for t in timings)
    timings.append({"step": "total", "seconds": round(time.perf_counter() - started, 1),
                    "ok": "yes" if all_ok else "NO"})
    revision = checkout_revision()
    tables = {"Steps": f"Checkout: {revision}\n\n" + markdown_table(timings, ["step", "seconds", "ok"])}
    if budget and budget.get("targets"):
        tables["Targets: default vs seed (LLM budget)"] = markdown_table(
            budget["targets"], ["collection", "target", "seed", "default", "ratio", "met"])
    llm_budget.print_tables(tables)
    print(f"\nwritten: {write_results('run_all', 'All benchmarks', tables, {'steps': timings, 'checkout': revision})}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
