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
Tracks need absolute locations; the rest are left out and counted. Written by hand with
``xml.etree`` (the maintained ``traktor-nml-utils`` is GPL-3.0 and reads it back in the tests).
"""

from __future__ import annotations

import math
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from collection_tree.core.mix import camelot_code
from collection_tree.exports import category_sections, iter_leaves, play_order, provenance, track_index
from collection_tree.exports.paths import (
    MISSING,
    atomic_write_xml,
    display_text,
    is_absolute,
    locate_track,
    unique_names,
    xml_bytes,
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


def traktor_location(path: str, system_volume: str = SYSTEM_VOLUME) -> tuple[str, str, str]:
    """(volume, dir, file) of an absolute ``/``-separated path in Traktor's form."""
    drive = re.match(r"^([A-Za-z]:)/(.*)$", path)
    if drive:
        volume, rest = drive.group(1).upper(), drive.group(2)
    elif path.startswith("//"):  # a UNC share: //server/share/...
        parts = path[2:].split("/", 2)
        volume, rest = "/".join(parts[:2]), parts[2] if len(parts) > 2 else ""
    elif (external := re.match(r"^/Volumes/([^/]+)/(.*)$", path)):
        volume, rest = external.group(1), external.group(2)
    else:
        volume, rest = system_volume, path.lstrip("/")
    *folders, name = rest.split("/")
    directory = "/:" + "".join(f"{f}/:" for f in folders if f)
    return volume, directory, name


def traktor_key_value(key: object) -> int | None:
    """Traktor's MUSICAL_KEY value: 0-11 the major keys from C, 12-23 the minor keys from C minor."""
    code = camelot_code(key) if isinstance(key, str) else -1
    if code < 0:
        return None
    number, major = code // 2 + 1, bool(code % 2)
    relative_major = (7 * (number - 8)) % 12  # inverse of the wheel: 8B is C (pitch 0), each step a fifth
    return relative_major if major else 12 + (relative_major - 3) % 12


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _entry(collection: ET.Element, track: dict[str, Any], where: tuple[str, str, str]) -> None:
    entry = ET.SubElement(collection, "ENTRY", {"TITLE": display_text(track.get("title")),
                                                "ARTIST": display_text(track.get("artist"))})
    volume, directory, name = where
    ET.SubElement(entry, "LOCATION", {"DIR": directory, "FILE": name, "VOLUME": volume, "VOLUMEID": ""})
    info: dict[str, str] = {}
    duration, year, bpm = _number(track.get("duration")), _number(track.get("year")), _number(track.get("bpm"))
    if duration is not None:
        info["PLAYTIME"] = str(round(duration))
    if year is not None:
        info["RELEASE_DATE"] = f"{int(year)}/1/1"
    for column, attribute in (("label", "LABEL"), ("key", "KEY")):
        text = display_text(track.get(column))
        if text:
            info[attribute] = text
    ET.SubElement(entry, "INFO", info)
    if bpm is not None:
        ET.SubElement(entry, "TEMPO", {"BPM": f"{bpm:.6f}", "BPM_QUALITY": "100.000000"})
    key_value = traktor_key_value(track.get("key"))
    if key_value is not None:
        ET.SubElement(entry, "MUSICAL_KEY", {"VALUE": str(key_value)})


def _folder(parent: ET.Element, name: str) -> ET.Element:
    node = ET.SubElement(parent, "NODE", {"TYPE": "FOLDER", "NAME": name})
    return ET.SubElement(node, "SUBNODES", {"COUNT": "0"})


def _count(subnodes: ET.Element) -> None:
    subnodes.set("COUNT", str(len(subnodes)))


_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="no" ?>'


def build_traktor_nml(tree: dict[str, Any], tracks: pd.DataFrame, music_root: str | None = None,
                      system_volume: str = SYSTEM_VOLUME) -> tuple[bytes, TraktorReport]:
    """The NML document's bytes (UTF-8) and what went in or was left out."""
    root, report = _nml_tree(tree, tracks, music_root, system_volume)
    return xml_bytes(_DECLARATION, root), report


