"""Serato crates: ``<output>/Subcrates/`` with a crate per leaf, nested under its category (and its
section) the way Serato nests crates: ``Category%%Leaf.crate``, ``Category%%Section%%Leaf.crate``,
plus an empty ``Category.crate`` (and ``Category%%Section.crate``) so the parents show.

Install: quit Serato, copy the ``.crate`` files into ``_Serato_/Subcrates/`` of the drive the music
is on (``~/Music/_Serato_`` for the start-up disk).

Format (Serato's binary database, as ``serato-tools`` reads it): a sequence of records, each a
4-byte ASCII tag, a 4-byte big-endian length and the value; ``vrsn`` holds the version string,
``o...`` tags hold nested records, ``t...``/``p...`` tags UTF-16BE text. A crate is ``vrsn``
("1.0/Serato ScratchLive Crate"), its column layout (``osrt``, ``ovct``), then one ``otrk`` per
track holding its ``ptrk`` path relative to the drive root (``Users/me/Music/a.mp3``;
``/Volumes/<drive>/`` and ``C:/`` are the drive roots), in the leaf's play order. Serato has no
place for provenance in a crate, and crate names are the user's folder names: they stay plain.
Written by hand (a few lines of ``struct``); the tests read it back with ``serato-tools``.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from collection_tree import exports
from collection_tree.exports import TrackColumns, category_sections, distinct_tracks, iter_leaves, play_order
from collection_tree.exports import paths as paths_module
from collection_tree.exports.paths import (
    MISSING,
    InsideFolder,
    is_absolute,
    locate_tracks,
    replace_dir,
    resolve_inside,
    safe_name,
    unique_names,
    write_in_build,
)
from collection_tree.exports.reuse import ReusableFiles, code_digest, record_path, row_hashes

SUBCRATES_DIR = "Subcrates"
SEPARATOR = "%%"
VERSION = "1.0/Serato ScratchLive Crate"
COLUMNS = ("song", "artist", "bpm", "key", "length", "added")
# The track columns a crate is made from (its paths): a change in another leaves it as it is.
TRACK_COLUMNS = ("location",)
PART_BYTES = 70  # three parts, two separators and ".crate" stay well under a 255-byte file name


@dataclass
class SeratoReport:
    folder: Path | None = None
    crates: int = 0
    parent_crates: int = 0
    tracks_written: int = 0
    missing_location: int = 0
    relative_location: int = 0
    refused_location: int = 0
    drives: dict[str, int] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # leaf id -> crate file name
    kept: int = 0  # crates linked from the previous export (the same bytes), not rendered


def record(tag: str, value: bytes) -> bytes:
    return tag.encode("ascii") + struct.pack(">I", len(value)) + value


def text(tag: str, value: str) -> bytes:
    return record(tag, value.encode("utf-16-be"))


_DRIVE_PATH = re.compile(r"^([A-Za-z]:)/(.*)$")
_EXTERNAL = re.compile(r"^/Volumes/([^/]+)/(.*)$")


def drive_relative(path: str) -> tuple[str, str]:
    """(drive, path relative to that drive's root) of an absolute ``/``-separated path."""
    if match := _DRIVE_PATH.match(path):
        return match.group(1).upper(), match.group(2)
    if match := _EXTERNAL.match(path):
        return f"/Volumes/{match.group(1)}", match.group(2)
    if path.startswith("//"):
        parts = path[2:].split("/", 2)
        return "//" + "/".join(parts[:2]), parts[2] if len(parts) > 2 else ""
    return "/", path.lstrip("/")


def _crate_header() -> bytes:
    data = text("vrsn", VERSION)
    data += record("osrt", text("tvcn", "song") + record("brev", b"\x00"))
    for column in COLUMNS:
        data += record("ovct", text("tvcn", column) + text("tvcw", "0"))
    return data


def track_record(path: str) -> bytes:
    """A crate's record of one track."""
    return record("otrk", text("ptrk", path))


def crate_bytes(paths: list[str]) -> bytes:
    """One crate: version, column layout, then a track record per path."""
    return _HEADER + b"".join(track_record(path) for path in paths)


_HEADER = _crate_header()  # the same in every crate


def _part(title: Any, fallback: str) -> str:
    # "%%" separates nesting levels in a crate file name: it cannot appear inside one.
    return safe_name(str(title or "").replace(SEPARATOR, "%"), fallback=fallback, max_bytes=PART_BYTES)


def crate_layout(tree: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Leaf id -> crate file name, and the parent crates (category, category%%section) to write empty."""
    categories = tree.get("categories", [])
    parents: list[str] = []
    leaves: dict[str, str] = {}
    for name, category in zip(unique_names(_part(c.get("title") or c.get("id"), "Category") for c in categories),
                              categories, strict=True):
        parents.append(name)
        groups = category_sections(category)
        sections = [(title, members) for title, members in groups if title is not None]
        loose = [leaf for title, members in groups if title is None for leaf in members]
        names = unique_names([_part(title, "Section") for title, _ in sections]
                             + [_part(leaf.get("title") or leaf.get("id"), "Playlist") for leaf in loose])
        for section_name, (_, members) in zip(names, sections, strict=False):
            prefix = f"{name}{SEPARATOR}{section_name}"
            parents.append(prefix)
            for leaf_name, leaf in zip(unique_names(_part(m.get("title") or m.get("id"), "Playlist")
                                                    for m in members), members, strict=True):
                leaves[str(leaf.get("id"))] = f"{prefix}{SEPARATOR}{leaf_name}.crate"
        for leaf_name, leaf in zip(names[len(sections):], loose, strict=True):
            leaves[str(leaf.get("id"))] = f"{name}{SEPARATOR}{leaf_name}.crate"
    return leaves, [f"{p}.crate" for p in parents]


def _reusable(output_dir: Path, final: Path, tracks: pd.DataFrame, music_root: str | None) -> ReusableFiles:
    salt = json.dumps([code_digest(sys.modules[__name__], paths_module, exports), music_root,
                       [c for c in TRACK_COLUMNS if c in tracks.columns]])
    return ReusableFiles.open(record_path(output_dir, SUBCRATES_DIR), final, salt, row_hashes(tracks, TRACK_COLUMNS))


def write_serato_crates(tree: dict[str, Any], tracks: pd.DataFrame, output_dir: Path,
                        music_root: str | None = None, reuse: bool = False) -> SeratoReport:
    """Every crate under ``<output_dir>/Subcrates``, written whole beside the old folder and swapped in,
    so crates of leaves that no longer exist do not linger. ``reuse``: a crate the previous export wrote
    from the same leaf and tracks is linked, not rendered (``exports.reuse``; the same bytes)."""
    table = TrackColumns(tracks)
    layout, parents = crate_layout(tree)
    report = SeratoReport(files=layout)
    orders = [play_order(leaf, table.row) for _, leaf in iter_leaves(tree)]
    candidates = distinct_tracks(orders)
    records: dict[int, bytes] = {}  # each track's record, made once however many crates hold it
    for track_id, (path, problem) in zip(candidates, table.mapped("location", locate_tracks, candidates, music_root),
                                         strict=True):
        if path is None or not is_absolute(path):
            report.missing_location += problem == MISSING
            report.refused_location += path is None and problem != MISSING
            report.relative_location += path is not None
            continue
        drive, on_drive = drive_relative(path)
        report.drives[drive] = report.drives.get(drive, 0) + 1
        records[track_id] = track_record(on_drive)
    output_dir = Path(output_dir)
    final = resolve_inside(output_dir, SUBCRATES_DIR)
    build = output_dir / f".{SUBCRATES_DIR}.build-{uuid.uuid4().hex[:8]}"
    files = _reusable(output_dir, final, tracks, music_root) if reuse else None
    try:
        build.mkdir(parents=True)
        inside = InsideFolder(build)
        for name in parents:
            write_in_build(inside(name), crate_bytes([]))
            report.parent_crates += 1
        for (_, leaf), order in zip(iter_leaves(tree), orders, strict=True):
            name = layout[str(leaf.get("id"))]
            target = inside(name)
            digest = files.digest(name, "", order) if files else ""
            kept = files.keep(name, digest, target) if files else None
            if kept is None:
                members = [records[t] for t in order if t in records]
                write_in_build(target, _HEADER + b"".join(members))
                kept = {"tracks_written": len(members)}
                if files:
                    files.wrote(name, digest, target, kept)
            report.crates += 1
            report.tracks_written += kept["tracks_written"]
        replace_dir(final, build)
    finally:
        if build.exists():
            shutil.rmtree(build, ignore_errors=True)
    if files:
        files.save()
        report.kept = files.kept
    report.folder = final
    return report
