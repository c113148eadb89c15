"""A Traktor NML (``collection.nml``): the collection tree as Traktor playlist folders.

Import in Traktor Pro: the browser's Explorer, right-click *Playlists* > *Import Playlist...* (or
File > Import Collection), pick ``collection.nml``.

Layout: ``COLLECTION`` with one ``ENTRY`` per exported track (``LOCATION`` in Traktor's form:
``VOLUME="Macintosh HD" DIR="/:Users/:me/:Music/:" FILE="a.mp3"``; a Windows drive is the volume,
``/Volumes/<name>/`` on macOS names an external volume), then ``PLAYLISTS`` > ``$ROOT`` > "Collection
Tree (<provenance>)" > a folder per category > (a folder per section) > a playlist per leaf whose
entries are ``PRIMARYKEY TYPE="TRACK" KEY="<volume><dir><file>"`` in the leaf's play order.

Like the Rekordbox export it carries identity fields only (title, artist, tempo, key, year, label,
play time), no comments, genres or ratings, so an import cannot overwrite the user's own tags.
Tracks need absolute locations; the rest are left out and counted. Written by hand, as text exactly
as ``xml.etree`` wrote it (``paths.xml_element``; the maintained ``traktor-nml-utils`` is GPL-3.0
and reads it back in the tests).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from collection_tree.core.mix import camelot_code
from collection_tree.exports import (
    TrackColumns,
    category_sections,
    distinct_tracks,
    iter_leaves,
    play_order,
    positive_numbers,
    provenance,
)
from collection_tree.exports.paths import (
    MISSING,
    atomic_write_xml,
    column_runs,
    display_text,
    display_texts,
    escape_attributes,
    is_absolute,
    joined_runs,
    locate_tracks,
    optional_attributes,
    unique_names,
    xml_attributes,
    xml_bytes,
    xml_element,
    xml_streamed,
)

NML_VERSION = "19"
TOP_FOLDER = "Collection Tree"
SYSTEM_VOLUME = "Macintosh HD"  # the volume name Traktor gives a macOS start-up disk
_UUID_NAMESPACE = uuid.UUID("6f1b2c1e-5d0a-4e43-9a4f-4b1f3c0c9e21")  # stable playlist UUIDs across rebuilds


@dataclass
class TraktorReport:
    path: Path | None = None
    tracks: int = 0
    playlists: int = 0
    folders: int = 0
    missing_location: int = 0
    relative_location: int = 0
    refused_location: int = 0
    volumes: dict[str, int] = field(default_factory=dict)


_DRIVE_PATH = re.compile(r"^([A-Za-z]:)/(.*)$")
_EXTERNAL = re.compile(r"^/Volumes/([^/]+)/(.*)$")


def traktor_location(path: str, system_volume: str = SYSTEM_VOLUME) -> tuple[str, str, str]:
    """(volume, dir, file) of an absolute ``/``-separated path in Traktor's form."""
    return traktor_locations([path], system_volume)[0]


def traktor_locations(paths: list[str], system_volume: str = SYSTEM_VOLUME) -> list[tuple[str, str, str]]:
    """:func:`traktor_location` of many paths (a folder's DIR made once for all its tracks)."""
    directories: dict[str, str] = {}
    found = []
    for path in paths:
        if path[1:2] == ":" and (drive := _DRIVE_PATH.match(path)):
            volume, rest = drive.group(1).upper(), drive.group(2)
        elif path.startswith("//"):  # a UNC share: //server/share/...
            parts = path[2:].split("/", 2)
            volume, rest = "/".join(parts[:2]), parts[2] if len(parts) > 2 else ""
        elif path.startswith("/Volumes/") and (external := _EXTERNAL.match(path)):
            volume, rest = external.group(1), external.group(2)
        else:
            volume, rest = system_volume, path.lstrip("/")
        folders, _, name = rest.rpartition("/")
        if folders not in directories:
            directories[folders] = "/:" + "".join(f"{f}/:" for f in folders.split("/") if f)
        found.append((volume, directories[folders], name))
    return found


def traktor_key_value(key: object) -> int | None:
    """Traktor's MUSICAL_KEY value: 0-11 the major keys from C, 12-23 the minor keys from C minor."""
    code = camelot_code(key) if isinstance(key, str) else -1
    if code < 0:
        return None
    number, major = code // 2 + 1, bool(code % 2)
    relative_major = (7 * (number - 8)) % 12  # inverse of the wheel: 8B is C (pitch 0), each step a fifth
    return relative_major if major else 12 + (relative_major - 3) % 12


