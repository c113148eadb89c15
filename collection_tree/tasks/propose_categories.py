"""Task ``propose_categories`` (phase 5, creative tier): candidate top-level categories for one
neighbourhood of similar clusters (Clio's "propose higher-level names" step).

Payload::

    {"wanted": 3, "total_categories": [8, 12],
     "clusters": [{"id", "title", "description", "track_count", "genre_context", "scene_context"}],
     "contrast": [same shape: the nearest clusters of other neighbourhoods]}

Answer: ``{"categories": [{"name", "description", "cluster_ids"}]}``; ``cluster_ids`` are the
neighbourhood clusters the candidate would hold (never contrast ids). The offline solver groups the
neighbourhood by genre branch, merges the groups by similarity down to ``wanted`` and names them with
the shared deterministic namer.
"""

from __future__ import annotations

from typing import Any

from collection_tree.core.vectors import context_parts
from collection_tree.llm.normalise import as_records, as_str_ids, as_text
from collection_tree.tasks._schema import category_list
from collection_tree.tasks.base import Answer, Payload, TaskSpec
from collection_tree.tasks.describe_category import describe_partition
from collection_tree.tasks.describe_category import example as describe_example

NAME_CHARS = 60
DESCRIPTION_CHARS = 500

SYSTEM = """\
You are the head buyer of a world-class record store, deciding the top-level sections of a personal
music collection. The collection's playlists were grouped into neighbourhoods of similar playlists;
you see ONE neighbourhood and propose candidate sections for it. Candidates from all neighbourhoods
are later merged into the final 8 to 12 sections of the whole store.

You receive a JSON object with
- "clusters": the neighbourhood's playlists, each with "id", "title", "description" (shortened),
  "track_count", "genre_context" and "scene_context" (genre and scene lineage paths, broad to
  specific, e.g. "Rock > Metal > Nu-Metal" and "USA > USA 2000-2004");
- "contrast": a few similar playlists from OTHER neighbourhoods: your candidates should tell this
  neighbourhood apart from them (they are context only; never list their ids);
- "wanted": how many candidates to propose (a little more or fewer is fine when the playlists ask
  for it); "total_categories": the size range of the final store layout.

Propose sections the way a great record store shelves music: by lineage, sound, scene or place, as
a browsing listener would look for them ("Guitar Rock & Alternative", "Hip-Hop & Rap", "Country
Roads", "Nordic Metal"). Each candidate is a TOP-LEVEL section: broad enough to hold several
playlists, never a single playlist's name; no "Miscellaneous", "Other", "Various" or "All".

For each candidate return:
- "name": 2 to 5 words;
- "description": 2 sentences: what belongs in the section and what does not;
- "cluster_ids": the ids from "clusters" that it would hold. Every playlist of "clusters" should fit
  at least one candidate.

Respond with one JSON object matching the schema: {"categories": [{"name", "description",
"cluster_ids"}]}."""

SCHEMA: dict[str, Any] = category_list("cluster_ids", name={"type": "string", "minLength": 1, "maxLength": NAME_CHARS})


def solve_offline(payload: Payload) -> Answer:
    clusters = list(payload.get("clusters") or [])
    if not clusters:
        return {"categories": []}
    wanted = max(1, min(int(payload.get("wanted") or 3), len(clusters)))
    # Genre branch ("Rock > Metal"): finer than the root, so merging by similarity shapes the candidates.
    keys = [" > ".join(context_parts(c.get("genre_context"))[:2]) for c in clusters]
    return {"categories": [
        {"name": named["title"], "description": named["description"], "cluster_ids": [str(m["id"]) for m in members]}
        for members, named in describe_partition(clusters, keys, lo=wanted, hi=wanted)]}


def normalise(answer: Answer, payload: Payload) -> Answer:
    """Candidates as a list (a dict keyed by name is accepted); names cleaned and deduplicated
    (case-insensitive, first kept); ``cluster_ids`` kept only when the neighbourhood offered them
    (contrast ids and invented ids are dropped)."""
    offered = [str(c["id"]) for c in payload.get("clusters") or []]
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in as_records(answer.get("categories"), "name", "description"):
        name = as_text(item.get("name") or item.get("title"), limit=NAME_CHARS).strip(" \"'“”")
        if not name or name.casefold() in seen:
            continue
        seen.add(name.casefold())
        out.append({"name": name, "description": as_text(item.get("description"), limit=DESCRIPTION_CHARS),
                    "cluster_ids": as_str_ids(item.get("cluster_ids") or [], offered)})
    return {"categories": out}


def example() -> Payload:
    clusters = describe_example()["clusters"]
    contrast = [{"id": "rock-pop-punk__pop-punk-2005-2010", "title": "Pop-Punk Summers",
                 "description": "Fast, bright pop-punk.", "track_count": 128, "genre_context": "Rock > Pop-Punk",
                 "scene_context": "Scenes & movements > Rock, punk & metal movements > Pop-Punk > Pop-Punk 2005-2010"}]
    return {"wanted": 2, "total_categories": [8, 12], "clusters": clusters, "contrast": contrast}


TASK = TaskSpec(name="propose_categories", tier="creative", system=SYSTEM, schema=SCHEMA, normalise=normalise,
                solve_offline=solve_offline, max_tokens=4096, example=example)
