"""One build at a time per output folder: an exclusive file lock held for the whole build.

Everything a build writes (the phase store, the LLM cache, the tree JSON, the exports) lives under
the output folder, so two builds on one folder would overwrite each other's files whatever Dagster
instance started them. The lock is ``filelock``'s OS-level lock (``flock`` on Unix) on
``<output>/.collection-tree.lock``: the kernel drops it when its process dies, so a lock left by a
killed build is taken over by the next one without any clean-up. Beside it,
``.collection-tree.lock.json`` names the holder (run id, start time, pid, host, command) so a refused
build can say which build is running; it is only trusted while the lock is really held.

Within one process the lock is re-entrant: the CLI takes it before it starts a run, and the run's
executor, taking it again in the same process, only records the run id.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from collection_tree.core.atomic import atomic_write_json

LOCK_NAME = ".collection-tree.lock"
HOLDER_NAME = ".collection-tree.lock.json"


@dataclass(frozen=True)
class LockHolder:
    """Who holds a build lock, as recorded beside it."""

    run_id: str
    started: str  # ISO 8601, UTC
    pid: int
    host: str
    command: str

    def describe(self) -> str:
        run = f"run {self.run_id}" if self.run_id else "a build (run id not known yet)"
        return f"{run} ({self.command}), started {self.started}, pid {self.pid} on {self.host}"


class BuildLockBusy(RuntimeError):
    """Another build holds the output folder."""

    def __init__(self, folder: Path, holder: LockHolder | None):
        self.folder = folder
        self.holder = holder
        who = holder.describe() if holder is not None else "another build (it has not said which yet)"
        super().__init__(f"another build is using {folder}: {who}. One build at a time per output folder: wait "
                         "for it (or pass --wait), or stop it")


# One FileLock per lock file per process, shared by every thread: re-entrant within the process.
_LOCKS: dict[Path, FileLock] = {}
_LOCKS_GUARD = threading.Lock()


def _file_lock(path: Path) -> FileLock:
    with _LOCKS_GUARD:
        lock = _LOCKS.get(path)
        if lock is None:
            lock = _LOCKS[path] = FileLock(path, thread_local=False)
        return lock


class BuildLock:
    """The exclusive lock on one output folder."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder).resolve()
        self.lock_path = self.folder / LOCK_NAME
        self.holder_path = self.folder / HOLDER_NAME

    def holder(self) -> LockHolder | None:
        """The recorded holder (None when unreadable or not recorded)."""
        try:
            data = json.loads(self.holder_path.read_text(encoding="utf-8"))
            return LockHolder(**{k: data[k] for k in LockHolder.__dataclass_fields__})
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def held_here(self) -> bool:
        return _file_lock(self.lock_path).is_locked

    def acquire(self, *, run_id: str = "", command: str = "collection-tree build", wait: bool = False,
                on_wait: Callable[[LockHolder | None], None] | None = None) -> None:
        """Take the lock. Free: at once. Held by this process: re-entered (the run id is recorded when
        given). Held elsewhere: :class:`BuildLockBusy`, or with ``wait`` block until it is free
        (``on_wait(holder)`` is called once first)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        lock = _file_lock(self.lock_path)
        nested = lock.is_locked
        try:
            lock.acquire(timeout=0)
        except Timeout:
            holder = self._holder_once_recorded()
            if not wait:
                raise BuildLockBusy(self.folder, holder) from None
            if on_wait is not None:
                on_wait(holder)
            lock.acquire(timeout=-1)
        if not nested or run_id:
            self._record(run_id, command)

    def record_run(self, run_id: str, command: str = "collection-tree build") -> None:
        """Name the run once its id is known (the lock must be held by this process)."""
        if self.held_here():
            self._record(run_id, command)

    def release(self) -> None:
        lock = _file_lock(self.lock_path)
        if not lock.is_locked:
            return
        if lock.lock_counter == 1:
            with suppress(OSError):
                self.holder_path.unlink()
        lock.release()

    @contextmanager
    def hold(self, **kwargs: object) -> Iterator[BuildLock]:
        self.acquire(**kwargs)  # type: ignore[arg-type]
        try:
            yield self
        finally:
            self.release()

    def _record(self, run_id: str, command: str) -> None:
        holder = LockHolder(run_id=run_id, started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                            pid=os.getpid(), host=socket.gethostname(), command=command)
        atomic_write_json(self.holder_path, asdict(holder))

    def _holder_once_recorded(self, patience_s: float = 1.0) -> LockHolder | None:
        """The live holder; a holder that has just taken the lock writes its record right after, so its
        absence is waited out briefly (the message should name the build)."""
        deadline = time.monotonic() + patience_s
        holder = self.live_holder()
        while holder is None and time.monotonic() < deadline:
            time.sleep(0.05)
            holder = self.live_holder()
        return holder

    def live_holder(self) -> LockHolder | None:
        """The recorded holder, unless the record is left over from a process that is gone (the lock is
        held, so its real holder has just started and not written its record yet)."""
        holder = self.holder()
        if holder is None or holder.host != socket.gethostname():
            return holder
        try:
            os.kill(holder.pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return holder