def _entry_runs(table: TrackColumns, track_ids: list[int], where: list[tuple[str, str, str]]) -> Iterator[str]:
    """The ``ENTRY`` lines (under ``COLLECTION``), one per track, joined a run of tracks at a time
    (``paths.COLLECTION_RUN``). Each
    column is picked once for all tracks (references to the values the exports share), then escaped
    and formatted a run at a time."""
    durations, years, tempos, keys = table.columns(track_ids, "duration", "year", "bpm", "key")
    columns = (table.mapped("title", display_texts, track_ids), table.mapped("artist", display_texts, track_ids),
               where, positive_numbers(durations), positive_numbers(years), positive_numbers(tempos),
               table.mapped("label", display_texts, track_ids), table.mapped("key", display_texts, track_ids), keys)
    key_values: dict[str, int | None] = {}  # a collection holds a few dozen distinct keys
    for run in column_runs(columns):
        yield "".join(_entries(*run, key_values))


def _entries(titles: list[str], artists: list[str], where: list[tuple[str, str, str]],
             durations: list[float | None], years: list[float | None], tempos: list[float | None],
             labels: list[str], key_texts: list[str], keys: list[Any], key_values: dict[str, int | None]) -> list[str]:
    """One ``ENTRY`` per track of a run, built a column at a time."""
    volumes, directories, files = (escape_attributes(list(part)) for part in zip(*where, strict=True))
    columns = zip(
        escape_attributes(titles), escape_attributes(artists), directories, files, volumes,
        optional_attributes("PLAYTIME", ["" if d is None else str(round(d)) for d in durations]),
        optional_attributes("RELEASE_DATE", ["" if y is None else f"{int(y)}/1/1" for y in years]),
        optional_attributes("LABEL", labels), optional_attributes("KEY", key_texts),
        tempos, [_key_value(k, key_values) for k in keys], strict=True)
    entries = []
    for title, artist, directory, file, volume, playtime, release, label, key, bpm, key_value in columns:
        tempo = "" if bpm is None else f'      <TEMPO BPM="{bpm:.6f}" BPM_QUALITY="100.000000" />\n'
        musical_key = "" if key_value is None else f'      <MUSICAL_KEY VALUE="{key_value}" />\n'
        entries.append(f'    <ENTRY TITLE="{title}" ARTIST="{artist}">\n'
                       f'      <LOCATION DIR="{directory}" FILE="{file}" VOLUME="{volume}" VOLUMEID="" />\n'
                       f"      <INFO{playtime}{release}{label}{key} />\n{tempo}{musical_key}    </ENTRY>\n")
    return entries


def _key_value(key: object, known: dict[str, int | None]) -> int | None:
    """:func:`traktor_key_value`, once per distinct key text."""
    if not isinstance(key, str):
        return None
    if key not in known:
        known[key] = traktor_key_value(key)
    return known[key]


def _folder(depth: int, name: str, children: list[list[str]]) -> list[str]:
    """A folder ``NODE`` holding its ``SUBNODES`` (``children``: each child node's lines)."""
    subnodes = xml_element(depth + 1, "SUBNODES", {"COUNT": str(len(children))},
                           [line for child in children for line in child])
    return xml_element(depth, "NODE", {"TYPE": "FOLDER", "NAME": name}, subnodes)


_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="no" ?>'


def build_traktor_nml(tree: dict[str, Any], tracks: pd.DataFrame, music_root: str | None = None,
                      system_volume: str = SYSTEM_VOLUME) -> tuple[bytes, TraktorReport]:
    """The NML document's bytes (UTF-8) and what went in or was left out."""
    lines, report = _nml_lines(tree, tracks, music_root, system_volume)
    return xml_bytes(_DECLARATION, lines), report


def _nml_lines(tree: dict[str, Any], tracks: pd.DataFrame, music_root: str | None,
               system_volume: str) -> tuple[Iterator[str], TraktorReport]:
    """The NML document after its declaration (indented, as chunks of lines) and what went in or was
    left out."""
    table = TrackColumns(tracks)
    report = TraktorReport()
    orders = {id(leaf): play_order(leaf, table.row) for _, leaf in iter_leaves(tree)}
    located = _located(table, distinct_tracks(orders.values()), music_root, system_volume, report)
    report.tracks = len(located)
    keys = dict(zip(located, escape_attributes(["".join(where) for where in located.values()]), strict=True))
    playlists = _playlist_nodes(tree, orders, keys, report)

    def document() -> Iterator[str]:
        yield f'<NML{xml_attributes({"VERSION": NML_VERSION})}>\n'
        yield '  <HEAD COMPANY="www.native-instruments.com" PROGRAM="Traktor" />\n  <MUSICFOLDERS />\n'
        collection = _entry_runs(table, list(located), list(located.values()))
        yield from xml_streamed(1, "COLLECTION", {"ENTRIES": str(len(located))}, collection, len(located))
        yield '  <SETS ENTRIES="0" />\n'
        yield from joined_runs(xml_element(1, "PLAYLISTS", {}, playlists))
        yield "  <INDEXING />\n</NML>\n"

    return document(), report


