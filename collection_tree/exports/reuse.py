"""Keeping the previous export's file for a leaf whose file would come out the same (the incremental
exports: an update changes a few leaves, and rendering every playlist again was most of its time).

A per-leaf export (M3U playlists, Serato crates) records, per file, a digest of everything the file is
made from: the exporter's own code, its settings, the file's place, the leaf's title and, in play
order, each track's id and the columns the renderer reads (hashed per row, whole columns at once). The
record lives beside the folder (``<output>/.<folder>.reuse.json``). The next export links the
published file into its new build folder instead of rendering it when the digest matches and the file
is still the one recorded (its inode, size and modification time: a file edited or replaced since is
rendered again). So the folder written is byte for byte the one a whole rewrite gives, and it is
still published whole (``publish_folder``): a failed export keeps the previous folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from collection_tree.core.atomic import atomic_write_json

FORMAT = 1  # of the record file


def code_digest(*modules: ModuleType) -> str:
    """A digest of the modules' source: a new version of an exporter never keeps an old file."""
    digest = hashlib.blake2b(digest_size=16)
    for source in (__file__, *(str(module.__file__) for module in modules)):
        digest.update(Path(source).read_bytes())
    return digest.hexdigest()


def row_hashes(tracks: pd.DataFrame, columns: Iterable[str]) -> dict[int, int]:
    """``track_id`` -> a 64-bit hash of the row's ``columns`` (those the table has)."""
    present = [c for c in columns if c in tracks.columns]
    hashes = pd.util.hash_pandas_object(tracks[present], index=False) if present else pd.Series(0, tracks.index)
    return dict(zip(tracks["track_id"].astype("int64").tolist(), hashes.astype("uint64").tolist(), strict=True))


@dataclass(frozen=True)
class _Entry:
    digest: str
    inode: int
    size: int
    mtime_ns: int
    counts: dict[str, int]


@dataclass
class ReusableFiles:
    """The previous export's record of ``folder`` (the published one) and the new one being made."""

    record: Path
    folder: Path
    salt: str
    rows: Mapping[int, int]
    previous: dict[str, _Entry] = field(default_factory=dict)
    current: dict[str, _Entry] = field(default_factory=dict)
    kept: int = 0

    @classmethod
    def open(cls, record: Path, folder: Path, salt: str, rows: Mapping[int, int]) -> ReusableFiles:
        """The record read back; a missing, unreadable or other-salt record keeps nothing."""
        files = cls(record=record, folder=folder, salt=salt, rows=rows)
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
            if data.get("format") == FORMAT and data.get("salt") == salt:
                files.previous = {str(k): _Entry(str(v[0]), int(v[1]), int(v[2]), int(v[3]),
                                                 {str(n): int(c) for n, c in dict(v[4]).items()})
                                  for k, v in dict(data["files"]).items()}
        except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError):
            files.previous = {}
        return files

    def digest(self, relative: str, title: str, track_ids: list[int]) -> str:
        """What the file at ``relative`` is made from (its tracks in play order with their rows)."""
        digest = hashlib.blake2b(digest_size=16)
        digest.update(json.dumps([relative, title], ensure_ascii=False).encode("utf-8"))
        digest.update(np.asarray(track_ids, dtype=np.int64).tobytes())
        digest.update(np.asarray([self.rows[t] for t in track_ids], dtype=np.uint64).tobytes())
        return digest.hexdigest()

    def keep(self, relative: str, digest: str, target: Path) -> dict[str, int] | None:
        """Link the published file into ``target`` when it is the one recorded for ``digest``; its counts."""
        entry = self.previous.get(relative)
        if entry is None or entry.digest != digest:
            return None
        source = self.folder / relative
        try:
            stat = source.stat()
        except OSError:
            return None
        if (stat.st_ino, stat.st_size, stat.st_mtime_ns) != (entry.inode, entry.size, entry.mtime_ns):
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:  # a file system without hard links: a copy (its own inode, recorded below)
            shutil.copy2(source, target)
        self.kept += 1
        self.wrote(relative, digest, target, entry.counts)
        return entry.counts

    def wrote(self, relative: str, digest: str, target: Path, counts: dict[str, int]) -> None:
        stat = target.stat()
        self.current[relative] = _Entry(digest, stat.st_ino, stat.st_size, stat.st_mtime_ns, dict(counts))

    def save(self) -> None:
        """The new record, once the folder is published (a failed save only costs the next reuse)."""
        data: dict[str, Any] = {"format": FORMAT, "salt": self.salt, "files": {
            k: [e.digest, e.inode, e.size, e.mtime_ns, e.counts] for k, e in self.current.items()}}
        try:
            atomic_write_json(self.record, data, indent=None)
        except OSError:
            with contextlib.suppress(OSError):
                self.record.unlink()


def record_path(output_dir: Path, folder: str) -> Path:
    return Path(output_dir) / f".{folder}.reuse.json"