def _nml_tree(tree: dict[str, Any], tracks: pd.DataFrame, music_root: str | None,
              system_volume: str) -> tuple[ET.Element, TraktorReport]:
    """The NML element tree (indented) and what went in or was left out."""
    index = track_index(tracks)
    report = TraktorReport()
    keys: dict[int, str] = {}
    root = ET.Element("NML", {"VERSION": NML_VERSION})
    ET.SubElement(root, "HEAD", {"COMPANY": "www.native-instruments.com", "PROGRAM": "Traktor"})
    ET.SubElement(root, "MUSICFOLDERS")
    collection = ET.SubElement(root, "COLLECTION", {"ENTRIES": "0"})
    for track_id in dict.fromkeys(t for _, leaf in iter_leaves(tree) for t in play_order(leaf, index)):
        path, problem = locate_track(index[track_id].get("location"), music_root)
        if path is None or not is_absolute(path):
            report.missing_location += problem == MISSING
            report.refused_location += path is None and problem != MISSING
            report.relative_location += path is not None
            continue
        where = traktor_location(path, system_volume)
        keys[track_id] = "".join(where)
        report.volumes[where[0]] = report.volumes.get(where[0], 0) + 1
        _entry(collection, index[track_id], where)
    collection.set("ENTRIES", str(len(keys)))
    report.tracks = len(keys)
    ET.SubElement(root, "SETS", {"ENTRIES": "0"})

    playlists = ET.SubElement(root, "PLAYLISTS")
    top_root = _folder(playlists, "$ROOT")
    made = provenance(tree)
    top = _folder(top_root, f"{TOP_FOLDER} ({made})" if made else TOP_FOLDER)

    def playlist(parent: ET.Element, name: str, leaf: dict[str, Any]) -> None:
        members = [t for t in play_order(leaf, index) if t in keys]
        node = ET.SubElement(parent, "NODE", {"TYPE": "PLAYLIST", "NAME": name})
        body = ET.SubElement(node, "PLAYLIST", {"ENTRIES": str(len(members)), "TYPE": "LIST",
                                                "UUID": uuid.uuid5(_UUID_NAMESPACE, str(leaf.get("id"))).hex})
        for track_id in members:
            item = ET.SubElement(body, "ENTRY")
            ET.SubElement(item, "PRIMARYKEY", {"TYPE": "TRACK", "KEY": keys[track_id]})
        report.playlists += 1

    categories = tree.get("categories", [])
    for folder_name, category in zip(unique_names(display_text(c.get("title") or c.get("id")) or "Category"
                                                  for c in categories), categories, strict=True):
        folder = _folder(top, folder_name)
        report.folders += 1
        groups = category_sections(category)
        sections = [(title, leaves) for title, leaves in groups if title is not None]
        loose = [leaf for title, leaves in groups if title is None for leaf in leaves]
        names = unique_names([display_text(title) or "Section" for title, _ in sections]
                             + [display_text(leaf.get("title") or leaf.get("id")) or "Playlist" for leaf in loose])
        for section_name, (_, leaves) in zip(names, sections, strict=False):
            sub = _folder(folder, section_name)
            report.folders += 1
            for name, leaf in zip(unique_names(display_text(leaf.get("title") or leaf.get("id")) or "Playlist"
                                               for leaf in leaves), leaves, strict=True):
                playlist(sub, name, leaf)
            _count(sub)
        for name, leaf in zip(names[len(sections):], loose, strict=True):
            playlist(folder, name, leaf)
        _count(folder)
    _count(top)
    _count(top_root)
    ET.SubElement(root, "INDEXING")
    ET.indent(root, space="  ")
    return root, report


def write_traktor_nml(tree: dict[str, Any], tracks: pd.DataFrame, target: Path, music_root: str | None = None,
                      system_volume: str = SYSTEM_VOLUME) -> TraktorReport:
    root, report = _nml_tree(tree, tracks, music_root, system_volume)
    atomic_write_xml(Path(target), _DECLARATION, root)
    report.path = Path(target)
    return report
