"""Reviewing and applying phase 7's metadata suggestions, safely.

The review table has one row per (track, field) with the current and proposed value;
``metadata_suggestions.parquet`` holds exact values, ``metadata_suggestions.csv`` is the same table
for spreadsheets (text cells that a spreadsheet would run as a formula get a leading ``'``).

Applying never touches the user's tracks file: the result is ``<name>.curated.<ext>`` next to it,
rebuilt from the original plus every accepted row (so it is a function of the two and applying the
same selection twice writes nothing the second time). A row whose current value in the original no
longer matches the table's is skipped and reported; a curated file that would change is backed up
first.
"""

from __future__ import annotations

import io
import math
import shutil
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from collection_tree.core.inputs import split_facet
from collection_tree.exports import ExportError, TrackColumns, iter_leaves
from collection_tree.exports.paths import atomic_write

# suggestion key -> track column
FIELDS = {"genre_refinement": "genre", "scene_tags": "scene_tags", "descriptors": "descriptors",
          "era_refinement": "era"}
LIST_FIELDS = ("genre", "scene_tags", "descriptors")
FIELD_ORDER = {name: i for i, name in enumerate(FIELDS.values())}
COLUMNS = ["id", "track_id", "artist", "title", "field", "current", "proposed", "confidence", "reasoning",
           "leaf_id", "leaf_title", "status", "accepted", "note"]
