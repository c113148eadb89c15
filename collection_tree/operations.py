"""Operating the build from outside a run (the CLI's ``status``, ``delete`` and ``build --resume``).

- which assets of a build are materialised, stale or missing (from public Dagster APIs: the asset
  specs' dependencies and code versions, each asset's latest materialisation and the data versions
  it recorded; plus: the stored file is gone, or an input file changed after it was read);
- the latest run of a build job, whether it can be resumed, and whether its process is gone (a
  SIGKILLed run stays STARTED in the instance for ever; we mark it failed and free its pool slots);
- re-executing a failed, canceled or orphaned run from failure (``ReexecutionOptions.from_failure``);
- deleting the build's outputs (the Dagster run history is kept).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    Definitions,
    EventLogEntry,
    JobDefinition,
    JobExecutionResult,
    PathMetadataValue,
    ReexecutionOptions,
    RunsFilter,
    build_reconstructable_job,
    execute_job,
)
from upath import UPath

from collection_tree.assets.evolution import HISTORY_DIR
from collection_tree.definitions import defs as code_location
from collection_tree.event_log import event_log_kept_open
from collection_tree.exports.m3u import PLAYLISTS_DIR
from collection_tree.exports.reuse import record_path
from collection_tree.exports.serato import SUBCRATES_DIR
from collection_tree.settings import INPUTS, TREE_FILE, Places

FULL_JOB = "collection_tree_build"
TEST_JOB = "collection_tree_test"
UPDATE_JOB = "collection_tree_update"  # collection-tree update: the incremental update
ASSET_JOB = "__ASSET_JOB"  # ad-hoc materialisations (`dagster asset materialize`, UI "Materialize")
IN_PROGRESS = frozenset({DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
                         DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING})
RESUMABLE = frozenset({DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED})
# What a build writes into the output folder besides the store (the full build's; the test run's
# live under test_run/). The demo collection (inputs) and, unless asked, the LLM cache are kept.
OUTPUT_FILES = (TREE_FILE, "playlists", "collection.html", "rekordbox.xml", "collection.nml", "Subcrates",
                "metadata_suggestions.csv", "metadata_suggestions.parquet", "test_run", HISTORY_DIR,
                *(record_path(Path(), folder).name for folder in (PLAYLISTS_DIR, SUBCRATES_DIR)))
CACHE_SUFFIXES = ("", "-wal", "-shm")  # SQLite's file and its write-ahead log
# Tags Dagster writes on every materialisation (its data-version bookkeeping).
DATA_VERSION_TAG = "dagster/data_version"
INPUT_DATA_VERSION_TAG = "dagster/input_data_version/"
CODE_VERSION_TAG = "dagster/code_version"


# -- asset states -------------------------------------------------------------------------------

@dataclass(frozen=True)
class AssetState:
    key: str
    state: str  # "materialised" | "stale" | "missing"
    detail: str
    materialised_at: float | None
    run_id: str | None


def stored_output_exists(base: UPath, key: AssetKey, metadata: Mapping[str, Any]) -> bool:
    """Where the materialisation said it wrote (its ``path`` metadata: the IO managers' file, or the
    file an export wrote itself), else ``<base>/<key path>.parquet`` or ``.json``."""
    entry = metadata.get("path")
    if isinstance(entry, PathMetadataValue):
        return UPath(str(entry.value)).exists()
    stem = base.joinpath(*key.path)
    return any(stem.with_name(stem.name + ext).exists() for ext in (".parquet", ".json"))


def input_file_changed(path: Path | None, metadata: Mapping[str, Any], materialised_at: float) -> str:
    """Why the configured input differs from the one the asset was built from ("" when it does not): by
    content (sha256), whatever the path or the modification time say. A materialisation from before
    hashes were recorded falls back to the modification time."""
    if path is None:
        return ""
    if not path.exists():
        return f"input file {path} is gone"
    built_hash = metadata.get("sha256")
    if built_hash is None:
        return f"input file {path} changed since" if path.stat().st_mtime > materialised_at else ""
    from collection_tree.core.inputs import file_sha256

    digest = file_sha256(path)
    if digest == str(built_hash.value):
        return ""
    source = metadata.get("source_path")
    built_from = str(source.value) if source is not None else ""
    if built_from and Path(built_from) != path:
        return (f"configured input {path} is not the built one ({built_from}): sha256 {digest[:12]} "
                f"!= {str(built_hash.value)[:12]}")
    return f"input file {path} changed since (sha256 {digest[:12]} != {str(built_hash.value)[:12]})"


def asset_states(instance: DagsterInstance, defs: Definitions, group: str, places: Places,
                 inputs: Mapping[str, Path]) -> list[AssetState]:
    """Every asset of ``group`` in dependency order, with its state and why: stale when a parent's
    current data version differs from the one this materialisation read (or, without recorded
    versions, the parent was materialised after it), when its code version changed, when an input
    file changed after it was read, or when an upstream asset is stale or missing; missing when never
    materialised or its stored output is gone. ``inputs``: the input files by asset name.

    An asset an incremental update made (``collection-tree update``) read that update's tracks and
    trees and the previous tree, not the phases: phases the update left stale (they predate its
    tracks, as an update intends) do not make it stale; a changed input still does."""
    specs = {spec.key: spec for spec in defs.resolve_all_asset_specs() if spec.group_name == group}
    parents = {key: [d.asset_key for d in spec.deps if d.asset_key in specs] for key, spec in specs.items()}
    order = list(TopologicalSorter({k: sorted(v, key=str) for k, v in sorted(parents.items(), key=str)})
                 .static_order())
    latest = {key: instance.get_latest_materialization_event(key) for key in order}
    jobs: dict[str, str | None] = {}

    def job_of(run_id: str) -> str | None:
        if run_id not in jobs:
            run = instance.get_run_by_id(run_id)
            jobs[run_id] = run.job_name if run is not None else None
        return jobs[run_id]

    base = UPath(places.store)
    states: dict[AssetKey, AssetState] = {}
    for key in order:
        name, event = key.to_user_string(), latest[key]
        if event is None or event.asset_materialization is None:
            states[key] = AssetState(name, "missing", "never materialised", None, None)
            continue
        at, run_id = event.timestamp, event.run_id
        if not stored_output_exists(base, key, event.asset_materialization.metadata):
            states[key] = AssetState(name, "missing", "stored output deleted", at, run_id)
            continue
        causes = [f"{p.to_user_string()} {why}" for p in parents[key]
                  if (why := _parent_change(event, p, latest[p]))]
        recorded_code = event.asset_materialization.tags.get(CODE_VERSION_TAG)
        code = specs[key].code_version
        if code is not None and recorded_code is not None and recorded_code != code:
            causes.append(f"code version changed ({recorded_code} -> {code})")
        if key.path[-1] in INPUTS:
            changed = input_file_changed(inputs.get(key.path[-1]), event.asset_materialization.metadata, at)
            causes += [changed] if changed else []
        note = ""
        if not causes:
            upstream = [p for p in sorted(parents[key], key=str) if states[p].state != "materialised"]
            if job_of(run_id) == UPDATE_JOB:  # the phases it did not read are not its upstream
                skipped = [p for p in upstream if latest[p] is not None and latest[p].run_id != run_id]
                upstream = [p for p in upstream if p not in skipped]
                if skipped:
                    note = (f"incremental update (run {run_id[:8]}): the previous tree and the tracks' change; "
                            "the stale phases are the last full build's")
            causes = [f"upstream {p.to_user_string()} is {states[p].state}" for p in upstream][:1]
        states[key] = AssetState(name, "stale" if causes else "materialised", "; ".join(causes) or note, at,
                                 run_id)
    return list(states.values())


def _parent_change(event: EventLogEntry, parent: AssetKey, parent_event: EventLogEntry | None) -> str:
    """Why ``parent`` makes the materialisation ``event`` out of date ("" when it does not)."""
    if parent_event is None or parent_event.asset_materialization is None:
        return ""  # the parent is missing: reported as "upstream ... is missing"
    read = event.asset_materialization.tags.get(INPUT_DATA_VERSION_TAG + parent.to_user_string())
    now = parent_event.asset_materialization.tags.get(DATA_VERSION_TAG)
    if read is not None and now is not None:
        return "has a new materialization" if read != now else ""
    return "has a new materialization" if parent_event.timestamp > event.timestamp else ""


# -- runs ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunState:
    run_id: str
    job_name: str
    status: str
    pid: int | None
    process_alive: bool | None  # None: unknown (no start event yet)
    orphaned: bool  # in progress in the instance, but its process is gone
    resumable: bool
    advice: str


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    status = Path(f"/proc/{pid}/status")
    if status.exists():  # a killed child not yet reaped is a zombie: gone for our purposes
        try:
            return "\nState:\tZ" not in status.read_text()
        except OSError:
            return False
    return True


def run_pid(instance: DagsterInstance, run_id: str) -> int | None:
    """The process executing the run (recorded on its RUN_START event)."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_START, limit=1).records
    event = records[0].event_log_entry.dagster_event if records else None
    return event.pid if event is not None else None


