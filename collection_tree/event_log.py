"""Keeping the local instance's SQLite event log databases open while a run writes to them.

Dagster's SQLite event log (``SqliteEventLogStorage``, the storage of a ``DAGSTER_HOME`` without a
database server) opens a connection for each event it stores and closes it after the insert. Its
databases are in WAL mode, and SQLite removes a WAL database's ``-wal`` and ``-shm`` files when
the last connection to it closes, so every event created both files again and removed them: on a
disk where creating a file costs half a millisecond that was most of an event's cost (an update
of 30K tracks stores about 150 events). One idle connection held to the run's database and to the
index database for the run keeps the files between events (the writes, their transactions and
SQLite's own checkpoints are unchanged: after one read that attaches it to the WAL, the held
connection never reads, writes or holds a transaction)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from dagster import DagsterInstance
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage


@contextlib.contextmanager
def event_log_kept_open(instance: DagsterInstance, run_id: str | None = None) -> Iterator[int]:
    """Hold the index database and ``run_id``'s database open until the block ends, when the
    instance's event log is Dagster's SQLite one and they exist (a database is never created here);
    gives how many are held (0 for any other storage)."""
    storage = instance.event_log_storage
    if not isinstance(storage, SqliteEventLogStorage):
        yield 0
        return
    held: list[sqlite3.Connection] = []
    try:
        for shard in (INDEX_SHARD_NAME, *([run_id] if run_id else [])):
            path = Path(storage.path_for_shard(shard))
            if not path.is_file():
                continue
            try:
                connection = sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, check_same_thread=False)
            except sqlite3.Error:
                continue
            held.append(connection)
            # One read attaches the connection to the WAL; it ends at once (autocommit), so the
            # connection holds no transaction: it blocks no writer and no checkpoint.
            with contextlib.suppress(sqlite3.Error):
                connection.execute("SELECT count(*) FROM sqlite_master").fetchall()
        yield len(held)
    finally:
        for connection in held:
            connection.close()