TABLE_NAME = "metadata_suggestions"
TRUTHY = {"1", "true", "yes", "y", "x", "accept", "accepted"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CURATED_HINT = "the curated copy cannot go next to it: copy the tracks file to a writable folder and pass that"


# ------------------------------------------------------------------------------------ the table
def _values(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    return split_facet(value)


def current_value(track: dict[str, Any], column: str) -> str:
    """A track's value as the table shows it: list facets ``; ``-joined, era stripped."""
    raw = track.get(column)
    if column in LIST_FIELDS:
        return "; ".join(split_facet(raw))
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return ""
    return str(raw).strip()


def proposed_value(column: str, current: str, suggested: Any) -> str | None:
    """The new value, or None when the suggestion adds nothing. Genre: the refinement appended to
    the list (broad to specific); tags/descriptors: union; era: replaced."""
    if column in LIST_FIELDS:
        have = split_facet(current)
        seen = {v.casefold() for v in have}
        added = [v for v in _values(suggested) if v.casefold() not in seen]
        added = list(dict.fromkeys(added))
        return "; ".join(have + added) if added else None
    new = " ".join(str(suggested or "").split())
    return new if new and new.casefold() != current.casefold() else None


def _confidence(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def build_review_table(tree: dict[str, Any], tracks: pd.DataFrame,
                       previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (track, field) from the leaves' ``metadata_suggestions`` (the most confident
    suggestion wins when a track has several). Rows whose id, current and proposed value match a
    ``previous`` table keep its status, so a rebuild does not forget a review."""
    table = TrackColumns(tracks)
    index: dict[int, dict[str, Any]] = {}  # the records of the tracks with suggestions
    best: dict[tuple[int, str], dict[str, Any]] = {}
    for _, leaf in iter_leaves(tree):
        for item in leaf.get("metadata_suggestions", []) or []:
            try:
                track_id = int(item["track_id"])
            except (KeyError, TypeError, ValueError):
                continue
            if track_id not in table.row:
                continue
            if track_id not in index:
                index[track_id] = table.record(track_id, ("artist", "title", *FIELDS.values()))
            confidence = _confidence(item.get("confidence"))
            suggested = item.get("suggestions") or {}
            for key, column in FIELDS.items():
                if suggested.get(key) in (None, "", []):  # nothing proposed for this field (most of them)
                    continue
                current = current_value(index[track_id], column)
                proposed = proposed_value(column, current, suggested[key])
                if proposed is None:
                    continue
                row = {"id": f"{track_id}:{column}", "track_id": track_id,
                       "artist": str(index[track_id].get("artist") or ""),
                       "title": str(index[track_id].get("title") or ""), "field": column,
                       "current": current, "proposed": proposed, "confidence": confidence,
                       "reasoning": str(item.get("reasoning") or ""), "leaf_id": str(leaf.get("id") or ""),
                       "leaf_title": str(leaf.get("title") or ""), "status": "pending", "accepted": "", "note": ""}
                held = best.get((track_id, column))
                if held is None or (row["confidence"] > held["confidence"]):
                    best[(track_id, column)] = row
    rows = sorted(best.values(), key=lambda r: (r["track_id"], FIELD_ORDER[r["field"]]))
    table = pd.DataFrame(rows, columns=COLUMNS).astype({"track_id": "int64", "confidence": "float64"})
    if previous is not None and len(previous) and len(table):
        _keep_review(table, previous)
    return table


def _keep_review(table: pd.DataFrame, previous: pd.DataFrame) -> None:
    """``previous``'s status, accepted and note on the rows of ``table`` with the same id, current and
    proposed value (in place; whole columns at once: a row-by-row ``loc`` took seconds per thousand rows)."""
    review = ("status", "accepted", "note")
    held = {(i, c, p): kept for i, c, p, *kept in zip(*(previous[k].tolist() for k in (
        "id", "current", "proposed", *review)), strict=True)}
    rows = zip(*(table[k].tolist() for k in ("id", "current", "proposed", *review)), strict=True)
    values = [held.get((i, c, p), now) for i, c, p, *now in rows]
    for position, column in enumerate(review):
        table[column] = pd.Series([v[position] for v in values], index=table.index, dtype=table[column].dtype)


def _neutralise(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def write_review_table(table: pd.DataFrame, output_dir: Path) -> tuple[Path, Path]:
    """``metadata_suggestions.parquet`` (exact) and ``.csv`` (spreadsheet-safe), atomically."""
    output_dir = Path(output_dir)
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(table[COLUMNS], preserve_index=False), buffer)
    parquet_path, csv_path = output_dir / f"{TABLE_NAME}.parquet", output_dir / f"{TABLE_NAME}.csv"
    atomic_write(parquet_path, buffer.getvalue())
    shown = table[COLUMNS].copy()
    for column in ("artist", "title", "current", "proposed", "reasoning", "leaf_title", "note"):
        shown[column] = shown[column].map(_neutralise)
    atomic_write(csv_path, shown.to_csv(index=False, lineterminator="\n").encode("utf-8"))
    return parquet_path, csv_path


def read_review_table(output_dir: Path) -> pd.DataFrame:
    path = Path(output_dir) / f"{TABLE_NAME}.parquet"
    if not path.exists():
        raise ExportError(f"{path}: no review table yet; a full build (with phase 7) writes it")
    table = pd.read_parquet(path)
    for column in ("status", "accepted", "note", "current", "proposed"):
        table[column] = table[column].fillna("").astype(str)
    return table


# -------------------------------------------------------------------------------------- selecting
def select_rows(table: pd.DataFrame, accept: str | None = None, min_confidence: float | None = None,
                accepted_csv: Path | None = None) -> pd.Series:
    """Rows chosen by ``accept`` (``all``, ``accepted`` = rows a dry run accepted, or comma-separated
    ``TRACK:FIELD`` / ``TRACK`` ids), an ``accepted`` column of a CSV, and a confidence floor; the
    given criteria must all hold. No criterion at all is refused."""
    if accept is None and min_confidence is None and accepted_csv is None:
        raise ExportError("nothing selected: pass --accept all|accepted|IDS, --min-confidence X or --accept-csv FILE")
    mask = pd.Series(True, index=table.index)
    if accept is not None:
        spec = accept.strip()
        if spec == "accepted":
            mask &= table["status"] == "accepted"
        elif spec != "all":
            tokens = [t.strip() for t in spec.split(",") if t.strip()]
            ids, tracks = set(), set()
            for token in tokens:
                (ids if ":" in token else tracks).add(token)
            unknown = sorted(t for t in ids if t not in set(table["id"]))
            unknown += sorted(t for t in tracks if t not in set(table["track_id"].astype(str)))
            if unknown or not tokens:
                raise ExportError(f"unknown suggestion id(s) {unknown[:10]}: expected 'all', 'accepted' or ids "
                                  "like 123:genre or 123 (see `collection-tree suggestions show`)")
            mask &= table["id"].isin(ids) | table["track_id"].astype(str).isin(tracks)
    if accepted_csv is not None:
        mask &= table["id"].isin(accepted_ids_from_csv(Path(accepted_csv)))
    if min_confidence is not None:
        mask &= table["confidence"].fillna(0.0) >= float(min_confidence)
    return mask


def accepted_ids_from_csv(path: Path) -> set[str]:
    """Ids marked in an ``accepted`` column (1/true/yes/y/x) of a review CSV."""
    if not path.exists():
        raise ExportError(f"{path}: no such file (expected the review CSV with an 'accepted' column)")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "accepted" not in frame.columns or "id" not in frame.columns:
        raise ExportError(f"{path}: expected columns 'id' and 'accepted', got {list(frame.columns)[:12]}")
    chosen = frame["accepted"].str.strip().str.lower().isin(TRUTHY)
    return set(frame.loc[chosen, "id"].str.strip())


# --------------------------------------------------------------------------------------- applying
@dataclass
class ApplyResult:
    output_path: Path
    written: bool = False
    backup_path: Path | None = None
    applied: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # the original already holds the proposed value
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (id, why)
    cells_changed: int = 0


def curated_path(tracks_path: Path) -> Path:
    tracks_path = Path(tracks_path)
    if tracks_path.stem.endswith(".curated"):
        raise ExportError(f"{tracks_path}: this is a curated copy; pass the original tracks file "
                          "(the curated file is rebuilt from it)")
    return tracks_path.with_name(f"{tracks_path.stem}.curated{tracks_path.suffix}")


def _read_tracks_raw(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The file as it is (CSV: every cell text, nothing parsed), plus how to write it back alike."""
    if not path.exists():
        raise ExportError(f"{path}: tracks file not found")
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path), {"format": "parquet"}
    head = path.read_bytes()[:65536]
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return frame, {"format": "csv", "bom": head.startswith(b"\xef\xbb\xbf"),
                   "newline": "\r\n" if b"\r\n" in head else "\n"}


def _serialise(frame: pd.DataFrame, how: dict[str, Any]) -> bytes:
    if how["format"] == "parquet":
        buffer = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
        return buffer.getvalue()
    text = frame.to_csv(index=False, lineterminator=how["newline"])
    return (b"\xef\xbb\xbf" if how["bom"] else b"") + text.encode("utf-8")


def _cell_as_table_value(cell: Any, column: str) -> str:
    return current_value({column: cell}, column)


def _new_cell(old: Any, column: str, proposed: str) -> Any:
    if column in LIST_FIELDS and isinstance(old, (list, tuple, np.ndarray)):
        return split_facet(proposed)
    return proposed


def _backup_path(path: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate, n = path.with_name(f"{path.name}.bak-{stamp}"), 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.bak-{stamp}-{n}")
    return candidate


def apply_suggestions(table: pd.DataFrame, selected: pd.Series, tracks_path: Path,
                      dry_run: bool = False) -> tuple[pd.DataFrame, ApplyResult]:
    """Rebuild ``<name>.curated.<ext>`` from the original tracks file plus the selected rows and
    every row applied before. Returns the review table with statuses recorded (``applied`` /
    ``skipped``; ``accepted`` in a dry run, which writes no tracks file) and what happened."""
    original = Path(tracks_path)
    target = curated_path(original)
    raw, how = _read_tracks_raw(original)
    if "track_id" not in raw.columns:
        raise ExportError(f"{original}: expected a 'track_id' column")
    position = {int(float(v)): i for i, v in enumerate(raw["track_id"].tolist()) if str(v).strip()}
    result = ApplyResult(output_path=target)
    table = table.copy()
    table.loc[selected, "accepted"] = "yes"
    todo = selected | (table["status"] == "applied")
    new = raw.copy()
    for i in table.index[todo]:
        row = table.loc[i]
        column, pos = row["field"], position.get(int(row["track_id"]))
        if pos is None or column not in new.columns:
            why = "track not in the tracks file" if pos is None else f"no '{column}' column in the tracks file"
            result.skipped.append((row["id"], why))
            table.loc[i, ["status", "note"]] = ["skipped", why]
            continue
        now = _cell_as_table_value(raw.iat[pos, new.columns.get_loc(column)], column)
        if now == row["proposed"]:
            result.already.append(row["id"])
            table.loc[i, ["status", "note"]] = ["accepted" if dry_run else "applied", "already in the tracks file"]
        elif now == row["current"]:
            new.iat[pos, new.columns.get_loc(column)] = _new_cell(raw.iat[pos, new.columns.get_loc(column)],
                                                                  column, row["proposed"])
            result.applied.append(row["id"])
            result.cells_changed += 1
            table.loc[i, ["status", "note"]] = ["accepted" if dry_run else "applied", ""]
        else:
            why = f"current value changed since the review: now {now!r}"
            result.skipped.append((row["id"], why))
            table.loc[i, ["status", "note"]] = ["skipped", why]
    if dry_run:
        return table, result
    data = _serialise(new, how)
    if target.exists() and target.read_bytes() == data:
        return table, result  # idempotent: nothing to write, nothing to back up
    if not result.cells_changed and not target.exists():
        return table, result
    _check_writable_folder(target.parent)
    try:
        if target.exists():
            result.backup_path = _backup_path(target)
            shutil.copy2(target, result.backup_path)
        atomic_write(target, data)
    except OSError as exc:
        raise ExportError(f"{target}: could not write the curated tracks file ({exc})") from exc
    result.written = True
    return table, result


def _check_writable_folder(folder: Path) -> None:
    """A folder whose mode has no write bit is read-only by intent; honour that even as root (who
    could write anyway): nothing new appears in a collection folder someone locked."""
    mode = folder.stat().st_mode
    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        raise ExportError(f"{folder}: the folder is read-only, so {CURATED_HINT}")
