"""Typed phase reports and the metadata entries they show, without Dagster.

Each phase returns a frozen report dataclass deriving from :class:`PhaseReport` (declared beside
the phase, built where the phase used to build its ``report`` dict). Its fields are the phase's
figures; ``to_dict()`` is the stored form (inside the phase's stored output), ``to_metadata()`` the
entries the asset shows: numbers and text as they are, dicts and lists as JSON, row lists declared
with ``figure(table=...)`` as Markdown tables. The Dagster shell (``assets/metadata.py``) turns
:class:`Table`, :class:`Json` and :class:`Text` into Dagster metadata values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Table:
    """Rows shown as a Markdown table (previews only: the data stays in the stored output)."""

    rows: Sequence[Mapping[str, Any]]
    columns: Sequence[str] | None = None
    limit: int = 25


@dataclass(frozen=True)
class Json:
    value: Any


@dataclass(frozen=True)
class Text:
    value: str


def figure(*, table: Sequence[str] | None = None, hidden: bool = False, default: Any = dataclasses.MISSING,
           default_factory: Any = dataclasses.MISSING) -> Any:
    """A report field shown as a table (``table``: its columns, ``()`` for all), or ``hidden``
    from the metadata (kept in the stored report)."""
    metadata = {"table": tuple(table) if table is not None else None, "hidden": hidden}
    if default_factory is not dataclasses.MISSING:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class PhaseReport:
    """Base of every phase report (see the module docstring)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for spec in dataclasses.fields(self):
            if spec.metadata.get("hidden"):
                continue
            value = getattr(self, spec.name)
            columns = spec.metadata.get("table")
            if columns is not None:
                out[spec.name] = Table(list(value), columns or None)
            else:
                out[spec.name] = entry(value)
        return out


def entry(value: Any) -> Any:
    """A plain value as a metadata entry: containers as JSON, strings as text, numbers as they are."""
    if isinstance(value, Mapping | list | tuple):
        return Json(value)
    if isinstance(value, str):
        return Text(value)
    return value


def size_stats(sizes: Iterable[int], prefix: str = "size") -> dict[str, Any]:
    """Min, median, mean and max of a list of sizes, keyed ``<prefix>_min`` ..."""
    values = np.asarray(list(sizes), dtype=np.int64)
    if values.size == 0:
        return {f"{prefix}_min": 0, f"{prefix}_median": 0.0, f"{prefix}_max": 0}
    return {
        f"{prefix}_min": int(values.min()),
        f"{prefix}_median": float(np.median(values)),
        f"{prefix}_mean": round(float(values.mean()), 2),
        f"{prefix}_max": int(values.max()),
    }


def markdown(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, limit: int = 25) -> str:
    """The first ``limit`` rows as a Markdown table (cells cut at 80 characters)."""
    rows = list(rows)[:limit]
    if not rows:
        return "_(none)_"
    columns = list(columns or rows[0].keys())
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [str(row.get(c, "")).replace("|", "\\|").replace("\n", " ")[:80] for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
