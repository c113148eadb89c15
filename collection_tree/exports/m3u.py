"""M3U8 playlists: one per leaf under ``playlists/<category>/<leaf>.m3u8``, and one-node exports.

A category with ``sections`` gets a sub-folder per section (``playlists/<category>/<section>/<leaf>.m3u8``).
Tracks come in the leaf's play order (:func:`collection_tree.exports.play_order`), the same as in
every other export.

Format: UTF-8 without BOM, LF line endings, ``#EXTM3U``, ``#PLAYLIST:<title>``, then per track
``#EXTINF:<seconds or -1>,<artist> - <title>`` and its path. Titles lose CR/LF, other control
characters and bidi controls (a title could otherwise start a new line that reads as a directive or
a path, or display reversed); a path line starting with ``#`` gets ``./`` in front so it cannot read
as a directive.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import uuid
from collections import Counter
from collections.abc import Container
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from collection_tree import exports
from collection_tree.exports import TrackColumns, category_sections, find_node, iter_leaves, paths, play_order
from collection_tree.exports.paths import (
    MISSING,
    OUTSIDE_ROOT,
    UNREPRESENTABLE,
    InsideFolder,
    atomic_write,
    display_text,
    display_texts,
    is_absolute,
    locate_tracks,
    replace_dir,
    resolve_inside,
    safe_name,
    unique_names,
    write_in_build,
)
from collection_tree.exports.reuse import ReusableFiles, code_digest, record_path, row_hashes

PLAYLISTS_DIR = "playlists"


@dataclass
class M3UReport:
    files: list[Path] = field(default_factory=list)
    tracks_written: int = 0
    missing_location: int = 0  # tracks without a location: left out (an entry needs a path)
    unrepresentable: int = 0  # paths with control or bidi characters: left out (M3U is line-based)
    outside_music_root: int = 0  # relative locations climbing out of the music root: refused
    relative_paths: int = 0  # written relative: no music root to anchor them
    kept: int = 0  # playlists linked from the previous export (the same bytes), not rendered


def one_line(text: Any) -> str:
    return display_text(text)


def _seconds(value: Any) -> int:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return -1
    return round(seconds) if math.isfinite(seconds) and seconds > 0 else -1


def m3u8_text(title: str, entries: list[tuple[int, str, str]]) -> str:
    """The playlist text from ``(seconds, label, path)`` entries (already clean)."""
    return _header(title) + "".join(_entry_text(*entry) for entry in entries)


def _header(title: str) -> str:
    return f"#EXTM3U\n#PLAYLIST:{one_line(title)}\n"


def _entry_text(seconds: int, label: str, path: str) -> str:
    return f"#EXTINF:{seconds},{label}\n{'./' + path if path.startswith('#') else path}\n"


RELATIVE = "relative"  # an entry written with a relative path (no music root to anchor it)


def track_entries(table: TrackColumns, track_ids: list[int], music_root: str | None
                  ) -> dict[int, tuple[str | None, str]]:
    """Each track's entry, made once however many playlists hold it: ``(None or RELATIVE, its lines)``
    or, for a track left out, ``(why, "")`` (``MISSING``, ``OUTSIDE_ROOT``, ``UNREPRESENTABLE``)."""
    unique = list(dict.fromkeys(track_ids))
    entries: dict[int, tuple[str | None, str]] = {}
    for track_id, (path, problem), artist, title, duration in zip(
            unique, table.mapped("location", locate_tracks, unique, music_root),
            table.mapped("artist", display_texts, unique), table.mapped("title", display_texts, unique),
            table.values("duration", unique), strict=True):
        if path is None:
            entries[track_id] = (problem, "")
            continue
        label = f"{artist} - {title}" if artist else title
        entries[track_id] = (None if is_absolute(path) else RELATIVE, _entry_text(_seconds(duration), label, path))
    return entries


def playlist_text(title: str, track_ids: list[int], entries: dict[int, tuple[str | None, str]],
                  report: M3UReport) -> str:
    """A playlist of ``track_ids`` from their ``track_entries``, counting what went in or was left out."""
    counts = Counter(entries[t][0] for t in track_ids)
    report.missing_location += counts[MISSING]
    report.outside_music_root += counts[OUTSIDE_ROOT]
    report.unrepresentable += counts[UNREPRESENTABLE]
    report.relative_paths += counts[RELATIVE]
    report.tracks_written += counts[None] + counts[RELATIVE]
    return _header(title) + "".join([entries[t][1] for t in track_ids])


def playlist_layout(tree: dict[str, Any]) -> dict[str, str]:
    """Leaf id -> its playlist's path relative to the output folder (``playlists/<cat>/<leaf>.m3u8``,
    ``playlists/<cat>/<section>/<leaf>.m3u8`` in a category with sections). Folder and file names are
    safe and unique (case-insensitively) within their parent."""
    categories = tree.get("categories", [])
    folders = unique_names(safe_name(c.get("title") or c.get("id") or "", fallback="category")
                           for c in categories)
    layout: dict[str, str] = {}
    for folder, category in zip(folders, categories, strict=True):
        groups = category_sections(category)
        files = iter(unique_names((safe_name(leaf.get("title") or leaf.get("id") or "", fallback="playlist")
                                   for title, leaves in groups if title is None for leaf in leaves), suffix=".m3u8"))
        # Section folders never end in ".m3u8", so they cannot clash with the category's own playlists.
        sections = iter(unique_names(safe_name(title, fallback="section").removesuffix(".m3u8")
                                     for title, _ in groups if title is not None))
        for title, leaves in groups:
            if title is None:
                for leaf in leaves:
                    layout[str(leaf.get("id"))] = f"{PLAYLISTS_DIR}/{folder}/{next(files)}"
                continue
            section = next(sections)
            names = unique_names((safe_name(leaf.get("title") or leaf.get("id") or "", fallback="playlist")
                                  for leaf in leaves), suffix=".m3u8")
            for name, leaf in zip(names, leaves, strict=True):
                layout[str(leaf.get("id"))] = f"{PLAYLISTS_DIR}/{folder}/{section}/{name}"
    return layout


def playlist_href(relative_path: str) -> str:
    """A layout path as a relative URL (percent-encoded) for links from files in the output folder."""
    return quote(relative_path, safe="/")


# The track columns a playlist is made from (``playlist_entries``): a change in another leaves it as it is.
TRACK_COLUMNS = ("location", "artist", "title", "duration")


def write_leaf_playlists(tree: dict[str, Any], tracks: pd.DataFrame, output_dir: Path,
                         music_root: str | None = None, reuse: bool = False) -> M3UReport:
    """Every leaf's playlist under ``<output_dir>/playlists``. The folder is written whole beside
    the old one and swapped in, so playlists of leaves that no longer exist do not linger. ``reuse``:
    a playlist the previous export wrote from the same leaf and tracks is linked, not rendered
    (``exports.reuse``; the same bytes)."""
    table = TrackColumns(tracks)
    layout = playlist_layout(tree)
    output_dir = Path(output_dir)
    final = resolve_inside(output_dir, PLAYLISTS_DIR)
    build = output_dir / f".{PLAYLISTS_DIR}.build-{uuid.uuid4().hex[:8]}"
    report = M3UReport()
    files = _reusable(output_dir, final, tracks, music_root) if reuse else None
    try:
        build.mkdir(parents=True)
        rendered: list[tuple[str, Path, str, list[int], str]] = []  # the playlists not kept
        inside = InsideFolder(build)
        for _, leaf in iter_leaves(tree):
            relative = layout[str(leaf.get("id"))].removeprefix(f"{PLAYLISTS_DIR}/")
            target = inside(relative)
            order, title = play_order(leaf, table.row), leaf.get("title") or ""
            digest = files.digest(relative, title, order) if files else ""
            kept = files.keep(relative, digest, target) if files else None
            if kept is None:
                rendered.append((relative, target, title, order, digest))
            for name, count in (kept or {}).items():
                setattr(report, name, getattr(report, name) + count)
            report.files.append(final / relative)
        # Entries only for the tracks of the playlists rendered (an update keeps most of them).
        entries = track_entries(table, [t for *_, order, _ in rendered for t in order], music_root)
        for relative, target, title, order, digest in rendered:
            before = {name: getattr(report, name) for name in _COUNTS}
            write_in_build(target, playlist_text(title, order, entries, report).encode("utf-8"))
            if files:
                files.wrote(relative, digest, target, {n: getattr(report, n) - before[n] for n in _COUNTS})
        replace_dir(final, build)
    finally:
        if build.exists():
            shutil.rmtree(build, ignore_errors=True)
    if files:
        files.save()
        report.kept = files.kept
    return report


_COUNTS = ("tracks_written", "missing_location", "unrepresentable", "outside_music_root", "relative_paths")  # per file


def _reusable(output_dir: Path, final: Path, tracks: pd.DataFrame, music_root: str | None) -> ReusableFiles:
    salt = json.dumps([code_digest(sys.modules[__name__], paths, exports), music_root,
                       [c for c in TRACK_COLUMNS if c in tracks.columns]])
    return ReusableFiles.open(record_path(output_dir, PLAYLISTS_DIR), final, salt,
                              row_hashes(tracks, TRACK_COLUMNS))


def node_track_ids(tree: dict[str, Any], node_id: str, index: Container[int]) -> tuple[str, list[int]]:
    """A node's title and tracks: a leaf's play order, or a category's leaves one after another (in
    section order, each in its play order; a track in two leaves appears once). ``node_id``: an id or title."""
    category, leaf = find_node(tree, node_id)
    if leaf is not None:
        return str(leaf.get("title") or node_id), play_order(leaf, index)
    seen: dict[int, None] = {}
    for _, members in category_sections(category):
        for member in members:
            for track_id in play_order(member, index):
                seen.setdefault(track_id, None)
    return str(category.get("title") or node_id), list(seen)


def export_node(tree: dict[str, Any], tracks: pd.DataFrame, node_id: str, output_dir: Path,
                out: str | Path | None = None, music_root: str | None = None) -> tuple[Path, M3UReport]:
    """One playlist for one category or leaf (the reference's per-node export), written to
    ``out`` (relative: to the output folder; default ``<output>/exports``) as ``<title>.m3u8``.
    ``out`` must stay inside the output folder."""
    table = TrackColumns(tracks)
    title, track_ids = node_track_ids(tree, node_id, table.row)
    folder = resolve_inside(Path(output_dir), out if out not in (None, "") else "exports")
    target = resolve_inside(folder, safe_name(title, fallback="playlist") + ".m3u8")
    report = M3UReport()
    text = playlist_text(title, track_ids, track_entries(table, track_ids, music_root), report)
    atomic_write(target, text.encode("utf-8"))
    report.files.append(target)
    return target, report
