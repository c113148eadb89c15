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

Written as text, line by line, exactly as ``xml.etree`` wrote it (``paths.xml_element``, its
escaping); control characters (XML 1.0 cannot hold them) and bidi controls are removed from every
text attribute first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

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


# ``quote(path, safe="/:")``, faster: "%" and spaces (most of what a path needs encoded) by str.replace,
# then each run of other unsafe characters as its UTF-8 bytes in %XX (uppercase hex, as quote writes).
_URI_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-~/:%]+")
_PERCENT = [f"%{b:02X}" for b in range(256)]


def _percent_run(match: re.Match[str]) -> str:
    return "".join([_PERCENT[b] for b in match[0].encode("utf-8")])


def location_uri(path: str) -> str | None:
    """``file://localhost`` + the percent-encoded absolute path (``/``-separated, UTF-8); a Windows
    drive path gets a leading ``/`` (``file://localhost/C:/Music/a%20b.mp3``). Relative -> None."""
    path = path.replace("\\", "/")
    if not is_absolute(path):
        return None
    if not path.startswith("/"):
        path = "/" + path
    return "file://localhost" + _URI_UNSAFE.sub(_percent_run, path.replace("%", "%25").replace(" ", "%20"))


def xml_text(value: Any) -> str:
    return display_text(value)


def top_folder_name(tree: dict[str, Any], base: str = TOP_FOLDER) -> str:
    """"Collection Tree (offline heuristics)" or "Collection Tree (<models>)"; the bare name for a
    tree that does not say how it was made."""
    made = provenance(tree)
    return f"{base} ({made})" if made else base


def _track_runs(table: TrackColumns, track_ids: list[int], uris: list[str]) -> Iterator[str]:
    """The ``TRACK`` lines (under ``COLLECTION``), one per track, joined a run of tracks at a time
    (``paths.COLLECTION_RUN``). Each
    column is picked once for all tracks (references to the values the exports share), then escaped
    and formatted a run at a time."""
    years, durations, tempos, keys, labels = table.columns(track_ids, "year", "duration", "bpm", "key", "label")
    columns = (track_ids, table.mapped("title", display_texts, track_ids), table.mapped("artist", display_texts,
                                                                                         track_ids),
               positive_numbers(years), positive_numbers(durations), positive_numbers(tempos), keys, labels, uris)
    for run in column_runs(columns):
        yield "".join(_track_lines(*run))


def _track_lines(track_ids: list[int], titles: list[str], artists: list[str], years: list[float | None],
                 durations: list[float | None], tempos: list[float | None], keys: list[Any], labels: list[Any],
                 uris: list[str]) -> list[str]:
    """One ``TRACK`` line per track of a run, built a column at a time: identity fields only, optional
    ones when known."""
    columns = zip(
        track_ids, escape_attributes(titles), escape_attributes(artists),
        optional_attributes("Year", ["" if y is None else str(int(y)) for y in years]),
        optional_attributes("TotalTime", ["" if d is None else str(round(d)) for d in durations]),
        optional_attributes("AverageBpm", ["" if b is None else f"{b:.2f}" for b in tempos]),
        optional_attributes("Tonality", [_label_text(v) if v else "" for v in keys]),
        optional_attributes("Label", [_label_text(v) if v else "" for v in labels]),
        escape_attributes(uris), strict=True)
    return [f'    <TRACK TrackID="{t}" Name="{name}" Artist="{artist}"{year}{time}{bpm}{key}{label} '
            f'Location="{uri}" />\n' for t, name, artist, year, time, bpm, key, label, uri in columns]


def _label_text(value: Any) -> str:
    """Tonality and Label: shown text, none for a blank (a falsy value: callers skip those) or a literal "nan"."""
    text = xml_text(value)
    return text if text and text.lower() != "nan" else ""


_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


def build_rekordbox_xml(tree: dict[str, Any], tracks: pd.DataFrame, music_root: str | None = None,
                        top_folder: str | None = None) -> tuple[bytes, RekordboxReport]:
    """The document's bytes (UTF-8, with declaration) and what went in or was left out."""
    lines, report = _rekordbox_lines(tree, tracks, music_root, top_folder)
    return xml_bytes(_DECLARATION, lines), report


