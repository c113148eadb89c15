"""Small helpers turning phase figures into Dagster metadata (previews only: data stays in files)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from dagster import MetadataValue


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None,
                   limit: int = 25) -> MetadataValue:
    rows = list(rows)[:limit]
    if not rows:
        return MetadataValue.md("_(none)_")
    columns = list(columns or rows[0].keys())
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [str(row.get(c, "")).replace("|", "\\|").replace("\n", " ")[:80] for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return MetadataValue.md("\n".join(lines))


def size_stats(sizes: Iterable[int], prefix: str = "size") -> dict[str, Any]:
    values = np.asarray(list(sizes), dtype=np.int64)
    if values.size == 0:
        return {f"{prefix}_min": 0, f"{prefix}_median": 0.0, f"{prefix}_max": 0}
    return {
        f"{prefix}_min": int(values.min()),
        f"{prefix}_median": float(np.median(values)),
        f"{prefix}_mean": round(float(values.mean()), 2),
        f"{prefix}_max": int(values.max()),
    }


def llm_metadata(stats: Mapping[str, Any]) -> dict[str, Any]:
    """LLM accounting (from ``PhaseLLM.stats()``) as flat metadata entries."""
    out: dict[str, Any] = {}
    for key, value in stats.items():
        if isinstance(value, dict | list):
            out[key] = MetadataValue.json(value)
        elif isinstance(value, float):
            out[key] = MetadataValue.float(value)
        elif isinstance(value, int):
            out[key] = MetadataValue.int(value)
        else:
            out[key] = MetadataValue.text(str(value))
    return out