def _located(table: TrackColumns, track_ids: list[int], music_root: str | None, system_volume: str,
             report: TraktorReport) -> dict[int, tuple[str, str, str]]:
    """Track id -> its (volume, dir, file); tracks without an absolute location counted in ``report``."""
    paths: dict[int, str] = {}
    for track_id, (path, problem) in zip(track_ids, table.mapped("location", locate_tracks, track_ids, music_root),
                                         strict=True):
        if path is None or not is_absolute(path):
            report.missing_location += problem == MISSING
            report.refused_location += path is None and problem != MISSING
            report.relative_location += path is not None
            continue
        paths[track_id] = path
    located = dict(zip(paths, traktor_locations(list(paths.values()), system_volume), strict=True))
    for volume, _, _ in located.values():
        report.volumes[volume] = report.volumes.get(volume, 0) + 1
    return located


def _playlist_nodes(tree: dict[str, Any], orders: dict[int, list[int]], keys: dict[int, str],
                    report: TraktorReport) -> list[str]:
    """The $ROOT folder's lines: the top folder > a folder per category > (a folder per section) > a
    playlist per leaf (``orders``: its play order by ``id(leaf)``; ``keys``: each track's escaped KEY)."""
    def playlist(depth: int, name: str, leaf: dict[str, Any]) -> list[str]:
        members = [t for t in orders[id(leaf)] if t in keys]
        indent = "  " * (depth + 2)
        entries = [f'{indent}<ENTRY>\n{indent}  <PRIMARYKEY TYPE="TRACK" KEY="{keys[t]}" />\n{indent}</ENTRY>\n'
                   for t in members]
        body = xml_element(depth + 1, "PLAYLIST", {"ENTRIES": str(len(members)), "TYPE": "LIST",
                                                   "UUID": uuid.uuid5(_UUID_NAMESPACE, str(leaf.get("id"))).hex},
                           entries)
        report.playlists += 1
        return xml_element(depth, "NODE", {"TYPE": "PLAYLIST", "NAME": name}, body)

    # Depths: NML 0, PLAYLISTS 1, $ROOT 2, the top folder 4, a category 6, a section 8 (a folder's
    # SUBNODES sit one level below it, its children two).
    categories = tree.get("categories", [])
    folders: list[list[str]] = []
    for folder_name, category in zip(unique_names(display_text(c.get("title") or c.get("id")) or "Category"
                                                  for c in categories), categories, strict=True):
        report.folders += 1
        groups = category_sections(category)
        sections = [(title, leaves) for title, leaves in groups if title is not None]
        loose = [leaf for title, leaves in groups if title is None for leaf in leaves]
        names = unique_names([display_text(title) or "Section" for title, _ in sections]
                             + [display_text(leaf.get("title") or leaf.get("id")) or "Playlist" for leaf in loose])
        children: list[list[str]] = []
        for section_name, (_, leaves) in zip(names, sections, strict=False):
            report.folders += 1
            leaf_names = unique_names(display_text(leaf.get("title") or leaf.get("id")) or "Playlist"
                                      for leaf in leaves)
            children.append(_folder(8, section_name, [playlist(10, name, leaf)
                                                      for name, leaf in zip(leaf_names, leaves, strict=True)]))
        children += [playlist(8, name, leaf) for name, leaf in zip(names[len(sections):], loose, strict=True)]
        folders.append(_folder(6, folder_name, children))
    made = provenance(tree)
    top = _folder(4, f"{TOP_FOLDER} ({made})" if made else TOP_FOLDER, folders)
    return _folder(2, "$ROOT", [top])


def write_traktor_nml(tree: dict[str, Any], tracks: pd.DataFrame, target: Path, music_root: str | None = None,
                      system_volume: str = SYSTEM_VOLUME) -> TraktorReport:
    lines, report = _nml_lines(tree, tracks, music_root, system_volume)
    atomic_write_xml(Path(target), _DECLARATION, lines)
    report.path = Path(target)
    return report
