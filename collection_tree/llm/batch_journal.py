"""Message batches sent and not yet read back, kept on disk so a build restarted after a crash or a
kill collects the batches it already paid for instead of sending them again.

A batch can take hours; the process waiting for it may be gone before it ends. Each batch item's
``custom_id`` is a hash of its request (model, prompt, payload, schema, limits), so the same request
in the next process has the same id: :meth:`BatchJournal.batch_of` finds the batch that carries it.
A batch leaves the journal once its results are read (the client then caches every answer it
accepts). One small JSON file, rewritten atomically; a lock keeps the threads of one process in step,
and the build lock keeps two processes from sharing an output folder.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from collection_tree.core.atomic import atomic_write_json

log = logging.getLogger(__name__)


class BatchJournal:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:  # a damaged journal costs a resubmission, never a build
            log.warning("batch journal %s unreadable (%s): starting a new one", self.path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def record(self, batch_id: str, custom_ids: list[str]) -> None:
        with self._lock:
            data = self._read()
            data[batch_id] = {"custom_ids": sorted(custom_ids), "sent": time.time()}
            atomic_write_json(self.path, data)

    def done(self, batch_id: str) -> None:
        with self._lock:
            data = self._read()
            if data.pop(batch_id, None) is not None:
                atomic_write_json(self.path, data)

    def batch_of(self, custom_id: str) -> str | None:
        """The open batch carrying ``custom_id`` (the latest sent, if several do)."""
        with self._lock:
            data = self._read()
        carrying = [(entry.get("sent", 0.0), batch_id) for batch_id, entry in data.items()
                    if custom_id in entry.get("custom_ids", ())]
        return max(carrying)[1] if carrying else None

    def open_batches(self) -> list[str]:
        with self._lock:
            return sorted(self._read())