def run_state(instance: DagsterInstance, run: DagsterRun) -> RunState:
    pid = run_pid(instance, run.run_id)
    alive = process_alive(pid) if pid is not None else None
    orphaned = run.status in IN_PROGRESS and run.status != DagsterRunStatus.QUEUED and alive is False
    resumable = run.status in RESUMABLE or orphaned
    if run.job_name == UPDATE_JOB and (orphaned or run.status in RESUMABLE):
        advice = ("`collection-tree update` again: it " + ("marks this run failed, then " if orphaned else "")
                  + "places what is still new against the last tree (finished LLM batches come from the cache)")
    elif orphaned:
        advice = (f"its process {pid} is gone (killed?): `collection-tree build --resume` marks it failed and "
                  "re-executes it from failure")
    elif run.status in RESUMABLE:
        advice = ("resume: `collection-tree build --resume`, or Re-execute > From failure in the UI; "
                  "finished phases load from storage, finished LLM batches come from the cache")
    elif run.status in IN_PROGRESS:
        advice = "in progress"
    else:
        advice = ""
    return RunState(run.run_id, run.job_name, run.status.value, pid, alive, orphaned, resumable, advice)


def latest_run(instance: DagsterInstance, job_names: Iterable[str] = (FULL_JOB,)) -> DagsterRun | None:
    runs = [r for name in job_names for r in instance.get_runs(RunsFilter(job_name=name), limit=1)]
    return max(runs, key=lambda r: _created(instance, r), default=None)


