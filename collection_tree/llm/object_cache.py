"""The LLM response cache on object storage (S3, GCS, Azure, or any fsspec file system through UPath),
for builds whose output folder is not shared between the machines that run them.

SQLite needs a local file system with working locks, which object stores do not give. Here every
answer is one small object, ``<root>/<key[:2]>/<key>.json``, holding the answer and the row the SQLite
cache keeps (task, model, provider, endpoint, created). The key is a content hash of the request, so
writes are idempotent: two workers answering the same request write the same object, and a reader
sees either no object or a whole one (object stores replace an object atomically). Same interface and
failure rule as :class:`collection_tree.llm.cache.SQLiteResponseCache`: a broken store makes misses
and skipped writes, with a warning, never a failed build.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from typing import Any

from upath import UPath

log = logging.getLogger(__name__)


class ObjectStoreResponseCache:
    def __init__(self, root: str | UPath):
        self.root = UPath(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"ObjectStoreResponseCache({str(self.root)!r})"

    def _entry(self, key: str) -> UPath:
        return self.root / key[:2] / f"{key}.json"

    def _entries(self) -> list[UPath]:
        return sorted(self.root.glob("*/*.json"), key=str)

    def get(self, key: str) -> str | None:
        entry = self._entry(key)
        try:
            if not entry.exists():
                return None
            return str(json.loads(entry.read_text(encoding="utf-8"))["answer"])
        except (OSError, ValueError, KeyError) as exc:
            log.warning("LLM cache entry %s unreadable (%s): treated as a miss", entry, exc)
            return None

    def put(self, key: str, text: str, *, task: str, model: str, provider: str = "", endpoint: str = "") -> None:
        entry = self._entry(key)
        record = {"answer": text, "task": task, "model": model, "provider": provider, "endpoint": endpoint,
                  "created": time.time()}
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            entry.write_text(json.dumps(record), encoding="utf-8")
        except OSError as exc:
            log.warning("LLM cache entry %s not written (%s)", entry, exc)

    def _records(self) -> list[tuple[UPath, dict[str, Any]]]:
        records = []
        for entry in self._entries():
            try:
                records.append((entry, json.loads(entry.read_text(encoding="utf-8"))))
            except (OSError, ValueError) as exc:
                log.warning("LLM cache entry %s unreadable (%s): left out", entry, exc)
        return records

    def count(self) -> int:
        return len(self._entries())

    def stats(self) -> dict[str, Any]:
        """The same figures as the SQLite cache's ``stats`` (one read per entry: for an occasional look)."""
        records = [record for _, record in self._records()]
        created = [float(r.get("created", 0.0)) for r in records]
        providers = Counter(" ".join(filter(None, (r.get("provider", ""), r.get("endpoint", "")))) for r in records)
        return {"path": str(self.root), "entries": len(records), "by_provider": dict(sorted(providers.items())),
                "by_task": dict(sorted(Counter(r.get("task", "") for r in records).items())),
                "by_model": dict(sorted(Counter(r.get("model", "") for r in records).items())),
                "oldest": min(created, default=None), "newest": max(created, default=None),
                "bytes": sum(len(json.dumps(r)) for r in records)}

    def clear(self, task: str | None = None) -> int:
        """Delete every entry (or one task's); returns how many went."""
        doomed = [entry for entry, record in self._records() if task is None or record.get("task") == task]
        for entry in doomed:
            entry.unlink()
        return len(doomed)

    def close(self) -> None:
        """Nothing held open (the interface of the SQLite cache)."""
