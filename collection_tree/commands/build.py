"""``collection-tree build``: materialise the full build (or the test run) with the same Definitions
Dagster serves, in process, recorded in DAGSTER_HOME's history, then print a summary."""

from __future__ import annotations

import argparse
import os
import sys
import time

from collection_tree import settings


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("build", help="build the collection tree (offline by default, no key needed)")
    parser.add_argument("--test", action="store_true",
                        help="the test run: top 20 seeds, only their tracks, no phase 7, own storage")
    parser.set_defaults(func=run)


def ensure_dagster_home() -> str:
    """A project-local DAGSTER_HOME by default, so run history persists between commands."""
    home = os.environ.get("DAGSTER_HOME") or str(settings.default_dagster_home())
    os.makedirs(home, exist_ok=True)
    os.environ["DAGSTER_HOME"] = home
    return home


def run(args: argparse.Namespace) -> int:
    home = ensure_dagster_home()
    from dagster import DagsterInstance

    from collection_tree.definitions import defs

    job_name = "collection_tree_test" if args.test else "collection_tree_build"
    job = defs.resolve_job_def(job_name)
    started = time.monotonic()
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    seconds = time.monotonic() - started
    if not result.success:
        failure = next((e for e in result.all_events if e.is_step_failure), None)
        detail = failure.event_specific_data.error.message.strip() if failure else "see the run's logs"
        print(f"build failed after {seconds:.1f}s: {detail}", file=sys.stderr)
        print(f"run {result.run_id} is in {home}; resume it from the Dagster UI (re-execute from failure)",
              file=sys.stderr)
        return 1
    from collection_tree.commands._summary import print_summary

    print_summary(result, test=args.test, seconds=seconds)
    return 0
