"""``collection-tree build``: materialise the full build (or the test run) with the same Definitions
Dagster serves, in process, recorded in DAGSTER_HOME's history, then print a summary."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import yaml

from collection_tree import settings

if TYPE_CHECKING:
    from collection_tree.operations import RunEvent


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("build", help="build the collection tree (offline by default, no key needed)")
    parser.add_argument("--test", action="store_true",
                        help="the test run: top 20 seeds, only their tracks, no phase 7, own storage")
    parser.add_argument("--resume", nargs="?", const="latest", metavar="RUN_ID",
                        help="re-execute the latest (or the given) failed, stopped or killed build from failure: "
                             "finished phases load from storage, finished LLM batches from the cache")
    parser.add_argument("--verbose", action="store_true",
                        help="Dagster's full event log on stderr instead of the progress bar")
    parser.add_argument("--config", type=Path, default=None, metavar="RUN_YAML",
                        help="run config: the phases' parameters by asset name, e.g. 'metadata_suggestions: "
                             "{min_confidence: 0.5}' (README, 'Run config')")
    parser.set_defaults(func=run)


def read_run_config(path: Path, test: bool) -> dict[str, Any]:
    """The ``ops`` run config of a run.yaml, checked (``ValueError`` naming the file and the entry)."""
    from collection_tree.assets.modes import FULL, TEST
    from collection_tree.assets.parameters import run_config_from_file

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the run config ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: expected YAML, got a parse error ({exc})") from exc
    return run_config_from_file(doc, str(path), (TEST if test else FULL).prefix)


# Dagster's console logger is silenced under the progress bar; the bar prints warnings itself.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
SESSION_TAG = "collection_tree/cli_session"


class ProgressBar:
    """A one-line text bar on stderr driven by the run's events (a line per step and every 5% when
    stderr is not a terminal)."""

    WIDTH = 28

    def __init__(self, stream: TextIO = sys.stderr):
        self.stream = stream
        self.tty = stream.isatty()
        self.percent = 0
        self.text = ""
        self.printed_percent = -5
        self.printed_step = ""
        self.drawn = False

    def __call__(self, event: RunEvent) -> None:
        step = event.step.replace("__", "/")  # a step key names its asset key path with "__"
        if event.kind in ("warning", "failure"):
            first = (event.message.strip().splitlines() or [""])[0]
            self._line(f"{event.kind}: [{step}] {first[:300]}")
            return
        if event.kind == "progress":
            self.percent = max(self.percent, event.build_percent)
            self.text = f"{step} {event.phase_percent:.0f}% | {event.message}"
        else:
            self.text = f"{step} ..."
        self._show(step)

    def _show(self, step: str) -> None:
        if self.tty:
            self._draw()
        elif step != self.printed_step or self.percent >= self.printed_percent + 5:
            self.printed_step, self.printed_percent = step, self.percent
            self.stream.write(self._bar() + "\n")
            self.stream.flush()

    def _bar(self) -> str:
        filled = round(self.WIDTH * self.percent / 100)
        return f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.percent:3d}% {self.text}"

    def _draw(self) -> None:
        columns = max(shutil.get_terminal_size().columns - 1, 20)
        self.stream.write("\r" + self._bar()[:columns].ljust(columns))
        self.stream.flush()
        self.drawn = True

    def _line(self, text: str) -> None:
        if self.tty and self.drawn:
            self.stream.write("\r" + " " * max(shutil.get_terminal_size().columns - 1, 20) + "\r")
        self.stream.write(text + "\n")
        if self.tty and self.drawn:
            self._draw()
        self.stream.flush()

    def close(self, done: bool) -> None:
        if done:
            self.percent, self.text = 100, "done"
            self._show("")
        if self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def run(args: argparse.Namespace) -> int:
    if args.config is not None and args.resume:
        print("error: --config starts a new build; --resume re-executes a run with the config it had",
              file=sys.stderr)
        return 2
    try:
        ops_config = read_run_config(args.config, args.test) if args.config is not None else {}
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cfg = settings.current()
    home = settings.use_dagster_home(cfg)
    from dagster import DagsterInstance, RunsFilter

    from collection_tree import operations as ops
    from collection_tree.definitions import defs

    job_name = ops.TEST_JOB if args.test else ops.FULL_JOB
    run_config = {**ops_config, **({} if args.verbose else QUIET_RUN_CONFIG)}
    bar = None if args.verbose else ProgressBar()
    started = time.monotonic()
    result = None
    with DagsterInstance.get() as instance:
        busy = [s for s in ops.active_runs(instance) if s.job_name in (ops.FULL_JOB, ops.TEST_JOB)]
        if busy:
            print(f"error: run {busy[0].run_id} ({busy[0].job_name}) is {busy[0].status}: one build at a time. "
                  "Wait for it, or terminate it in the UI.", file=sys.stderr)
            return 1
        last = ops.latest_run(instance, (job_name,))
        session = uuid.uuid4().hex
        if args.resume:
            parent = last.run_id if args.resume == "latest" and last else args.resume
            if args.resume == "latest" and last is None:
                print(f"error: no {job_name} run to resume", file=sys.stderr)
                return 1
            if args.resume == "latest" and last is not None and last.is_success:
                print(f"error: nothing to resume: the latest {job_name} run ({last.run_id}) succeeded",
                      file=sys.stderr)
                return 1

            def find_run() -> str | None:
                runs = instance.get_runs(RunsFilter(tags={SESSION_TAG: session}), limit=1)
                return runs[0].run_id if runs else None
        else:
            parent, run_id = None, str(uuid.uuid4())
            if last is not None and ops.run_state(instance, last).orphaned:
                ops.recover_orphaned_run(instance, last)
                print(f"note: run {last.run_id} was interrupted (its process is gone); marked failed. "
                      "`collection-tree build --resume` would have continued it.", file=sys.stderr)

            def find_run() -> str | None:
                return run_id
        follower = ops.RunFollower(instance, find_run, bar) if bar is not None else None
        if follower is not None:
            follower.start()
        try:
            if parent is not None:
                try:
                    result = ops.resume_run(instance, parent, run_config=run_config, tags={SESSION_TAG: session})
                except ValueError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    return 1
            else:
                job = defs.resolve_job_def(job_name)
                result = job.execute_in_process(instance=instance, run_id=run_id, run_config=run_config,
                                                tags={SESSION_TAG: session}, raise_on_error=False)
        except KeyboardInterrupt:
            print(f"\ninterrupted; resume with `collection-tree build {'--test ' if args.test else ''}--resume`",
                  file=sys.stderr)
            return 130
        finally:
            if follower is not None:
                follower.finish()
            if bar is not None:
                bar.close(done=result is not None and result.success)
    seconds = time.monotonic() - started
    assert result is not None
    if not result.success:
        failure = next((e for e in result.all_events if e.is_step_failure), None)
        detail = failure.event_specific_data.error.message.strip() if failure else "see the run's logs"
        print(f"build failed after {seconds:.1f}s: {detail}", file=sys.stderr)
        print(f"run {result.run_id} is in {home}; resume it with `collection-tree build "
              f"{'--test ' if args.test else ''}--resume` or in the Dagster UI (re-execute from failure)",
              file=sys.stderr)
        return 1
    from collection_tree.commands._summary import print_summary

    print_summary(result, places=cfg.places(), test=args.test, seconds=seconds)
    return 0
