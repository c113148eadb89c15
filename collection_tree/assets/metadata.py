"""Phase figures as Dagster metadata: the keys every phase asset shares, in one place.

A phase's typed report gives its own entries (``PhaseReport.to_metadata()``, pure values); this
module adds the shared ones (``profile``, ``params``, ``seconds``, ``mode``, the LLM accounting, a
cluster set's sizes and previews) and turns the entries into Dagster metadata values. Previews
only: the data stays in the stored outputs.
"""

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from dagster import MetadataValue

from collection_tree.assets.modes import BuildMode
from collection_tree.assets.progress import PhaseProgress
from collection_tree.core.clusters import Cluster, ClusterSet
from collection_tree.core.report import Json, PhaseReport, Table, Text, entry, markdown, size_stats
from collection_tree.llm.client import PhaseLLM
from collection_tree.phases.common import PhaseParams

# A cluster preview's columns are Cluster attributes; these are computed.
_COMPUTED = {"size": lambda c: c.track_count,
             "first_example": lambda c: f"{c.examples[0]['artist']} - {c.examples[0]['title']}" if c.examples else ""}


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None,
                   limit: int = 25) -> MetadataValue:
    return MetadataValue.md(markdown(rows, columns, limit))


def to_dagster(entries: Mapping[str, Any]) -> dict[str, Any]:
    """Report entries (``Table``, ``Json``, ``Text``, numbers) as Dagster metadata values."""
    out: dict[str, Any] = {}
    for key, value in entries.items():
        if isinstance(value, Table):
            out[key] = markdown_table(value.rows, value.columns, value.limit)
        elif isinstance(value, Json):
            out[key] = MetadataValue.json(value.value)
        elif isinstance(value, Text):
            out[key] = MetadataValue.text(value.value)
        elif isinstance(value, bool):
            out[key] = MetadataValue.bool(value)
        elif isinstance(value, float):
            out[key] = MetadataValue.float(value)
        elif isinstance(value, int):
            out[key] = MetadataValue.int(value)
        elif value is None:
            out[key] = MetadataValue.null()
        else:
            out[key] = value
    return out


def llm_entries(stats: Mapping[str, Any]) -> dict[str, Any]:
    """LLM accounting (``PhaseLLM.stats()``) as entries."""
    return {key: entry(value) for key, value in stats.items()}


def llm_metadata(stats: Mapping[str, Any]) -> dict[str, Any]:
    return to_dagster(llm_entries(stats))


def cluster_entries(clusters: ClusterSet, columns: Sequence[str], size_prefix: str = "cluster_size",
                    exactly_once: bool = True) -> dict[str, Any]:
    """A cluster set's shared entries: tracks in scope, unplaced (count, reasons, first ten), sizes,
    the first 20 clusters and (phases 3-4) the exactly-once summary."""
    reasons: dict[str, int] = {}
    for item in clusters.unplaced:
        reasons[str(item.get("reason", ""))] = reasons.get(str(item.get("reason", "")), 0) + 1
    out = {
        "tracks_in_scope": len(clusters.all_track_ids),
        "unplaced": len(clusters.unplaced),
        "unplaced_reasons": Table([{"reason": r, "tracks": n}
                                   for r, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))]),
        "unplaced_preview": Table(clusters.unplaced[:10]),
        **size_stats([c.track_count for c in clusters.clusters], size_prefix),
        "preview": Table([_preview_row(c, columns) for c in clusters.clusters[:20]], columns),
    }
    if exactly_once:
        out["exactly_once"] = Text(exactly_once_summary(clusters))
    return out


def _preview_row(cluster: Cluster, columns: Sequence[str]) -> dict[str, Any]:
    return {c: _COMPUTED[c](cluster) if c in _COMPUTED else getattr(cluster, c) for c in columns}


def exactly_once_summary(cluster_set: ClusterSet) -> str:
    """One line: "ok: ..." or the count of each membership problem."""
    problems = cluster_set.membership_problems()
    if not any(problems.values()):
        return "ok: every in-scope track in exactly one cluster or explained in unplaced"
    return ", ".join(f"{k}: {len(v)}" for k, v in problems.items() if v)


def phase_metadata(mode: BuildMode, progress: PhaseProgress, params: PhaseParams, *, profile: str = "",
                   report: PhaseReport | None = None, llm: PhaseLLM | None = None,
                   **extra: Any) -> dict[str, Any]:
    """A phase asset's metadata: its report's entries, ``extra`` entries, then the shared keys:
    ``params`` (the parameters the run used: the checks read them), ``profile``, ``seconds``,
    ``mode`` and the LLM accounting (``llm_calls``, tokens, cost ...)."""
    entries: dict[str, Any] = {**(report.to_metadata() if report is not None else {}), **extra}
    if llm is not None:
        entries.update(llm_entries(llm.stats()))
    entries.update({"params": Json(asdict(params)), "seconds": progress.elapsed(), "mode": Text(mode.name)})
    if profile:
        entries["profile"] = Text(profile)
    return to_dagster(entries)
