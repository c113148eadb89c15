"""``collection-tree status``: each asset of the build as materialised / stale / missing (Dagster's
staleness), and the latest build or update run: its status, and whether and how it can be resumed."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collection_tree.commands._home import ensure_dagster_home
from collection_tree.settings import Settings, current


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("status", help="which assets are materialised, stale or missing; can the last build resume")
    parser.add_argument("--test", action="store_true", help="the test run's assets and runs")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def collect(test: bool, cfg: Settings) -> dict[str, Any]:
    from dagster import DagsterInstance

    from collection_tree import operations as ops
    from collection_tree.assets.modes import FULL, TEST
    from collection_tree.definitions import defs
    from collection_tree.demo import input_paths

    mode, job = (TEST, ops.TEST_JOB) if test else (FULL, ops.FULL_JOB)
    places = cfg.places()
    given = cfg.input_paths()
    inputs = {k: Path(v) for k, v in given.items()} if given else input_paths(places.demo)
    with DagsterInstance.get() as instance:
        states = ops.asset_states(instance, defs, mode.group, places, inputs)
        last = ops.latest_run(instance, (job,) if test else (job, ops.UPDATE_JOB))  # an update is a build too
        run_state = ops.run_state(instance, last) if last is not None else None
    return {"job": job, "assets": [asdict(s) for s in states],
            "latest_run": asdict(run_state) if run_state is not None else None}


def _when(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if timestamp else "-"


def run(args: argparse.Namespace) -> int:
    cfg = current()
    home = ensure_dagster_home(cfg)
    report = collect(args.test, cfg)
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"{report['job']} (DAGSTER_HOME={home})")
    print(f"  {'asset':<30} {'state':<13} {'materialised at':<24} run       detail")
    for a in report["assets"]:
        run_id = (a["run_id"] or "-")[:8]
        print(f"  {a['key']:<30} {a['state']:<13} {_when(a['materialised_at']):<24} {run_id:<9} {a['detail']}")
    counts = {s: sum(a["state"] == s for a in report["assets"]) for s in ("materialised", "stale", "missing")}
    print("  " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    last = report["latest_run"]
    if last is None:
        print("latest run: none yet (`collection-tree build`)")
    else:
        kind = " (collection-tree update)" if last["job_name"] != report["job"] else ""
        print(f"latest run: {last['run_id']}{kind} {last['status']}{' (process gone)' if last['orphaned'] else ''}")
        if last["advice"]:
            print(f"  {last['advice']}")
    return 0
