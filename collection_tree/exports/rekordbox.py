"""A Rekordbox XML (``DJ_PLAYLISTS`` 1.0.0) holding the collection tree as playlist folders.

Layout: COLLECTION with one TRACK per exported track, and PLAYLISTS > ROOT > "Collection Tree
(<provenance>)" (folder; "offline heuristics" or the models, from the tree's ``build``) > one folder
per category > (a folder per section, where the category has sections) > one playlist per leaf
(tracks keyed by TrackID, in the leaf's play order).

What it never carries, so an import cannot overwrite the user's library: no ``Comments`` (leaf
descriptions stay in the tree JSON and the HTML browser), no ``Genre``, no ratings, colours, cue
points or play counts; only identity fields read straight from the tracks file (name, artist, year,
duration, BPM, key, label) and the file location. Rekordbox matches tracks by Location, which must
be absolute: tracks whose location is missing, or relative with no music root to anchor it, are
left out and counted, as are relative locations climbing out of the music root.

Built with ``xml.etree`` (the library escapes markup); control characters (XML 1.0 cannot hold them)
and bidi controls are removed from every text attribute first.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

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

FORMAT_VERSION = "1.0.0"
TOP_FOLDER = "Collection Tree"
PRODUCT = {"Name": "collection-tree", "Version": "0.1.0", "Company": "collection-tree"}


@dataclass
class RekordboxReport:
    path: Path | None = None
    tracks: int = 0
    playlists: int = 0
    folders: int = 0
    missing_location: int = 0
    relative_location: int = 0
    refused_location: int = 0  # outside the music root, or control/bidi characters in the path
    skipped_track_ids: list[int] = field(default_factory=list)


def location_uri(path: str) -> str | None:
    """``file://localhost`` + the percent-encoded absolute path (``/``-separated, UTF-8); a Windows
    drive path gets a leading ``/`` (``file://localhost/C:/Music/a%20b.mp3``). Relative -> None."""
    path = path.replace("\\", "/")
    if not is_absolute(path):
        return None
    if not path.startswith("/"):
        path = "/" + path
    return "file://localhost" + quote(path, safe="/:")


def xml_text(value: Any) -> str:
    return display_text(value)


def top_folder_name(tree: dict[str, Any], base: str = TOP_FOLDER) -> str:
    """"Collection Tree (offline heuristics)" or "Collection Tree (<models>)"; the bare name for a
    tree that does not say how it was made."""
    made = provenance(tree)
    return f"{base} ({made})" if made else base


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def track_attributes(track: dict[str, Any], location: str) -> dict[str, str]:
    attrib = {"TrackID": str(int(track["track_id"])), "Name": xml_text(track.get("title", "")),
              "Artist": xml_text(track.get("artist", ""))}
    year = _number(track.get("year"))
    if year is not None:
        attrib["Year"] = str(int(year))
    duration = _number(track.get("duration"))
    if duration is not None:
        attrib["TotalTime"] = str(round(duration))
    bpm = _number(track.get("bpm"))
    if bpm is not None:
        attrib["AverageBpm"] = f"{bpm:.2f}"
    for column, name in (("key", "Tonality"), ("label", "Label")):
        text = xml_text(track.get(column) or "")
        if text and text.lower() != "nan":
            attrib[name] = text
    attrib["Location"] = location
    return attrib


_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


def build_rekordbox_xml(tree: dict[str, Any], tracks: pd.DataFrame, music_root: str | None = None,
                        top_folder: str | None = None) -> tuple[bytes, RekordboxReport]:
    """The document's bytes (UTF-8, with declaration) and what went in or was left out."""
    root, report = _rekordbox_tree(tree, tracks, music_root, top_folder)
    return xml_bytes(_DECLARATION, root), report


def _rekordbox_tree(tree: dict[str, Any], tracks: pd.DataFrame, music_root: str | None,
                    top_folder: str | None) -> tuple[ET.Element, RekordboxReport]:
    """The DJ_PLAYLISTS element tree (indented) and what went in or was left out."""
    index = track_index(tracks)
    report = RekordboxReport()
    locations: dict[int, str] = {}
    for track_id in dict.fromkeys(t for _, leaf in iter_leaves(tree) for t in play_order(leaf, index)):
        path, problem = locate_track(index[track_id].get("location"), music_root)
        uri = location_uri(path) if path else None
        if uri is None:
            report.missing_location += problem == MISSING
            report.refused_location += path is None and problem != MISSING
            report.relative_location += path is not None
            report.skipped_track_ids.append(track_id)
            continue
        locations[track_id] = uri

    root = ET.Element("DJ_PLAYLISTS", {"Version": FORMAT_VERSION})
    ET.SubElement(root, "PRODUCT", PRODUCT)
    collection = ET.SubElement(root, "COLLECTION", {"Entries": str(len(locations))})
    for track_id, uri in locations.items():
        ET.SubElement(collection, "TRACK", track_attributes(index[track_id], uri))
    report.tracks = len(locations)

    playlists = ET.SubElement(root, "PLAYLISTS")
    root_node = ET.SubElement(playlists, "NODE", {"Type": "0", "Name": "ROOT", "Count": "1"})
    categories = tree.get("categories", [])
    top = ET.SubElement(root_node, "NODE", {"Type": "0", "Name": xml_text(top_folder or top_folder_name(tree)),
                                            "Count": str(len(categories))})

    def playlists_into(parent: ET.Element, leaves: list[dict[str, Any]], taken: list[str]) -> None:
        for leaf_name, leaf in zip(taken, leaves, strict=True):
            keys = [t for t in play_order(leaf, index) if t in locations]
            node = ET.SubElement(parent, "NODE", {"Name": leaf_name, "Type": "1", "KeyType": "0",
                                                  "Entries": str(len(keys))})
            for track_id in keys:
                ET.SubElement(node, "TRACK", {"Key": str(track_id)})
            report.playlists += 1

    # Names unique among siblings: Rekordbox and readers address nodes by their name path.
    folder_names = unique_names(xml_text(c.get("title") or c.get("id") or "Category") for c in categories)
    for folder_name, category in zip(folder_names, categories, strict=True):
        groups = category_sections(category)
        loose = [leaf for title, leaves in groups if title is None for leaf in leaves]
        sections = [(title, leaves) for title, leaves in groups if title is not None]
        names = unique_names([xml_text(title) or "Section" for title, _ in sections]
                             + [xml_text(leaf.get("title") or leaf.get("id")) or "Playlist" for leaf in loose])
        folder = ET.SubElement(top, "NODE", {"Type": "0", "Name": folder_name, "Count": str(len(names))})
        report.folders += 1
        for section_name, (_, leaves) in zip(names, sections, strict=False):
            sub = ET.SubElement(folder, "NODE", {"Type": "0", "Name": section_name, "Count": str(len(leaves))})
            report.folders += 1
            playlists_into(sub, leaves, unique_names(xml_text(leaf.get("title") or leaf.get("id")) or "Playlist"
                                                     for leaf in leaves))
        playlists_into(folder, loose, names[len(sections):])
    ET.indent(root, space="  ")
    return root, report


def write_rekordbox_xml(tree: dict[str, Any], tracks: pd.DataFrame, target: Path,
                        music_root: str | None = None) -> RekordboxReport:
    root, report = _rekordbox_tree(tree, tracks, music_root, None)
    atomic_write_xml(Path(target), _DECLARATION, root)
    report.path = Path(target)
    return report
