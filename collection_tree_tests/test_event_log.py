"""``event_log_kept_open``: the SQLite event log's WAL files stay between events while it is held, no
database is created by it, and another storage is left alone."""

import time
from pathlib import Path

from dagster import DagsterInstance
from dagster._core.events.log import EventLogEntry

from collection_tree.event_log import event_log_kept_open

RUN_ID = "0b0e5d1c-0000-4000-8000-000000000001"


def _log(instance: DagsterInstance, message: str) -> None:
    instance.event_log_storage.store_event(EventLogEntry(
        error_info=None, level=20, user_message=message, run_id=RUN_ID, timestamp=time.time(),
        step_key=None, job_name="job", dagster_event=None))


def _files(home: Path) -> set[str]:
    return {p.name for p in (home / "history" / "runs").iterdir()}


def test_the_run_database_keeps_its_wal_files_while_held(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with DagsterInstance.from_config(str(home)) as instance:
        _log(instance, "first")  # creates the run's database
        wal = f"{RUN_ID}.db-wal"
        assert wal not in _files(home)  # Dagster's connection closed: SQLite removed the WAL
        with event_log_kept_open(instance, RUN_ID) as held:
            assert held == 2  # the index database and the run's
            _log(instance, "second")
            assert wal in _files(home)  # stays between events
            _log(instance, "third")
        assert wal not in _files(home)  # the last connection closed, the WAL checkpointed
        messages = [e.user_message for e in instance.all_logs(RUN_ID)]
        assert messages == ["first", "second", "third"]


def test_a_missing_database_is_not_created(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with DagsterInstance.from_config(str(home)) as instance:
        with event_log_kept_open(instance, RUN_ID) as held:
            assert held == 1  # the index database (the instance made it), not the run's
        assert f"{RUN_ID}.db" not in _files(home)


def test_another_storage_is_left_alone():
    with DagsterInstance.ephemeral() as instance, event_log_kept_open(instance, RUN_ID) as held:
        assert held == 0
