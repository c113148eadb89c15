"""LLM budget of a full build: the seed profile (the reference's parameters) vs the default profile, side
by side, each a full Dagster build driven through the real Anthropic SDK against the loopback fake
Anthropic server with a latency model.

    python -m benchmarks.llm_budget                      # demo collection, seed vs default
    python -m benchmarks.llm_budget --collections demo,genius
    python -m benchmarks.llm_budget --scale 0.01 --fixed 5 --per-token 0.03

How a build runs: the fake server (``collection-tree fake-anthropic``, loopback, free port) runs in its
own process; each build is a child process (``python -m benchmarks.harness --child``) that calls
``dagster.materialize`` on every asset and check of the full build with the project's resources
(``build_resources``): provider ``anthropic`` at the fake server's URL, cache off, the profile from
``COLLECTION_TREE_PROFILE`` and a dummy ``ANTHROPIC_API_KEY`` set in that child's environment only. The
real API is never contacted.

What is measured, per phase (asset):

* ``calls``: provider requests (re-asks included), from the asset's ``llm_calls`` metadata;
* ``serial_rep``: the phase's own count of serial call latencies (its report's ``serial_calls``);
* ``serial``: the measured serial depth in calls: the longest chain of calls in the client's
  ``timeline()`` in which each call starts at or after the previous one's end (:func:`critical_path`).
  With N equal independent calls on k workers that is ceil(N / k); a pass that waits for the previous
  pass adds its chain on top. With unequal call times a chain can hop between workers, so it may exceed
  ceil(N / k) a little: a conservative figure, measured rather than claimed;
* tokens (input, output, cache read, cache write) and ``cost_usd`` at list prices
  (``collection_tree/llm/models.py``: writes at 1.25x input, the surcharge included; reads at the cache-read
  price), and ``cache_saved_usd``: what the reads saved against sending those prefixes uncached, less the write
  surcharges (negative when entries were written and never read), from the client's accounting;
* the "Cacheable prefixes" table: per task, the system prompt's tokens (the prefix its calls share) against
  the tier model's minimum cacheable length, i.e. whether the provider puts a cache breakpoint there;
* ``sim_wait_s``: the simulated LLM wait of the phase: the heaviest such chain (``crit_calls`` calls on
  it), each call weighted by the latency model's time for its answer at scale 1 (``fixed + per_token *
  output_tokens``). The constants are chosen so that a seed-profile reassignment answer (80 tracks) takes
  ~55 s, as the first version measured; the server sleeps ``scale`` times that (0.01: 100x faster).
  Weighting by the model rather than dividing real elapsed time by the scale keeps the compute of the
  pipeline and of the server's solvers (multiplied by 1000 it would dominate) out of the simulated figure;
* ``est_wall_min``: ``sim_wait_s`` plus the phase's real time outside LLM calls: the build's wall
  time against an API answering as slowly as the model says.
"""

from __future__ import annotations

import argparse
import bisect
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks import quality
from benchmarks.counting_proxy import CountingProxy
from benchmarks.harness import (
    COLLECTIONS,
    RESULTS,
    FakeServerProcess,
    failed_build,
    markdown_table,
    run_build,
    write_results,
)

LLM_PHASES = ("named_clusters", "assigned_clusters", "refined_clusters", "categories", "collection_leaves",
              "metadata_suggestions")
PROFILES = ("seed", "default")
# Latency model: a seed-profile reassignment answer (80 tracks, ~1,700 output tokens on the demo) takes
# ~55 s, as the first version's Phase 3 calls did. Calibrated from this benchmark's own seed run: the
# "calibration" table shows the modelled latency per task. Run 100x faster: at 1000x the scaled calls
# (25-80 ms) are as short as the pipeline's and the server's own compute per call (tens of ms, one GIL
# each), which staggers concurrent calls and lengthens the measured chains (genius default naming: 7
# instead of 4 waves of 8); at 100x the measured depth agrees with the phases' own counts.
FIXED_S = 5.0
PER_TOKEN_S = 0.03
SCALE = 0.01
# Targets of the default profile, relative to the seed profile on the same collection.
TARGET_CALL_RATIO = 0.25
TARGET_COST_RATIO = 0.25
TARGET_SERIAL = 15
TARGET_WAIT_MIN = 15.0