def _created(instance: DagsterInstance, run: DagsterRun) -> float:
    record = instance.get_run_record_by_id(run.run_id)
    return record.create_timestamp.timestamp() if record is not None else 0.0


def active_runs(instance: DagsterInstance) -> list[RunState]:
    """Runs of the build jobs (or ad-hoc materialisations) still in progress with a live process."""
    runs = instance.get_runs(RunsFilter(statuses=list(IN_PROGRESS)))
    states = [run_state(instance, r) for r in runs if r.job_name in (FULL_JOB, TEST_JOB, UPDATE_JOB, ASSET_JOB)]
    return [s for s in states if not s.orphaned]


def recover_orphaned_run(instance: DagsterInstance, run: DagsterRun) -> DagsterRun:
    """Mark a run whose process is gone as failed (canceled if it was canceling) and free the pool
    slots it held, so it can be re-executed and the LLM pool is not blocked by a dead run."""
    state = run_state(instance, run)
    if not state.orphaned:
        raise ValueError(f"run {run.run_id} is {state.status} and not orphaned")
    message = f"process {state.pid} is gone; marked by collection-tree so the run can be resumed"
    if run.status == DagsterRunStatus.CANCELING:
        instance.report_run_canceled(run, message=message)
    else:
        instance.report_run_failed(run, message=message)
    instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    updated = instance.get_run_by_id(run.run_id)
    assert updated is not None
    return updated


def load_job(job_name: str) -> JobDefinition:
    """Reconstructs a job of the code location (used by :func:`resume_run` through a reconstructable
    pointer; re-execution needs one)."""
    if job_name == ASSET_JOB:
        return code_location.resolve_implicit_global_asset_job_def()
    return code_location.resolve_job_def(job_name)


def run_job(instance: DagsterInstance, job_name: str, *, run_config: Mapping[str, Any] | None = None,
            tags: Mapping[str, str] | None = None) -> JobExecutionResult:
    """Run a job of the code location through its own executor (the build lock, in-process unless the
    run config chooses multiprocess). Not ``execute_in_process``: that keeps every step's output in
    memory until the run ends, for its result to offer them; at 1M tracks the build then held every
    phase's tracks, trees and clusters at once (several GiB). Here an output lives as long as its step
    needs it; the next steps load theirs from the store."""
    job = build_reconstructable_job(__name__, "load_job", reconstructable_args=(job_name,))
    with event_log_kept_open(instance):  # the run's planned materialisations; the executor holds the rest
        return execute_job(job, instance, run_config=run_config, tags=tags)


