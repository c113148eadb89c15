"""Persistent LLM response cache (SQLite), safe across threads and processes.

Keyed by :func:`collection_tree.llm.client.cache_key` (model, prompt, payload, schema, parameters).
Only validated answers are stored, so a cached answer is always one the phase accepted before.
This is what lets a stopped or crashed phase resume without paying again for finished batches.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path


class SQLiteResponseCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, task TEXT NOT NULL, "
                "model TEXT NOT NULL, answer TEXT NOT NULL, created REAL NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    def get(self, key: str) -> str | None:
        row = self._connect().execute("SELECT answer FROM responses WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, text: str, *, task: str, model: str) -> None:
        self._connect().execute(
            "INSERT OR REPLACE INTO responses (key, task, model, answer, created) VALUES (?, ?, ?, ?, ?)",
            (key, task, model, text, time.time()),
        )

    def count(self) -> int:
        return int(self._connect().execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def clear(self) -> int:
        cur = self._connect().execute("DELETE FROM responses")
        return cur.rowcount