# ------------------------------------------------------------------------------ pure parts
def call_latency(fixed_s: float, per_token_s: float) -> Callable[[Mapping[str, Any]], float]:
    """Simulated seconds of one timeline row at scale 1 (what the fake server sleeps, divided by scale)."""
    return lambda row: fixed_s + per_token_s * int(row.get("output_tokens") or 0)


def critical_path(calls: Iterable[Mapping[str, Any]],
                  weight: Callable[[Mapping[str, Any]], float] | None = None) -> dict[str, Any]:
    """The longest chain of calls in which each starts at or after the previous one's end.

    ``calls`` are timeline rows (``started``, ``ended``; cached rows are skipped: no request was made).
    Returns ``calls``: the most calls on any such chain (the serial depth, in call latencies) and
    ``tasks``: how many of them each task has; ``weight``: the largest total ``weight(row)`` of any chain
    (the simulated wait) and ``weight_chain_calls``: how many calls that heaviest chain holds.
    O(n log n): rows sorted by end, each chain extended from the best one among the rows that ended
    before it started (prefix maxima)."""
    rows = sorted((r for r in calls if not r.get("cached")), key=lambda r: (float(r["ended"]), float(r["started"])))
    ends = [float(r["ended"]) for r in rows]

    def longest(weigh: Callable[[Mapping[str, Any]], float]) -> tuple[float, list[int]]:
        prefix: list[tuple[tuple[float, int], int]] = []  # best (value, calls) among rows[:i+1], its last row
        pred: list[int] = []
        for i, row in enumerate(rows):
            j = bisect.bisect_right(ends, float(row["started"]), 0, i)  # rows[:j] end at or before this start
            (value, n), last = prefix[j - 1] if j else ((0.0, 0), -1)
            pred.append(last)
            mine = ((value + float(weigh(row)), n + 1), i)
            prefix.append(max(mine, prefix[-1]) if prefix else mine)
        if not prefix:
            return 0.0, []
        (value, _), at = prefix[-1]
        chain = []
        while at >= 0:
            chain.append(at)
            at = pred[at]
        return value, chain[::-1]

    _, by_count = longest(lambda _r: 1.0)
    heaviest, by_weight = longest(weight or (lambda _r: 1.0))
    tasks: dict[str, int] = {}
    for i in by_count:
        tasks[str(rows[i].get("task", ""))] = tasks.get(str(rows[i].get("task", "")), 0) + 1
    return {"calls": len(by_count), "tasks": tasks, "weight": heaviest, "weight_chain_calls": len(by_weight)}


def phase_row(phase: str, meta: Mapping[str, Any], stats: Mapping[str, Any], timeline: Sequence[Mapping[str, Any]],
              latency: Callable[[Mapping[str, Any]], float]) -> dict[str, Any]:
    """One table row: accounting from the client's stats (metadata as fallback), the reported and the
    measured serial calls, the simulated wait and the estimated wall time."""
    def pick(key: str, default: Any = 0) -> Any:
        return stats.get(key, meta.get(key, default))

    path = critical_path(timeline)
    sim = critical_path(timeline, latency)
    real_s = float(meta.get("seconds") or 0.0)
    busy_s = float(pick("llm_busy_s", 0.0) or 0.0)
    return {
        "phase": phase,
        "calls": int(pick("llm_calls")),
        "serial_rep": meta.get("serial_calls", ""),
        "serial": path["calls"],
        "crit_calls": sim["weight_chain_calls"],
        "serial_by_task": ", ".join(f"{t} x{n}" for t, n in path["tasks"].items()),
        "input_tokens": int(pick("input_tokens")),
        "output_tokens": int(pick("output_tokens")),
        "cache_read_tokens": int(pick("cache_read_tokens")),
        "cache_write_tokens": int(pick("cache_write_tokens")),
        "cost_usd": round(float(pick("cost_usd", 0.0)), 4),
        "cache_saved_usd": round(float(pick("cache_saved_usd", 0.0)), 4),
        "sim_wait_s": round(sim["weight"], 1),
        "real_s": round(real_s, 2),
        "llm_busy_s": round(busy_s, 2),
        "est_wall_min": round((sim["weight"] + max(real_s - busy_s, 0.0)) / 60, 2),
        "failures": int(pick("llm_failures")),
    }


