"""What ``build`` prints when it finishes: where the outputs are and the key figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from collection_tree.operations import UPDATE_JOB
from collection_tree.phases.assembly import describe_build
from collection_tree.settings import Places


def print_summary(result: Any, *, places: Places, test: bool, seconds: float) -> None:
    what = "test run" if test else "update" if result.dagster_run.job_name == UPDATE_JOB else "build"
    print(f"collection-tree {what} finished in {seconds:.1f}s (run {result.run_id})")
    for line in build_summary_lines(result):
        print(line)
    base = places.for_test_run(test).output
    print(f"outputs: {base}")
    for name in ("curated_collection.json", "collection.html", "playlists", "rekordbox.xml", "collection.nml",
                 "Subcrates", "metadata_suggestions.csv"):
        if (base / name).exists():
            print(f"  {base / name}")


def build_summary_lines(result: Any) -> list[str]:
    """The finished tree as a person wants it: how it was made ("offline heuristics" or the models),
    calls per phase, the curation figures, categories with leaf and track counts, tracks assigned/total
    and the tree file (read back from the written file)."""
    calls: dict[str, int] = {}
    hits = 0
    cost = 0.0
    tree_file: str | None = None
    curation = ""
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        name = mat.asset_key.path[-1]
        if "llm_calls" in mat.metadata:
            calls[name] = int(mat.metadata["llm_calls"].value)
            hits += int(mat.metadata["llm_cache_hits"].value) if "llm_cache_hits" in mat.metadata else 0
            cost += float(mat.metadata["cost_usd"].value) if "cost_usd" in mat.metadata else 0.0
        if name == "collection_tree" and "tree_file" in mat.metadata:
            tree_file = str(mat.metadata["tree_file"].value)
            curation = str(mat.metadata["curation_summary"].value) if "curation_summary" in mat.metadata else ""
    doc = _read_tree(Path(tree_file)) if tree_file is not None else None
    build = doc.get("build") if isinstance(doc, dict) else None
    lines: list[str] = []
    if calls or build:
        per_phase = ", ".join(f"{k} {v}" for k, v in calls.items())
        made_by = describe_build(build)
        if made_by == "offline heuristics":
            lines.append(f"made by: offline heuristics, no model called ({sum(calls.values())} answers: {per_phase})")
        else:
            answers = "answer" if hits == 1 else "answers"
            lines.append(f"made by: {made_by}; {sum(calls.values())} API calls ({per_phase}), {hits} {answers} from "
                         f"the cache, ${cost:.2f} at list prices")
    if curation:
        lines.append(f"curation: {curation}")
    if tree_file is None:
        return lines
    return lines + tree_summary_lines(Path(tree_file), doc)


def _read_tree(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def tree_summary_lines(path: Path, doc: Any = None) -> list[str]:
    """The tree's categories and counts; ``doc``: the tree already read from ``path`` (a 1M-track
    tree takes seconds to parse), else it is read here."""
    if not isinstance(doc, dict):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return [f"collection tree: could not read {path} ({exc})"]
    width = max((len(c["title"]) for c in doc["categories"]), default=10)
    lines = [f"collection tree: {len(doc['categories'])} categories, "
             f"{sum(len(c['leaves']) for c in doc['categories'])} leaves"]
    for c in doc["categories"]:
        leaves = len(c["leaves"])
        lines.append(f"  {c['title']:<{width}}  {leaves:4d} {'leaf  ' if leaves == 1 else 'leaves'}  "
                     f"{c['track_count']:6d} tracks")
    share = doc["assigned_tracks"] / doc["total_tracks"] * 100 if doc["total_tracks"] else 0.0
    lines.append(f"tracks assigned: {doc['assigned_tracks']}/{doc['total_tracks']} ({share:.1f}%), "
                 f"ungrouped {len(doc['ungrouped_track_ids'])}")
    lines.append(f"tree: {path}")
    return lines
