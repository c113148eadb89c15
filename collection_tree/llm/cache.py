"""Persistent LLM response cache (SQLite), safe across threads and processes.

Keyed by :func:`collection_tree.llm.client.cache_key` (provider and endpoint, model, prompt, payload,
schema, parameters). Only validated answers are stored, so a cached answer is always one the phase
accepted before. This is what lets a stopped or crashed phase resume without paying again for
finished batches. Each row also records its provider and endpoint, for ``llm-cache stats``; a cache
written before they were part of the key gains the two columns (empty) on first open, and its old
entries simply never match again.

Concurrency: one connection per thread (and per process: a forked child opens its own), WAL journal
(readers never block the writer), a 30 s busy timeout, autocommit writes. A broken or locked cache
never fails a build: reads become misses and writes are skipped, with a warning.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from upath import UPath

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 30.0


class SQLiteResponseCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._init_schema()

    def __repr__(self) -> str:
        return f"SQLiteResponseCache({str(self.path)!r})"

    def _init_schema(self) -> None:
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                conn = self._connect()
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, task TEXT NOT NULL, "
                    "model TEXT NOT NULL, answer TEXT NOT NULL, created REAL NOT NULL, "
                    "provider TEXT NOT NULL DEFAULT '', endpoint TEXT NOT NULL DEFAULT '')"
                )
                self._add_missing_columns(conn)
                return
            except sqlite3.OperationalError as exc:  # another process switching to WAL at the same time
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @staticmethod
    def _add_missing_columns(conn: sqlite3.Connection) -> None:
        """Migrate a cache from before provider keys: add the columns (another process may do it first)."""
        have = {row[1] for row in conn.execute("PRAGMA table_info(responses)").fetchall()}
        for column in ("provider", "endpoint"):
            if column not in have:
                try:
                    conn.execute(f"ALTER TABLE responses ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")
                except sqlite3.OperationalError as exc:
                    if "duplicate column" not in str(exc):
                        raise

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=True)
            conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def get(self, key: str) -> str | None:
        try:
            row = self._connect().execute("SELECT answer FROM responses WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            log.warning("LLM cache %s unreadable (%s): treated as a miss", self.path, exc)
            return None
        return row[0] if row else None

    def put(self, key: str, text: str, *, task: str, model: str, provider: str = "", endpoint: str = "") -> None:
        try:
            self._connect().execute(
                "INSERT OR REPLACE INTO responses (key, task, model, answer, created, provider, endpoint) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, task, model, text, time.time(), provider, endpoint),
            )
        except sqlite3.Error as exc:
            log.warning("LLM cache %s not written (%s)", self.path, exc)

    def count(self) -> int:
        return int(self._connect().execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def stats(self) -> dict[str, Any]:
        """Entries in total, by provider (``offline``, ``anthropic <endpoint>``; ``""`` for entries written
        before the provider was part of the key), by task and by model, the time span and the file size."""
        conn = self._connect()
        total, oldest, newest = conn.execute("SELECT COUNT(*), MIN(created), MAX(created) FROM responses").fetchone()
        by_provider = {" ".join(filter(None, (provider, endpoint))): count for provider, endpoint, count in
                       conn.execute("SELECT provider, endpoint, COUNT(*) FROM responses GROUP BY provider, endpoint "
                                    "ORDER BY provider, endpoint").fetchall()}
        by_task = dict(conn.execute("SELECT task, COUNT(*) FROM responses GROUP BY task ORDER BY task").fetchall())
        by_model = dict(conn.execute("SELECT model, COUNT(*) FROM responses GROUP BY model ORDER BY model").fetchall())
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return {"path": str(self.path), "entries": int(total), "by_provider": by_provider, "by_task": by_task,
                "by_model": by_model, "oldest": oldest, "newest": newest, "bytes": size}

    def clear(self, task: str | None = None) -> int:
        """Delete every entry (or one task's); returns how many went."""
        conn = self._connect()
        if task is None:
            cur = conn.execute("DELETE FROM responses")
        else:
            cur = conn.execute("DELETE FROM responses WHERE task = ?", (task,))
        return cur.rowcount

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def open_response_cache(location: Path | UPath) -> SQLiteResponseCache | Any:
    """The cache at ``location``: a SQLite file on a local path, one object per answer on a URL
    (``s3://bucket/llm-cache``: :mod:`collection_tree.llm.object_cache`)."""
    if isinstance(location, Path):
        return SQLiteResponseCache(location)
    from collection_tree.llm.object_cache import ObjectStoreResponseCache

    return ObjectStoreResponseCache(location)