def total_row(rows: Sequence[Mapping[str, Any]], label: str = "total") -> dict[str, Any]:
    out: dict[str, Any] = {"phase": label}
    for key in ("calls", "serial", "crit_calls", "input_tokens", "output_tokens", "cache_read_tokens",
                "cache_write_tokens", "failures"):
        out[key] = sum(int(r.get(key) or 0) for r in rows)
    out["serial_rep"] = sum(int(r["serial_rep"]) for r in rows if isinstance(r.get("serial_rep"), int))
    for key, digits in (("cost_usd", 4), ("cache_saved_usd", 4), ("sim_wait_s", 1), ("real_s", 2),
                        ("llm_busy_s", 2), ("est_wall_min", 2)):
        out[key] = round(sum(float(r.get(key) or 0.0) for r in rows), digits)
    return out


QUALITY_KEYS = ("ami", "purity", "inverse_purity", "assigned_share", "categories", "leaves", "leaf_size_median",
                "genre_match_share", "scene_match_share", "contradicting_share")
HIGHER_IS_BETTER = {"ami", "purity", "inverse_purity", "assigned_share", "genre_match_share", "scene_match_share"}
QUALITY_TOLERANCE = 0.005  # "no loss": within half a point of the seed profile


def build_problems(build: Mapping[str, Any]) -> list[str]:
    """Why a build's figures cannot be trusted: it failed, made no call, or the requests a counting proxy
    saw between the SDK and the server differ from the calls the project reported. Empty: trustworthy."""
    problems = []
    if not build.get("ok"):
        problems.append("build failed")
    calls = int(build.get("total", {}).get("calls") or 0)
    if calls == 0:
        problems.append("0 LLM calls")
    seen = build.get("proxy_requests")
    if seen is None:
        problems.append("no request count from the counting proxy")
    elif int(seen) != calls:
        problems.append(f"the counting proxy saw {seen} /v1/messages requests, the project reported {calls}")
    if not build.get("quality"):
        problems.append("no quality figures")
    return problems