def _rekordbox_lines(tree: dict[str, Any], tracks: pd.DataFrame, music_root: str | None,
                     top_folder: str | None) -> tuple[Iterator[str], RekordboxReport]:
    """The DJ_PLAYLISTS document after its declaration (indented, as chunks of lines) and what went in
    or was left out."""
    table = TrackColumns(tracks)
    report = RekordboxReport()
    orders = {id(leaf): play_order(leaf, table.row) for _, leaf in iter_leaves(tree)}
    locations = _locations(table, distinct_tracks(orders.values()), music_root, report)
    report.tracks = len(locations)
    playlists = _playlist_nodes(tree, orders, locations, top_folder, report)

    def document() -> Iterator[str]:
        yield f'<DJ_PLAYLISTS{xml_attributes({"Version": FORMAT_VERSION})}>\n'
        yield f'  <PRODUCT{xml_attributes(PRODUCT)} />\n'
        collection = _track_runs(table, list(locations), list(locations.values()))
        yield from xml_streamed(1, "COLLECTION", {"Entries": str(len(locations))}, collection, len(locations))
        yield from joined_runs(xml_element(1, "PLAYLISTS", {}, playlists))
        yield "</DJ_PLAYLISTS>\n"

    return document(), report


def _locations(table: TrackColumns, track_ids: list[int], music_root: str | None,
               report: RekordboxReport) -> dict[int, str]:
    """Track id -> its ``file://localhost`` URI; the others counted and listed in ``report``."""
    locations: dict[int, str] = {}
    for track_id, (path, problem) in zip(track_ids, table.mapped("location", locate_tracks, track_ids, music_root),
                                         strict=True):
        uri = location_uri(path) if path else None
        if uri is None:
            report.missing_location += problem == MISSING
            report.refused_location += path is None and problem != MISSING
            report.relative_location += path is not None
            report.skipped_track_ids.append(track_id)
            continue
        locations[track_id] = uri
    return locations


def _playlist_nodes(tree: dict[str, Any], orders: dict[int, list[int]], locations: dict[int, str],
                    top_folder: str | None, report: RekordboxReport) -> list[str]:
    """The ROOT node's lines: the top folder > a folder per category > (a folder per section) > a
    playlist per leaf (``orders``: its play order by ``id(leaf)``) keyed by TrackID."""
    def playlists(leaves: list[dict[str, Any]], names: list[str], depth: int) -> list[str]:
        lines: list[str] = []
        for leaf_name, leaf in zip(names, leaves, strict=True):
            keys = [t for t in orders[id(leaf)] if t in locations]
            entries = [f'{"  " * (depth + 1)}<TRACK Key="{t}" />\n' for t in keys]
            lines += xml_element(depth, "NODE", {"Name": leaf_name, "Type": "1", "KeyType": "0",
                                                 "Entries": str(len(keys))}, entries)
            report.playlists += 1
        return lines

    # Names unique among siblings: Rekordbox and readers address nodes by their name path.
    categories = tree.get("categories", [])
    folders: list[str] = []
    folder_names = unique_names(xml_text(c.get("title") or c.get("id") or "Category") for c in categories)
    for folder_name, category in zip(folder_names, categories, strict=True):
        groups = category_sections(category)
        loose = [leaf for title, leaves in groups if title is None for leaf in leaves]
        sections = [(title, leaves) for title, leaves in groups if title is not None]
        names = unique_names([xml_text(title) or "Section" for title, _ in sections]
                             + [xml_text(leaf.get("title") or leaf.get("id")) or "Playlist" for leaf in loose])
        report.folders += 1
        children: list[str] = []
        for section_name, (_, leaves) in zip(names, sections, strict=False):
            report.folders += 1
            leaf_names = unique_names(xml_text(leaf.get("title") or leaf.get("id")) or "Playlist" for leaf in leaves)
            children += xml_element(5, "NODE", {"Type": "0", "Name": section_name, "Count": str(len(leaves))},
                                    playlists(leaves, leaf_names, 6))
        children += playlists(loose, names[len(sections):], 5)
        folders += xml_element(4, "NODE", {"Type": "0", "Name": folder_name, "Count": str(len(names))}, children)
    top = xml_element(3, "NODE", {"Type": "0", "Name": xml_text(top_folder or top_folder_name(tree)),
                                  "Count": str(len(categories))}, folders)
    return xml_element(2, "NODE", {"Type": "0", "Name": "ROOT", "Count": "1"}, top)


def write_rekordbox_xml(tree: dict[str, Any], tracks: pd.DataFrame, target: Path,
                        music_root: str | None = None) -> RekordboxReport:
    lines, report = _rekordbox_lines(tree, tracks, music_root, None)
    atomic_write_xml(Path(target), _DECLARATION, lines)
    report.path = Path(target)
    return report
