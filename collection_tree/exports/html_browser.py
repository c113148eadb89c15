"""A self-contained HTML collection browser (``collection.html``) that opens from disk with no network
and stays light at a thousand playlists.

The page (a Jinja2 template, ``templates/collection.html.j2``, with its CSS and script beside it) is
a shell: header with the build's provenance, a category sidebar with the categories' sections, a
toolbar (search, sort, suggestion decisions) and an empty grid. The data travels as one JSON blob
(columnar track table, leaves with their play order and summaries, categories, suggestions) and the
script renders one page of cards at a time, so the DOM stays small whatever the collection's size.
Search covers every track's title and artist, not only the exemplars; a card opens to its full
track list in play order with BPM, key and energy and whether each transition mixes.

Safety: every string the template writes is autoescaped; the JSON is written with ``<``, ``>`` and
``&`` as ``\\u`` escapes, and the script puts text in the page with ``textContent`` only. Control and
bidi characters are removed from every string first. A Content-Security-Policy allows no network at
all and only the page's own script and style (by hash).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, StrictUndefined, Template
from markupsafe import Markup

from collection_tree.core.mix import camelot_code, camelot_label, transition_flags
from collection_tree.exports import (
    TrackColumns,
    category_sections,
    distinct_tracks,
    iter_leaves,
    play_order,
    provenance,
)
from collection_tree.exports.m3u import playlist_href
from collection_tree.exports.paths import atomic_text_writer, display_text, display_texts
from collection_tree.exports.suggestions_review import COLUMNS as REVIEW_COLUMNS

UNGROUPED_SHOWN = 500  # a stopped build can leave thousands; the CLI lists them all
PAGE_SIZE = 24  # cards per page: about three screens at three columns
TEMPO_TOLERANCE = 0.06  # only for the per-transition marks; the leaf's share comes from the tree


@cache
def _asset(name: str) -> str:
    return resources.files("collection_tree.exports").joinpath("templates", name).read_text(encoding="utf-8")


def json_for_script(data: Any) -> str:
    """JSON safe inside a <script> element: no ``</script>``, ``<!--`` or entity can form."""
    return "".join(json_for_script_chunks(data))


JSON_CHUNK_ITEMS = 2048  # list items encoded per piece: a few MB of text at most


def json_for_script_chunks(data: Any, depth: int = 2) -> Iterator[str]:
    """:func:`json_for_script`'s text in pieces: down to ``depth``, a dict with string keys and a list
    longer than ``JSON_CHUNK_ITEMS`` are written piece by piece, each piece by the C encoder. At 1M
    tracks the page's data is ~250M characters, and one string of it with its escaped copies took
    more than 1 GB (the build's peak); the pieces join to the same text."""
    if depth > 0 and isinstance(data, dict) and all(isinstance(key, str) for key in data):
        yield "{"
        for n, (key, value) in enumerate(data.items()):
            yield ("," if n else "") + _script_safe(json.dumps(key, ensure_ascii=False)) + ":"
            yield from json_for_script_chunks(value, depth - 1)
        yield "}"
    elif depth > 0 and isinstance(data, list | _SuggestionRows) and len(data) > JSON_CHUNK_ITEMS:
        yield "["
        for start in range(0, len(data), JSON_CHUNK_ITEMS):
            yield ("," if start else "") + _script_safe(_json(data[start:start + JSON_CHUNK_ITEMS]))[1:-1]
        yield "]"
    else:
        yield _script_safe(_json(data[:] if isinstance(data, _SuggestionRows) else data))


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _script_safe(text: str) -> str:
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def content_security_policy() -> str:
    return (f"default-src 'none'; style-src '{_hash(_asset('collection.css'))}'; "
            f"script-src '{_hash(_asset('collection.js'))}'; base-uri 'none'; form-action 'none'")


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


class _Tracks:
    """The columnar track table the page carries (only tracks in playlists, in order of first
    appearance), built a column at a time, with the arrays the leaf summaries read."""

    def __init__(self, table: TrackColumns, track_ids: list[int]):
        years, tempos, energies = table.columns(track_ids, "year", "bpm", "energy")
        key_texts = table.mapped("key", display_texts, track_ids)
        known = {k: camelot_code(k) if k else -1 for k in set(key_texts)}  # a few dozen distinct keys
        self.codes = [known[k] for k in key_texts]
        years = [None if y is None else int(y) for y in _numbers(years)]
        self.position = {t: i for i, t in enumerate(track_ids)}
        self.columns: dict[str, list[Any]] = {
            "id": list(track_ids), "t": table.mapped("title", display_texts, track_ids),
            "a": table.mapped("artist", display_texts, track_ids), "y": years,
            "b": [_round(b) for b in _numbers(tempos)],
            "k": [camelot_label(c) or k for c, k in zip(self.codes, key_texts, strict=True)],
            "e": [_round(e) for e in _numbers(energies)]}
        # as float arrays (None: NaN) for the leaf summaries
        self.bpm, self.energy, self.years = (np.array(self.columns[c], dtype=np.float64) for c in ("b", "e", "y"))
        self.code_array = np.array(self.codes, dtype=np.int64)

    def name(self, row: int) -> tuple[str, str]:
        """The row's (artist, title) as exemplars are matched (worked out per leaf: a list of them all
        was 1M tuples held through the page's making)."""
        return self.columns["a"][row].casefold(), self.columns["t"][row].casefold()


def _numbers(values: list[Any]) -> list[float | None]:
    """:func:`_number` of a whole column (plain floats checked inline)."""
    return [(v if math.isfinite(v) else None) if type(v) is float else None if v is None else _number(v)
            for v in values]


def _leaf_summaries(leaf_rows: list[list[int]], tracks: _Tracks) -> list[dict[str, Any]]:
    """Per leaf: BPM range and median, key spread, energy mean and range, year range and median, and
    a mark per adjacent pair of the play order: "1" mixes, "0" does not, "-" cannot be judged. The
    marks are element-wise, so they are worked out for all leaves' play orders laid end to end at once
    (a leaf's marks are its own pairs: none spans two leaves)."""
    picked = np.array([r for rows in leaf_rows for r in rows], dtype=np.int64)
    bpm, energy, years, codes = (tracks.bpm[picked], tracks.energy[picked], tracks.years[picked],
                                 tracks.code_array[picked])
    if len(picked) > 1:
        flags = transition_flags(bpm, codes, TEMPO_TOLERANCE)
        judged = np.isfinite(bpm[:-1]) & np.isfinite(bpm[1:]) & (codes[:-1] >= 0) & (codes[1:] >= 0)
        marks = "".join(np.where(judged, np.where(flags, "1", "0"), "-").tolist())
    else:
        marks = ""
    summaries, start = [], 0
    for rows in leaf_rows:
        end = start + len(rows)
        summary = _summary(bpm[start:end], energy[start:end], years[start:end], codes[start:end])
        summary["fit"] = marks[start:max(end - 1, start)]  # n - 1 pairs (none for an empty leaf at 0)
        summaries.append(summary)
        start = end
    return summaries


def _summary(bpm: np.ndarray, energy: np.ndarray, years: np.ndarray, codes: np.ndarray) -> dict[str, Any]:
    """One leaf's ranges, medians and key spread (its tracks' values in play order)."""
    known_bpm, known_energy, known_year = bpm[np.isfinite(bpm)], energy[np.isfinite(energy)], years[np.isfinite(years)]
    keys = Counter(camelot_label(c) for c in codes[codes >= 0].tolist()).most_common()
    return {
        "bpm": [round(float(known_bpm.min())), round(float(known_bpm.max()))] if known_bpm.size else None,
        "bpmMed": round(float(np.median(known_bpm)), 1) if known_bpm.size else None,
        "keys": [[k, n] for k, n in keys[:4]], "nk": len(keys),
        "en": [round(float(known_energy.mean()), 1), round(float(known_energy.min()), 1),
               round(float(known_energy.max()), 1)] if known_energy.size else None,
        "yr": [int(known_year.min()), int(known_year.max()), int(np.median(known_year))] if known_year.size else None,
    }


def _exemplar_rows(leaf: dict[str, Any], rows: list[int], tracks: _Tracks) -> list[int]:
    """Rows of the leaf's exemplars (matched to its own tracks by artist and title)."""
    examples = [e for e in leaf.get("examples") or [] if isinstance(e, dict)]
    if not examples:
        return []
    by_name: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        by_name.setdefault(tracks.name(row), []).append(row)
    chosen: list[int] = []
    for example in examples:
        found = by_name.get((display_text(example.get("artist")).casefold(),
                             display_text(example.get("title")).casefold()), [])
        row = next((r for r in found if r not in chosen), None)
        if row is not None:
            chosen.append(row)
    return chosen


def _build_info(tree: dict[str, Any]) -> dict[str, Any]:
    build = tree.get("build") if isinstance(tree.get("build"), dict) else {}
    return {"made": provenance(tree), "profile": display_text(build.get("profile")),
            "version": display_text(build.get("version")), "run": display_text(build.get("run_id"))[:12],
            "created": display_text(tree.get("created_at"))}


def page_data(tree: dict[str, Any], tracks: pd.DataFrame, playlist_paths: dict[str, str],
              suggestions: pd.DataFrame | None = None) -> dict[str, Any]:
    """Everything the script renders, as plain JSON-able data."""
    index = TrackColumns(tracks)
    groups = [(category, category_sections(category)) for category in tree.get("categories", [])]
    orders = {id(leaf): play_order(leaf, index.row) for _, sections in groups for _, members in sections
              for leaf in members}
    table = _Tracks(index, distinct_tracks(orders.values()))
    categories: list[dict[str, Any]] = []
    leaves: list[dict[str, Any]] = []
    leaf_row: dict[str, int] = {}
    for ci, (category, category_groups) in enumerate(groups):
        sections = []
        for title, members in category_groups:
            indices = []
            for leaf in members:
                rows = [table.position[t] for t in orders[id(leaf)]]
                href = playlist_paths.get(str(leaf.get("id")))
                transitions = _number(leaf.get("transitions"))
                leaf_row[str(leaf.get("id"))] = len(leaves)
                indices.append(len(leaves))
                leaves.append({
                    "id": display_text(leaf.get("id")), "t": display_text(leaf.get("title")),
                    "d": display_text(leaf.get("description")), "c": ci, "s": len(sections) if title else -1,
                    "g": display_text(leaf.get("genre_context")), "sc": display_text(leaf.get("scene_context")),
                    "n": int(leaf.get("track_count") or len(leaf.get("track_ids", []))), "o": rows,
                    "x": _exemplar_rows(leaf, rows, table), "tr": transitions,
                    "href": playlist_href(href) if href else "", "sg": 0,  # then its summary (below)
                })
            if title:
                sections.append({"t": display_text(title), "l": indices})
        categories.append({"id": display_text(category.get("id")), "t": display_text(category.get("title")),
                           "d": display_text(category.get("description")), "s": sections,
                           "n": len(category.get("leaves", []))})
    for leaf, summary in zip(leaves, _leaf_summaries([leaf["o"] for leaf in leaves], table), strict=True):
        leaf.update(summary)
    rows = _SuggestionRows(suggestions, leaf_row, leaves) if suggestions is not None and len(suggestions) else []
    return {"build": _build_info(tree), "pageSize": PAGE_SIZE, "cats": categories, "leaves": leaves,
            "tracks": table.columns, "suggestionColumns": list(REVIEW_COLUMNS), "suggestions": rows}


class _SuggestionRows:
    """The review table's rows for the page, each with its leaf's position (rows of a leaf not on the
    page are left out; each leaf counts its rows): text cells shown as one line, non-finite numbers
    empty. Made a slice at a time as the page's JSON is written (``json_for_script_chunks``): at 1M
    tracks the 431K rows as lists were about 400 MB held through the whole page."""

    def __init__(self, suggestions: pd.DataFrame, leaf_row: dict[str, int], leaves: list[dict[str, Any]]):
        positions, self._leaves = [], []
        for position, leaf_id in enumerate(suggestions["leaf_id"].tolist()):
            leaf = leaf_row.get(str(leaf_id))
            if leaf is not None:
                leaves[leaf]["sg"] += 1
                positions.append(position)
                self._leaves.append(leaf)
        self._positions = np.array(positions, dtype=np.int64)
        self._table = suggestions[list(REVIEW_COLUMNS)]

    def __len__(self) -> int:
        return len(self._leaves)

    def __getitem__(self, item: slice) -> list[list[Any]]:
        """The rows of a slice (built a column at a time)."""
        part = self._table.iloc[self._positions[item]]
        cells = zip(*([_cell(v) for v in part[c].tolist()] for c in REVIEW_COLUMNS), strict=True)
        return [[*row, leaf] for row, leaf in zip(cells, self._leaves[item], strict=True)]

    def __iter__(self) -> Iterator[list[Any]]:
        for start in range(0, len(self), JSON_CHUNK_ITEMS):
            yield from self[start:start + JSON_CHUNK_ITEMS]


def _cell(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return value if isinstance(value, int | float) else display_text(value)


@cache
def _environment() -> Environment:
    return Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


@cache
def _template() -> Template:
    return _environment().from_string(_asset("collection.html.j2"))


def render_collection_html(tree: dict[str, Any], tracks: pd.DataFrame, playlist_paths: dict[str, str],
                           ungrouped: list[dict[str, Any]], suggestions: pd.DataFrame | None = None) -> str:
    """The page. ``playlist_paths``: leaf id -> playlist path relative to the page's folder (from
    ``m3u.playlist_layout``); ``ungrouped``: rows from ``ungrouped.ungrouped_tracks``;
    ``suggestions``: the review table (``suggestions_review.build_review_table``), or None."""
    return "".join(_page_chunks(tree, tracks, playlist_paths, ungrouped, suggestions))


def _page_chunks(tree: dict[str, Any], tracks: pd.DataFrame, playlist_paths: dict[str, str],
                 ungrouped: list[dict[str, Any]], suggestions: pd.DataFrame | None) -> Iterator[str]:
    """The page as the template's text chunks (streamed to disk by ``write_collection_html``); the
    data's JSON is streamed in pieces where the template places it."""
    data = page_data(tree, tracks, playlist_paths, suggestions)
    chunks = _template().generate(
        csp=content_security_policy(), css=Markup(_asset("collection.css")), script=Markup(_asset("collection.js")),
        data=Markup(_DATA_PLACE), build=data["build"], categories=data["cats"],
        playlists=sum(1 for _ in iter_leaves(tree)), total_tracks=tree.get("total_tracks", "?"),
        assigned_tracks=tree.get("assigned_tracks", "?"), partial=tree.get("status") not in (None, "complete"),
        suggestions=len(data["suggestions"]),
        ungrouped=[{k: display_text(v) for k, v in row.items()} for row in ungrouped[:UNGROUPED_SHOWN]],
        ungrouped_total=len(ungrouped), ungrouped_more=max(len(ungrouped) - UNGROUPED_SHOWN, 0),
    )
    for chunk in chunks:
        if _DATA_PLACE not in chunk:
            yield chunk
            continue
        before, after = chunk.split(_DATA_PLACE, 1)
        yield before
        yield from json_for_script_chunks(data)
        yield after


# Where the template's ``{{ data }}`` goes (a NUL never reaches the page: every shown text is cleaned of
# control characters); the JSON is written there piece by piece.
_DATA_PLACE = "\x00collection-data\x00"


def write_collection_html(tree: dict[str, Any], tracks: pd.DataFrame, playlist_paths: dict[str, str],
                          ungrouped: list[dict[str, Any]], target: Path,
                          suggestions: pd.DataFrame | None = None) -> Path:
    with atomic_text_writer(Path(target)) as text:
        for chunk in _page_chunks(tree, tracks, playlist_paths, ungrouped, suggestions):
            text.write(chunk)
    return Path(target)