def targets(seed: Mapping[str, Any], default: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The default profile's targets against the seed profile's build of the same collection. A target is
    never met on missing data: when either build has a problem (:func:`build_problems`) every row says
    ``NO (no data: ...)``."""
    missing = [f"{b.get('profile', '?')}: {p}" for b in (seed, default) for p in build_problems(b)]
    rows = _target_rows(seed, default)
    if missing:
        for row in rows:
            row["met"] = "NO (no data: " + "; ".join(missing) + ")"
    return rows


def _target_rows(seed: Mapping[str, Any], default: Mapping[str, Any]) -> list[dict[str, Any]]:
    s, d = seed.get("total") or total_row([]), default.get("total") or total_row([])  # a failed build has none
    rows = [
        {"target": f"calls <= {TARGET_CALL_RATIO:.2f} x seed", "seed": s["calls"], "default": d["calls"],
         "ratio": round(d["calls"] / max(s["calls"], 1), 3), "met": _yes(d["calls"] <= TARGET_CALL_RATIO * s["calls"])},
        {"target": f"cost <= {TARGET_COST_RATIO:.2f} x seed", "seed": s["cost_usd"], "default": d["cost_usd"],
         "ratio": round(d["cost_usd"] / max(s["cost_usd"], 1e-9), 3),
         "met": _yes(d["cost_usd"] <= TARGET_COST_RATIO * s["cost_usd"])},
        {"target": f"serial call latencies <= {TARGET_SERIAL} (measured)", "seed": s["serial"],
         "default": d["serial"], "ratio": round(d["serial"] / max(s["serial"], 1), 3),
         "met": _yes(d["serial"] <= TARGET_SERIAL)},
        {"target": f"serial call latencies <= {TARGET_SERIAL} (phases' reports)", "seed": s["serial_rep"],
         "default": d["serial_rep"], "ratio": round(d["serial_rep"] / max(s["serial_rep"], 1), 3),
         "met": _yes(d["serial_rep"] <= TARGET_SERIAL)},
        {"target": f"simulated LLM wait <= {TARGET_WAIT_MIN} min", "seed": round(s["sim_wait_s"] / 60, 1),
         "default": round(d["sim_wait_s"] / 60, 1), "ratio": round(d["sim_wait_s"] / max(s["sim_wait_s"], 1e-9), 3),
         "met": _yes(d["sim_wait_s"] <= TARGET_WAIT_MIN * 60)},
    ]
    sq, dq = seed.get("quality", {}), default.get("quality", {})
    for key in QUALITY_KEYS:
        if key not in sq or key not in dq:
            continue
        met: Any = ""
        if key in HIGHER_IS_BETTER:
            met = _yes(dq[key] >= sq[key] - QUALITY_TOLERANCE)
        elif key == "contradicting_share":
            met = _yes(dq[key] <= sq[key] + QUALITY_TOLERANCE)
        elif key == "categories":
            met = _yes(8 <= dq[key] <= 12)
        what = " (8-12)" if key == "categories" else " (no loss)" if met != "" else ""
        rows.append({"target": f"quality: {key}{what}", "seed": sq[key],
                     "default": dq[key], "ratio": round(dq[key] / sq[key], 3) if sq[key] else "", "met": met})
    return rows


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def latency_by_task(requests: Sequence[Mapping[str, Any]], scale: float,
                    latency: Callable[[Mapping[str, Any]], float]) -> list[dict[str, Any]]:
    """Per task: requests, median output tokens, the median modelled latency (scale 1) and the median
    latency the server measured divided by the scale (the model plus the server's own compute, which
    the division multiplies by 1/scale too)."""
    by: dict[str, list[Mapping[str, Any]]] = {}
    for r in requests:
        by.setdefault(r["task"] or "?", []).append(r)
    rows = []
    for task, items in sorted(by.items()):
        rows.append({"task": task, "requests": len(items),
                     "median_output_tokens": int(statistics.median(i["output_tokens"] for i in items)),
                     "median_model_latency_s": round(statistics.median(latency(i) for i in items), 1),
                     "median_measured_over_scale_s": round(statistics.median(i["latency_s"] for i in items) / scale, 1)
                     if scale > 0 else 0.0})
    return rows


# ------------------------------------------------------------------------------ driver
def with_task_serial(by_task: Sequence[Mapping[str, Any]],
                     timelines: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """``by_task`` rows with ``serial``: the serial depth of that task's calls within its phase (the
    longest chain of its calls each starting at or after the previous one's end)."""
    out = []
    for row in by_task:
        calls = [c for c in timelines.get(row["phase"], []) if c.get("task") == row["task"]
                 and c.get("model", row["model"]) == row["model"]]
        out.append({**row, "serial": critical_path(calls)["calls"]})
    return out


def with_phase_rows(build: Mapping[str, Any], weigh: Callable[[Mapping[str, Any]], float]) -> dict[str, Any]:
    """A build (``harness.run_build``) with its per-phase rows and their total, and each task's serial depth."""
    meta, stats, timelines = build.get("meta", {}), build.get("stats", {}), build.get("timelines", {})
    rows = [phase_row(p, meta.get(p, {}), stats.get(p, {}), timelines.get(p, []), weigh)
            for p in LLM_PHASES if p in meta]
    return {**build, "phases": rows, "total": total_row(rows),
            "by_task": with_task_serial(build.get("by_task", []), timelines)}


PHASE_COLUMNS = ["phase", "calls", "serial_rep", "serial", "crit_calls", "input_tokens", "output_tokens",
                 "cache_write_tokens", "cache_read_tokens", "cost_usd", "cache_saved_usd", "sim_wait_s", "real_s",
                 "est_wall_min"]


def prefix_rows(model_config: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Per task: the tokens of its system prompt (the prefix its calls repeat; the payload differs per call)
    on its tier's model, that model's minimum cacheable length, and whether the provider caches it."""
    from collection_tree.llm.models import approx_tokens, cache_min_tokens, get_tiered_model
    from collection_tree.tasks import TASKS

    rows = []
    for name, spec in sorted(TASKS.items()):
        model, _ = get_tiered_model(spec.tier, model_config)
        tokens, minimum = approx_tokens(spec.system), cache_min_tokens(model)
        rows.append({"task": name, "model": model, "system_tokens": tokens, "min_cacheable": minimum,
                     "share_of_min": round(tokens / minimum, 2), "breakpoint": _yes(tokens >= minimum).lower()})
    return rows


def run(collections: Sequence[str], *, fixed_s: float = FIXED_S, per_token_s: float = PER_TOKEN_S,
        scale: float = SCALE, work: Path | None = None, timeout: float = 1800,
        log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> dict[str, Any]:
    """Seed and default builds of each collection through one fake server; returns builds and tables."""
    weigh = call_latency(fixed_s, per_token_s)
    builds: list[dict[str, Any]] = []
    calibration: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ct-llm-budget-") as tmp_name:
        tmp = work or Path(tmp_name)
        latency = {"fixed_s": fixed_s, "per_output_token_s": per_token_s, "scale": scale}
        # The SDK talks to the fake server through a counting proxy: an independent count of the requests.
        with FakeServerProcess(latency) as server, CountingProxy(server.base_url) as proxy:
            for collection in collections:
                for profile in PROFILES:
                    server.reset()
                    proxy.reset()
                    started = time.perf_counter()
                    try:
                        build = run_build(collection, profile, "anthropic", work=tmp, base_url=proxy.base_url,
                                          timeout=timeout, evaluate=quality.evaluate_build)
                    except (RuntimeError, subprocess.TimeoutExpired) as exc:
                        build = failed_build(collection, profile, "anthropic", exc)
                    build = with_phase_rows(build, weigh)
                    requests, in_flight = server.log()
                    build["server_requests"] = len(requests)
                    build["proxy_requests"] = proxy.messages()
                    build["server_max_in_flight"] = in_flight
                    build["problems"] = build_problems(build)
                    for row in latency_by_task(requests, scale, weigh):
                        calibration.append({"collection": collection, "profile": profile, **row})
                    builds.append(build)
                    log(f"llm_budget: {collection}/{profile}: ok={build['ok']} calls={build['total']['calls']} "
                        f"proxy={build['proxy_requests']} serial={build['total']['serial']} "
                        f"cost=${build['total']['cost_usd']:.3f} ({time.perf_counter() - started:.0f}s)"
                        + (f" PROBLEMS: {'; '.join(build['problems'])}" if build["problems"] else ""))
    return summarise(builds, calibration, {"fixed_s": fixed_s, "per_output_token_s": per_token_s, "scale": scale})


def summarise(builds: Sequence[dict[str, Any]], calibration: Sequence[dict[str, Any]],
              latency: Mapping[str, float]) -> dict[str, Any]:
    tables: dict[str, str] = {}
    for build in builds:
        heading = f"{build['collection']}: {build['profile']} profile ({build['provider']})"
        note = "" if build["ok"] else f"\n\nBuild FAILED: {build['step_failures'][:1]}"
        problems = build.get("problems", build_problems(build))
        if problems:
            note += f"\n\nNOT TRUSTWORTHY: {'; '.join(problems)}"
        if build["checks_failed"]:
            note += f"\n\nFailed checks: {', '.join(build['checks_failed'])}"
        tables[heading] = markdown_table([*build["phases"], build["total"]], PHASE_COLUMNS) + note
    target_rows: list[dict[str, Any]] = []
    for collection in dict.fromkeys(b["collection"] for b in builds):
        by = {b["profile"]: b for b in builds if b["collection"] == collection}
        if "seed" in by and "default" in by:
            for row in targets(by["seed"], by["default"]):
                target_rows.append({"collection": collection, **row})
    path_rows = [{"collection": b["collection"], "profile": b["profile"], "phase": r["phase"], "serial": r["serial"],
                  "serial_by_task": r.get("serial_by_task", "")} for b in builds for r in b["phases"]]
    if path_rows:
        tables["Serial chain by task (the calls on each phase's longest chain)"] = markdown_table(
            path_rows, ["collection", "profile", "phase", "serial", "serial_by_task"])
    count_rows = [{"collection": b["collection"], "profile": b["profile"], "reported_calls": b["total"]["calls"],
                   "proxy_requests": b.get("proxy_requests", ""), "server_requests": b.get("server_requests", ""),
                   "agree": _yes(b.get("proxy_requests") == b["total"]["calls"] == b.get("server_requests"))}
                  for b in builds]
    tables["Requests: reported vs counting proxy vs server log"] = markdown_table(
        count_rows, ["collection", "profile", "reported_calls", "proxy_requests", "server_requests", "agree"])
    if target_rows:
        tables["Targets: default vs seed"] = markdown_table(target_rows, ["collection", "target", "seed", "default",
                                                                          "ratio", "met"])
    task_rows = [{"collection": b["collection"], "profile": b["profile"], **t} for b in builds for t in b["by_task"]]
    if task_rows:
        tables["Calls, tokens and cost by task"] = markdown_table(
            task_rows, ["collection", "profile", "phase", "task", "model", "calls", "serial", "input_tokens",
                        "cache_write_tokens", "cache_read_tokens", "output_tokens", "cost_usd", "cache_saved_usd"])
    tables["Cacheable prefixes by task (system prompt vs the model's minimum; prompts are never padded)"] = \
        markdown_table(prefix_rows(), ["task", "model", "system_tokens", "min_cacheable", "share_of_min",
                                       "breakpoint"])
    tables["README table"] = readme_table(builds)
    tables["Calibration: simulated latency per task"] = (
        f"Latency model: {latency['fixed_s']} s + {latency['per_output_token_s']} s per output token, "
        f"scale {latency['scale']}.\n\n"
        + markdown_table(calibration, ["collection", "profile", "task", "requests", "median_output_tokens",
                                       "median_model_latency_s", "median_measured_over_scale_s"]))
    return {"builds": list(builds), "targets": target_rows, "calibration": list(calibration), "latency": dict(latency),
            "tables": tables}


def readme_table(builds: Sequence[Mapping[str, Any]]) -> str:
    """The README's LLM budget table, one row per build (an untrustworthy build says so in its row)."""
    names = {"genius": "genius-2000s", "genius-full": "genius-2000s-full"}
    rows = []
    for b in builds:
        t = b["total"]
        problems = b.get("problems", build_problems(b))
        rows.append({"collection": names.get(b["collection"], b["collection"]),
                     "profile": b["profile"] + (" (the reference)" if b["profile"] == "seed" else ""),
                     "calls": t["calls"], "serial": t["serial"],
                     "input / output tokens": f"{_short(t['input_tokens'])} / {_short(t['output_tokens'])}",
                     "cache write / read tokens":
                         f"{_short(t['cache_write_tokens'])} / {_short(t['cache_read_tokens'])}",
                     "cache saved": f"${t.get('cache_saved_usd', 0.0):.2f}", "cost": f"${t['cost_usd']:.2f}",
                     "simulated LLM wait": f"{t['sim_wait_s'] / 60:.1f} min"
                     + (f" (NOT TRUSTWORTHY: {'; '.join(problems)})" if problems else "")})
    return markdown_table(rows, ["collection", "profile", "calls", "serial", "input / output tokens",
                                 "cache write / read tokens", "cache saved", "cost", "simulated LLM wait"])


def _short(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1_000_000 else f"{round(n / 1000)}K" if n >= 1000 else str(n)


def print_tables(tables: Mapping[str, str]) -> None:
    for heading, table in tables.items():
        print(f"\n## {heading}\n\n{table}")


def write(report: Mapping[str, Any]) -> Path:
    """benchmarks/results/llm_budget.md and .json (every build's rows, timelines left out)."""
    data = {k: v for k, v in report.items() if k != "tables"}
    data["builds"] = [{k: v for k, v in b.items() if k not in ("timelines", "meta")} for b in report["builds"]]
    RESULTS.mkdir(parents=True, exist_ok=True)
    timelines = [{"collection": b["collection"], "profile": b["profile"], "timelines": {
        phase: [[r["task"], r["started"], r["ended"], r["output_tokens"]] for r in rows]
        for phase, rows in b.get("timelines", {}).items()}} for b in report["builds"]]
    (RESULTS / "llm_budget_timelines.json").write_text(json.dumps(
        {"columns": ["task", "started", "ended", "output_tokens"], "builds": timelines}, separators=(",", ":")))
    return write_results("llm_budget", "LLM budget: seed vs default profile (fake Anthropic server)",
                         report["tables"], data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collections", default="demo", help="comma-separated: demo, genius, genius-full")
    parser.add_argument("--fixed", type=float, default=FIXED_S, help="latency model: fixed seconds per answer")
    parser.add_argument("--per-token", type=float, default=PER_TOKEN_S, help="latency model: seconds per output token")
    parser.add_argument("--scale", type=float, default=SCALE, help="the fake server sleeps this share of it")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args(argv)
    collections = [c.strip() for c in args.collections.split(",") if c.strip()]
    unknown = [c for c in collections if c not in COLLECTIONS]
    if unknown:
        parser.error(f"unknown collections {unknown}; expected {', '.join(COLLECTIONS)}")
    report = run(collections, fixed_s=args.fixed, per_token_s=args.per_token, scale=args.scale, timeout=args.timeout)
    print_tables(report["tables"])
    print(f"\nwritten: {write(report)}")
    bad = {f"{b['collection']}/{b['profile']}": b["problems"] for b in report["builds"] if b["problems"]}
    if bad:
        print(f"\nllm_budget: untrustworthy builds: {bad}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
