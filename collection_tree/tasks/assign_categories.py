"""Task ``assign_categories`` (phase 5, mechanical tier): put each cluster of a batch into one of the
consolidated categories (Clio's "assign" step).

Payload::

    {"categories": [{"name", "description", "contexts": [genre lineages], "examples": [titles]}],
     "clusters": [{"id", "title", "description", "track_count", "genre_context", "scene_context"}]}

Answer: ``{"assignments": [{"category", "cluster_ids"}]}``: each category used once, with the ids
of the batch's clusters shelved there (a list per category rather than a record per cluster: the
category name is written once, so the answer is a fraction of the tokens). Each request carries its
own schema (:func:`assignment_schema`): the batch's cluster ids and the category names as ``enum``
values, so a structured-output model cannot invent either. ``normalise`` also drops invented names
and ids (an answer from a provider that ignores the enum); the phase sends a cluster left without a
category to its most similar category by vector.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from collection_tree.core.vectors import Vectoriser, summary_features
from collection_tree.llm.interface import LLMRequest
from collection_tree.llm.normalise import as_choice, as_records, as_str_id, as_str_ids
from collection_tree.tasks._schema import record_list
from collection_tree.tasks.base import Answer, Payload, TaskSpec
from collection_tree.tasks.consolidate_categories import candidate_features
from collection_tree.tasks.describe_category import example as describe_example

SYSTEM = """\
You are a record-store clerk shelving playlists. The store's top-level sections are fixed; you put
each playlist into the ONE section where a browsing listener would look for it.

You receive a JSON object with
- "categories": the sections, each with "name", "description", "contexts" (genre lineages typical of
  the section) and "examples" (playlists that belong there);
- "clusters": the playlists to shelve, each with "id", "title", "description" (shortened),
  "track_count", "genre_context" and "scene_context" (genre and scene lineage paths, broad to
  specific).

Put EVERY playlist into the best section, chosen by the music (lineage, sound, scene, place), not by
the order of the lists. For each section you use, return {"category": its name exactly as written in
"categories", "cluster_ids": the ids of the playlists you shelve there, exactly as given}. Each
section at most once, each playlist in exactly one section; never invent a section, never skip a
playlist.

Respond with one JSON object matching the schema: {"assignments": [{"category", "cluster_ids"}]}."""


def assignment_schema(cluster_ids: Sequence[str] | None = None, names: Sequence[str] | None = None) -> dict[str, Any]:
    """The answer schema; with ids and names, both fields are ``enum``-restricted for this request."""
    cluster_field: dict[str, Any] = {"type": "string"}
    category_field: dict[str, Any] = {"type": "string"}
    if cluster_ids is not None:
        cluster_field["enum"] = list(cluster_ids)
    if names is not None:
        category_field["enum"] = list(names)
    return record_list("assignments", {"category": category_field,
                                       "cluster_ids": {"type": "array", "items": cluster_field}})


def request_for(payload: Payload) -> LLMRequest:
    """The request for one batch, its schema restricted to the batch's ids and the category names."""
    return TASK.request(payload, schema=assignment_schema([str(c["id"]) for c in payload["clusters"]],
                                                          [str(c["name"]) for c in payload["categories"]]))


def solve_offline(payload: Payload) -> Answer:
    """Each cluster to the category whose text and lineages it resembles most (cosine over one
    TF-IDF space fitted on the payload; ties: the earlier category)."""
    categories = list(payload.get("categories") or [])
    clusters = list(payload.get("clusters") or [])
    if not categories or not clusters:
        return {"assignments": []}
    cat_docs = [candidate_features(c) for c in categories]
    cluster_docs = [summary_features(c) for c in clusters]
    vectoriser = Vectoriser.fit(cat_docs + cluster_docs, min_df=1)
    sims = vectoriser.transform(cluster_docs) @ vectoriser.transform(cat_docs).T
    best = sims.argmax(axis=1)
    return {"assignments": [
        {"category": str(cat["name"]), "cluster_ids": [str(c["id"]) for c, b in zip(clusters, best, strict=True)
                                                       if int(b) == j]}
        for j, cat in enumerate(categories) if int((best == j).sum())]}


def normalise(answer: Answer, payload: Payload) -> Answer:
    """Assignments as one list of ids per category: ``{"category name": [ids]}`` and records of one
    cluster each (``{"cluster_id", "category"}``, or ``{"cluster id": "category"}``) accepted; a
    category written with other case or spacing mapped to the offered name; names and ids the payload
    did not offer dropped; a category named twice merged; a cluster in two categories kept in the
    first."""
    offered_ids = [str(c["id"]) for c in payload.get("clusters") or []]
    names = [str(c["name"]) for c in payload.get("categories") or []]
    by_name: dict[str, list[str]] = {}
    taken: set[str] = set()
    for item in as_records(answer.get("assignments"), "category", "cluster_ids"):
        name = as_choice(item.get("category", item.get("name")), names)
        ids = item.get("cluster_ids", item.get("cluster_id", item.get("id")))
        if name is None and as_str_id(item.get("category"), offered_ids) is not None:  # {"cluster id": "name"}
            name, ids = as_choice(ids, names), item.get("category")
        if name is None:
            continue
        by_name.setdefault(name, []).extend(as_str_ids(ids, offered_ids, taken))
    return {"assignments": [{"category": name, "cluster_ids": ids} for name, ids in by_name.items() if ids]}


def example() -> Payload:
    return {
        "categories": [
            {"name": "Metal & Metalcore", "description": "Heavy guitars from nu-metal to metalcore.",
             "contexts": ["Rock > Metal", "Rock > Melodic Metalcore"], "examples": ["Nu-Metal Radio"]},
            {"name": "Pop-Punk & Emo", "description": "Fast, bright guitars and confessional choruses.",
             "contexts": ["Rock > Pop-Punk", "Rock > Emo"], "examples": ["Pop-Punk Summers"]},
        ],
        "clusters": describe_example()["clusters"],
    }


TASK = TaskSpec(name="assign_categories", tier="mechanical", system=SYSTEM, schema=assignment_schema(),
                normalise=normalise, solve_offline=solve_offline, max_tokens=4096, example=example)
