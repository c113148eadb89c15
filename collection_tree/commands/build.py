"""``collection-tree build``: materialise the full build (or the test run) with the same Definitions
Dagster serves, in process, recorded in DAGSTER_HOME's history, then print a summary."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import yaml

from collection_tree import settings
from collection_tree.commands._home import ensure_dagster_home

if TYPE_CHECKING:
    from collection_tree.operations import RunEvent


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("build", help="build the collection tree (offline by default, no key needed)")
    parser.add_argument("--test", action="store_true",
                        help="the test run: top 20 seeds, only their tracks, no phase 7, own storage")
    parser.add_argument("--resume", nargs="?", const="latest", metavar="RUN_ID",
                        help="re-execute the latest (or the given) failed, stopped or killed build from failure: "
                             "finished phases load from storage, finished LLM batches from the cache")
    parser.add_argument("--playlist-order", choices=("mix", "exemplars", "library"), default=None,
                        help="order of every playlist's tracks in every export (collection_tree run config "
                             "playlist_order; default mix: Camelot key, BPM and an energy arc where tracks have them)")
    parser.add_argument("--verbose", action="store_true",
                        help="Dagster's full event log on stderr instead of the progress bar")
    parser.add_argument("--config", type=Path, default=None, metavar="RUN_YAML",
                        help="run config: the phases' parameters by asset name, e.g. 'metadata_suggestions: "
                             "{min_confidence: 0.5}' (README, 'Run config')")
    parser.add_argument("--wait", action="store_true",
                        help="when another build is using the output folder, wait for it instead of refusing")
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


def input_files(cfg: settings.Settings) -> dict[str, Path]:
    """The three input files a build would read (as the run's ``CollectionInputs.resolved``): the
    configured ones, else the demo collection's."""
    from collection_tree.demo import resolved_inputs

    return resolved_inputs(cfg.input_paths(), cfg.places().demo)


def inputs_tag(cfg: settings.Settings, job_name: str) -> dict[str, str]:
    """For a full build or an update, the sensors' tag of the input files' digest (``sensors.INPUTS_TAG``):
    a sensor tick while this run builds them then skips, instead of queueing a second run of the same
    inputs behind the build lock. No tag for the test run, or when an input cannot be read (the run says why)."""
    from collection_tree import operations as ops
    from collection_tree.sensors import INPUTS_TAG, input_digests, inputs_key

    if job_name not in (ops.FULL_JOB, ops.UPDATE_JOB):
        return {}
    try:
        return {INPUTS_TAG: inputs_key(input_digests(input_files(cfg)))}
    except (OSError, ValueError):
        return {}


def check_settings(cfg: settings.Settings) -> None:
    """Settings a run would only trip over in one of its steps, checked before anything starts: the
    inputs (all three or none), config.json, the profile, the LLM settings, the provider and its
    credentials. Raises ``InputError`` or ``ValueError`` with the message a person needs."""
    from collection_tree.core.inputs import load_config
    from collection_tree.llm.factory import choose_provider_name, make_provider
    from collection_tree.phases.common import check_profile

    given = cfg.input_paths()
    missing = [name for name in settings.INPUTS if name not in given]
    if given and missing:
        raise ValueError("set all three inputs or none (the demo collection); missing: "
                         + ", ".join(settings.Settings.env_name(m) for m in missing))
    load_config(cfg.config or None)
    check_profile(cfg.profile or "default")
    cfg.llm_timeout_s()
    cfg.llm_retries()
    provider = make_provider(choose_provider_name(None, cfg), base_url=cfg.anthropic_base_url or None)
    close = getattr(provider, "close", None)
    if callable(close):
        close()


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
        self.started_steps: set[str] = set()

    def __call__(self, event: RunEvent) -> None:
        step = event.step.replace("__", "/")  # a step key names its asset key path with "__"
        if event.kind == "step":
            self.started_steps.add(event.step)
        if event.kind == "warning" and event.step and event.step not in self.started_steps:
            return  # Dagster's "Dependencies for step X failed ... Not executing": the failure says it all
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


def build_run_config(args: argparse.Namespace, ops_config: dict[str, Any] | None = None) -> dict:
    """Dagster run config: the run.yaml's (``ops_config``), quiet console logging, and the flags
    (``--playlist-order`` wins over the file's value for the tree asset)."""
    run_config: dict = {**(ops_config or {}), **({} if args.verbose else QUIET_RUN_CONFIG)}
    if getattr(args, "playlist_order", None):
        tree_op = "test_run__collection_tree" if args.test else "collection_tree"
        ops = dict(run_config.get("ops") or {})
        tree = dict(ops.get(tree_op) or {})
        tree["config"] = {**(tree.get("config") or {}), "playlist_order": args.playlist_order}
        ops[tree_op] = tree
        run_config["ops"] = ops
    return run_config


def run(args: argparse.Namespace) -> int:
    if args.config is not None and args.resume:
        print("error: --config starts a new build; --resume re-executes a run with the config it had",
              file=sys.stderr)
        return 2
    cfg = settings.current()
    try:
        home = str(ensure_dagster_home(cfg))
        ops_config = read_run_config(args.config, args.test) if args.config is not None else {}
        check_settings(cfg)
    except ValueError as exc:  # InputError is a ValueError: file, field, expected, got
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from collection_tree.core.build_lock import BuildLock, BuildLockBusy

    lock = BuildLock(cfg.places().output)

    def say_waiting(holder: Any) -> None:
        print(f"waiting for {holder.describe() if holder else 'another build'} to finish with {lock.folder} ...",
              file=sys.stderr, flush=True)

    # Dagster chooses the run's id; the executor records it with the lock once the run starts.
    holder = f"re-execution of {args.resume}" if args.resume else ""
    try:
        lock.acquire(run_id=holder, command="collection-tree build" + (" --test" if args.test else ""),
                     wait=args.wait, on_wait=say_waiting)
    except BuildLockBusy as busy:
        print(f"error: {busy}", file=sys.stderr)
        return 1
    try:
        return _build_holding_the_lock(args, cfg, home, lock, ops_config)
    finally:
        lock.release()


def _build_holding_the_lock(args: argparse.Namespace, cfg: settings.Settings, home: str, lock: Any,
                            ops_config: dict[str, Any], job_name: str | None = None) -> int:
    """Run ``job_name`` (default: the full build, or the test run with ``--test``) and print its summary."""
    from dagster import DagsterInstance, RunsFilter

    from collection_tree import operations as ops

    job_name = job_name or (ops.TEST_JOB if args.test else ops.FULL_JOB)
    run_config = build_run_config(args, ops_config)
    bar = None if args.verbose else ProgressBar()
    started = time.monotonic()
    result = None
    command = "collection-tree build" + (" --test" if args.test else "")
    # The run goes through the code location's executor (`operations.run_job`, `resume_run`), which sets
    # up the build's heap, its shared offline workers and the export folders' background removals.
    with DagsterInstance.get() as instance:
        busy = [s for s in ops.active_runs(instance) if s.job_name in (ops.FULL_JOB, ops.TEST_JOB, job_name)]
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
            lock.record_run(f"resuming {parent}", command)
        else:
            parent = None
            if last is not None and ops.run_state(instance, last).orphaned:
                ops.recover_orphaned_run(instance, last)
                print(f"note: run {last.run_id} was interrupted (its process is gone); marked failed. "
                      "`collection-tree build --resume` would have continued it.", file=sys.stderr)

        def find_run() -> str | None:
            runs = instance.get_runs(RunsFilter(tags={SESSION_TAG: session}), limit=1)
            return runs[0].run_id if runs else None
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
                result = ops.run_job(instance, job_name, run_config=run_config,
                                     tags={SESSION_TAG: session, **inputs_tag(cfg, job_name)})
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
        cause = failure_cause(result.all_events)
        where = f" in step {cause.step}" if cause.step else ""
        print(f"build failed after {seconds:.1f}s{where} (run {result.run_id}, DAGSTER_HOME={home})", file=sys.stderr)
        if cause.input_error:
            print("fix the input named below, then build again", file=sys.stderr)
        else:
            print(f"resume it with `collection-tree build {'--test ' if args.test else ''}--resume` or in the Dagster "
                  "UI (re-execute from failure): finished phases and LLM answers are kept", file=sys.stderr)
        print(f"error: {cause.message}", file=sys.stderr)
        return 2 if cause.input_error else 1
    from collection_tree.commands._summary import print_summary

    print_summary(result, places=cfg.places(), test=args.test, seconds=seconds)  # under the lock: our own tree
    return 0


# Exceptions that mean the inputs or settings are wrong: resuming cannot help, fixing them does.
INPUT_ERRORS = frozenset({"InputError"})


@dataclass(frozen=True)
class FailureCause:
    step: str
    message: str
    input_error: bool


def failure_cause(events: Any) -> FailureCause:
    """The root cause of a failed run, as a person needs it: a ``Failure``'s description, else the
    innermost exception of the first failed step (an ``InputError`` names file, field, expected, got)."""
    events = list(events)
    failure = next((e for e in events if e.is_step_failure), None)
    if failure is None:
        run_failure = next((e for e in events if e.is_run_failure), None)
        error = getattr(run_failure.event_specific_data, "error", None) if run_failure is not None else None
        if error is None:
            return FailureCause("", "the run failed; see its logs (`--verbose`, or the Dagster UI)", False)
        cls_name, message = _innermost(error)
        return FailureCause("", message, cls_name in INPUT_ERRORS)
    data = failure.step_failure_data
    step = (failure.step_key or "").replace("__", "/")
    if data.user_failure_data is not None and data.user_failure_data.description:
        return FailureCause(step, data.user_failure_data.description.strip(), False)
    cls_name, message = _innermost(data.error)
    return FailureCause(step, message, cls_name in INPUT_ERRORS)


def _innermost(error: Any) -> tuple[str, str]:
    """(class name, one-line message) of the deepest ``cause`` of a serialised error: an input error's own
    text ("<file>: field '<field>': expected ..."), any other as "<Class>: <text>"."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    cls_name = str(getattr(error, "cls_name", "") or "")
    message = str(getattr(error, "message", "") or "").strip()
    head, sep, rest = message.partition(": ")
    if sep and head.rsplit(".", 1)[-1] == cls_name:  # "pkg.module.InputError: text" -> "text"
        message = rest
    first = (message.splitlines() or [""])[0].strip()
    return cls_name, first if cls_name in INPUT_ERRORS or not cls_name else f"{cls_name}: {first}"