def resume_run(instance: DagsterInstance, run_id: str, *, run_config: Mapping[str, Any] | None = None,
               tags: Mapping[str, str] | None = None) -> JobExecutionResult:
    """Re-execute a failed, canceled or orphaned run from failure: steps that succeeded are not run
    again (their outputs load from the store), the rest run (their finished LLM batches are cache hits)."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        raise ValueError(f"no run {run_id} in this Dagster instance")
    if run_state(instance, run).orphaned:
        run = recover_orphaned_run(instance, run)
    if run.status not in RESUMABLE:
        raise ValueError(f"run {run_id} is {run.status.value}: only failed or canceled runs can be resumed")
    job = build_reconstructable_job(__name__, "load_job", reconstructable_args=(run.job_name,))
    # The run's own config (its parameters) carries over; ``run_config`` adds to it (e.g. loggers).
    merged = {**run.run_config, **(run_config or {})}
    return execute_job(job, instance, run_config=merged, tags=tags,
                       reexecution_options=ReexecutionOptions.from_failure(run_id, instance))


# -- delete -------------------------------------------------------------------------------------

def deletable_paths(places: Places, *, include_cache: bool) -> list[Any]:
    """Existing paths ``delete`` removes: the tree, the exports, the store (and the LLM cache)."""
    paths: list[Any] = [places.output / name for name in OUTPUT_FILES]
    paths.append(UPath(places.store))
    if include_cache:
        paths += [places.llm_cache.with_name(places.llm_cache.name + suffix) for suffix in CACHE_SUFFIXES]
    return [p for p in paths if p.exists()]


def delete_paths(paths: Iterable[Any]) -> list[str]:
    removed = []
    for path in paths:
        if isinstance(path, Path) and path.is_dir():
            shutil.rmtree(path)
        elif isinstance(path, Path):
            path.unlink()
        elif path.is_dir():
            path.rmdir(recursive=True)  # UPath on object storage
        else:
            path.unlink()
        removed.append(str(path))
    return removed


# -- progress -----------------------------------------------------------------------------------

PROGRESS_RE = re.compile(r"^\[(?P<phase>[^\]]+)\]\s+(?P<phase_pct>[\d.]+)% of phase \| build\s+(?P<build>\d+)% "
                         r"\| (?P<message>.*?)(?: \| [\d.]+s)?$")


@dataclass(frozen=True)
class RunEvent:
    """What a follower reports: ``progress`` (a phase's progress line), ``step`` (a step started),
    ``warning`` (a log line at WARNING or above) or ``failure`` (a step failed)."""

    kind: str
    step: str = ""
    message: str = ""
    phase_percent: float = 0.0
    build_percent: int = 0


def parse_progress(message: str) -> RunEvent | None:
    match = PROGRESS_RE.match(message.strip())
    if match is None:
        return None
    return RunEvent("progress", step=match["phase"], message=match["message"],
                    phase_percent=float(match["phase_pct"]), build_percent=int(match["build"]))


def _to_event(entry: Any) -> RunEvent | None:
    dagster_event = entry.dagster_event
    if dagster_event is None:
        progress = parse_progress(entry.user_message)
        if progress is not None:
            return progress
        if entry.level >= logging.WARNING:
            return RunEvent("warning", step=entry.step_key or "", message=entry.user_message)
        return None
    if dagster_event.event_type == DagsterEventType.STEP_START:
        return RunEvent("step", step=dagster_event.step_key or "")
    if dagster_event.event_type == DagsterEventType.STEP_FAILURE:
        return RunEvent("failure", step=dagster_event.step_key or "", message=dagster_event.message or "")
    return None


class RunFollower(threading.Thread):
    """Polls a run's event log (its own instance handle) and reports :class:`RunEvent`s while the
    run executes in another thread. ``find_run_id`` is polled until the run exists."""

    def __init__(self, instance: DagsterInstance, find_run_id: Callable[[], str | None],
                 on_event: Callable[[RunEvent], None], interval: float = 0.5):
        super().__init__(name="collection-tree-progress", daemon=True)
        self._ref = instance.get_ref()
        self._find_run_id = find_run_id
        self._on_event = on_event
        self._interval = interval
        self._done = threading.Event()
        self.run_id: str | None = None
        self._cursor: str | None = None

    def run(self) -> None:
        with DagsterInstance.from_ref(self._ref) as instance:
            while not self._done.wait(self._interval):
                self._poll(instance)
            self._poll(instance)  # what the run logged last

    def finish(self, timeout: float = 10.0) -> None:
        self._done.set()
        self.join(timeout)

    def _poll(self, instance: DagsterInstance) -> None:
        if self.run_id is None:
            self.run_id = self._find_run_id()
            if self.run_id is None:
                return
        while True:
            conn = instance.get_records_for_run(self.run_id, cursor=self._cursor, limit=500)
            for record in conn.records:
                event = _to_event(record.event_log_entry)
                if event is not None:
                    self._on_event(event)
            self._cursor = conn.cursor
            if not conn.has_more:
                return
