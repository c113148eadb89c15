"""Atomic file writes for final outputs on local disk (the collection tree JSON, exports).

The new content goes to a temporary file in the target's own folder (so the rename never crosses a
file system), is flushed and fsynced, then ``os.replace`` swaps it in. A crash or error at any point
leaves either the old file or the new one, never a half-written mix; the temp file is removed.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from collection_tree.core.json_text import dumps_indented


def _default_mode() -> int:
    """What a plain ``open(..., "w")`` would give (0666 less the umask); mkstemp's files are 0600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_writer(path) as handle:
        handle.write(data)
    return Path(path)


@contextlib.contextmanager
def atomic_writer(path: str | Path) -> Iterator[BinaryIO]:
    """A binary handle on a temporary sibling of ``path``, swapped in when the block ends without an
    error: a large document streams to disk instead of being held whole in memory. An error (a
    MemoryError mid-document included) propagates as itself and leaves the previous file in place."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _default_mode())
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(target.parent)


def write_unpublished(path: str | Path, data: bytes) -> Path:
    """A file inside a build folder nobody reads until it is swapped in whole (``publish_folder``):
    no temporary name and no fsync per file (hundreds of playlists, two fsyncs each, were most of an
    export); the one sync before the swap makes them all durable."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _default_mode())
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return target


def publish_folder(build: str | Path, final: str | Path) -> None:
    """Swap the written ``build`` folder in at ``final`` (a crash leaves the old folder or the new
    one, never a mix): the files are flushed to disk first, then the old folder is moved aside and
    removed (in the background inside ``removals_in_background``)."""
    build, final = Path(build), Path(final)
    os.sync()  # one flush of every file written into ``build`` (their data before the rename)
    old = final.with_name(f"{_OLD_PREFIX.format(name=final.name)}{os.urandom(4).hex()}")
    if final.exists():
        os.replace(final, old)
    try:
        os.replace(build, final)
    except OSError:
        if old.exists():
            os.replace(old, final)
        raise
    _fsync_dir(final.parent)
    # and any folder an earlier process moved aside but did not live to remove
    _remove([old, *final.parent.glob(f"{glob.escape(_OLD_PREFIX.format(name=final.name))}*")])


_OLD_PREFIX = ".{name}.old-"
_removals: list[threading.Thread] | None = None  # inside ``removals_in_background``: the threads removing
_removals_lock = threading.Lock()


def _remove(folders: list[Path]) -> None:
    """Remove the published-over folders. Freeing a file's synced blocks takes the file system a few
    milliseconds a file (seconds for a folder of a thousand playlists), so inside
    ``removals_in_background`` a thread does it while the run goes on."""
    def remove() -> None:
        for folder in dict.fromkeys(folders):
            shutil.rmtree(folder, ignore_errors=True)

    with _removals_lock:
        if _removals is not None:
            thread = threading.Thread(target=remove, name="publish_folder-removal")
            thread.start()
            _removals.append(thread)
            return
    remove()


@contextlib.contextmanager
def removals_in_background() -> Iterator[None]:
    """Within: ``publish_folder`` removes the old folders in threads; on leaving, waits for them all
    (a run's exports overlap their folders' removal with the steps after them, and the run still ends
    with no old folder left)."""
    global _removals
    with _removals_lock:
        outer, _removals = _removals, ([] if _removals is None else _removals)
    try:
        yield
    finally:
        if outer is None:
            with _removals_lock:
                threads, _removals = _removals or [], None
            for thread in threads:
                thread.join()


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: str | Path, data: Any, *, indent: int | None = 1) -> Path:
    """JSON (UTF-8, non-ASCII kept) written atomically."""
    text = json.dumps(data, ensure_ascii=False) if indent is None else dumps_indented(data, indent)
    return atomic_write_text(path, text + "\n")


def _fsync_dir(folder: Path) -> None:
    """Persist the rename itself (best effort: not every platform lets a folder be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
