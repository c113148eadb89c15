"""Task ``group_clusters`` (phase 5, seed profile, creative tier): the reference's single call that
groups every cluster into 8-12 categories at once.

Payload::

    {"min_categories": 8, "max_categories": 12,
     "clusters": [{"id", "title", "description" (150 chars), "track_count", "genre_context",
                   "scene_context"}]}

Answer: ``{"categories": [{"id", "title", "description", "cluster_ids"}]}``. Kept to reproduce the
reference for benchmarks; the default profile's hierarchy (propose / consolidate / assign /
describe) is the one that must never collapse. The offline solver groups by genre lineage root and
splits / merges by similarity, as the default profile's deterministic fallback does.
"""

from __future__ import annotations

from typing import Any

from collection_tree.core.vectors import context_parts
from collection_tree.llm.normalise import as_records, as_str_ids, as_text, kebab_case
from collection_tree.tasks._schema import category_list
from collection_tree.tasks.base import Answer, Payload, TaskSpec
from collection_tree.tasks.describe_category import describe_partition
from collection_tree.tasks.describe_category import example as describe_example

TITLE_CHARS = 80
DESCRIPTION_CHARS = 700

SYSTEM = """\
You are the head buyer of a world-class record store. A personal music collection has been sorted
into playlists ("clusters"); you organise them into the store's top-level categories, grouping them
the way a world-class record store would shelve them: by lineage, sound, scene and place.

You receive a JSON object with "clusters" (each with "id", "title", "description", "track_count",
"genre_context" and "scene_context") and "min_categories" / "max_categories".

Return between min_categories and max_categories categories. Each has
- "id": kebab-case, unique (e.g. "guitar-rock-alternative");
- "title": the section's sign (2 to 5 words);
- "description": 2 to 3 sentences on what it holds;
- "cluster_ids": the ids of its clusters, exactly as given.
Every cluster must be in exactly one category.

Respond with one JSON object matching the schema: {"categories": [{"id", "title", "description",
"cluster_ids"}]}."""

SCHEMA: dict[str, Any] = category_list("cluster_ids", id={"type": "string", "minLength": 1},
                                       title={"type": "string", "minLength": 1})


def solve_offline(payload: Payload) -> Answer:
    clusters = list(payload.get("clusters") or [])
    if not clusters:
        return {"categories": []}
    lo, hi = int(payload.get("min_categories") or 8), int(payload.get("max_categories") or 12)
    lo, hi = min(lo, len(clusters)), min(hi, len(clusters))
    roots = [(context_parts(c.get("genre_context")) or [""])[0] for c in clusters]
    return {"categories": [
        {"id": kebab_case(named["title"], "category"), "title": named["title"], "description": named["description"],
         "cluster_ids": [str(m["id"]) for m in members]}
        for members, named in describe_partition(clusters, roots, lo, hi, target=(lo + hi) // 2)]}


def normalise(answer: Answer, payload: Payload) -> Answer:
    """Categories as a list; ids made kebab-case (from the title when missing); cluster ids kept only
    when offered and only in the first category naming them. Which clusters are left out is the
    phase's business (the reference adds them to the largest category)."""
    offered = [str(c["id"]) for c in payload.get("clusters") or []]
    used: set[str] = set()
    out = []
    for n, item in enumerate(as_records(answer.get("categories"), "id"), start=1):
        title = as_text(item.get("title") or item.get("name"), limit=TITLE_CHARS) or f"Category {n}"
        ids = as_str_ids(item.get("cluster_ids") or [], offered, taken=used)
        out.append({"id": kebab_case(as_text(item.get("id")) or title, f"category-{n}"), "title": title,
                    "description": as_text(item.get("description"), limit=DESCRIPTION_CHARS), "cluster_ids": ids})
    return {"categories": out}


def example() -> Payload:
    return {"min_categories": 2, "max_categories": 3, "clusters": describe_example()["clusters"]}


TASK = TaskSpec(name="group_clusters", tier="creative", system=SYSTEM, schema=SCHEMA, normalise=normalise,
                solve_offline=solve_offline, max_tokens=8192, example=example)
