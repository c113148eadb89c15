"""Task ``describe_categories`` (phase 5, creative tier): rename and describe several top-level
categories in one call, each from the clusters it actually received (``describe_category``'s work,
a list in and a list out, so the whole store is described in one wave of calls).

Payload::

    {"titles": ["every category's working name, this request's included"],
     "categories": [{"id": "k3", "title", "description", "cluster_count", "track_count", "suggested_title",
                     "tags": {...}, "clusters": [...]}]}

Each item is ``describe_category``'s payload with an ``id`` and without ``other_titles`` (the other
titles of an item are ``titles`` less its own working name, once). Answer: ``{"categories": [{"id",
"title", "description"}]}``; each request's schema names its ids as an ``enum``. ``normalise`` drops
ids the request did not offer, repeats, empty titles and titles equal to another category's working
name (the phase then writes that one deterministically). The offline solver is
``describe_category.solve_offline`` per item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from collection_tree.llm.interface import LLMRequest
from collection_tree.llm.normalise import as_records, as_str_id
from collection_tree.tasks import describe_category
from collection_tree.tasks._schema import record_list
from collection_tree.tasks.base import Answer, Payload, TaskSpec

SYSTEM = """\
You are the head buyer of a world-class record store. The store's music collection has been sorted
into a handful of top-level sections (8 to 12), each holding many playlists. You now write the sign
and the card for SOME of the sections, each from the playlists it actually holds.

You receive a JSON object with
- "titles": the working names of ALL the store's sections (from an earlier pass);
- "categories": the sections to describe, each with
  - "id": its id (answer with it exactly);
  - "title" / "description": its working name and blurb (the playlists may have moved since, so
    trust the playlists over them);
  - "cluster_count" / "track_count": how many playlists and tracks it holds;
  - "clusters": its largest playlists, each with "id", "title", "description" (shortened),
    "track_count", "genre_context" and "scene_context" (genre and scene lineage paths, broad to
    specific, e.g. "Rock > Metal > Nu-Metal" and "USA > USA 2000-2004");
  - "tags": what its tracks carry: per facet ("genre", "scene_tags", "descriptors", "country") the
    commonest values with the share of tracks carrying them, the release "years" and the most
    frequent "artists";
  - "suggested_title": a sign built from the tags most of its tracks share (a good default).

For EVERY section return:
- "id": its id, exactly as given;
- "title": the section's sign, 1 to 5 words, the way a great record store labels a section: broad
  enough for every playlist in it (most of its tracks should carry a word of it in their tags),
  specific enough to tell it apart from the other sections (never the same as another section's
  name in "titles", nor as another sign you write); never a bare year range or a bare country. No
  "Miscellaneous", "Other", "Various", "Collection", "Mix" or "Vibes"; no quotes, no emoji, no counts.
- "description": 2 to 3 sentences for a browsing listener: what the section holds (sounds, scenes,
  places, years) and what ties it together, naming a few of its playlists or styles. Ground every
  claim in that section's input; never invent artists, places or years.

Respond with one JSON object matching the schema: {"categories": [{"id", "title", "description"}]}."""


def answer_schema(ids: Sequence[str] | None = None) -> dict[str, Any]:
    """The answer schema; with ``ids``, the ``id`` field is ``enum``-restricted for this request."""
    id_field: dict[str, Any] = {"type": "string"} if ids is None else {"type": "string", "enum": list(ids)}
    return record_list("categories", {
        "id": id_field,
        "title": {"type": "string", "minLength": 1, "maxLength": describe_category.TITLE_CHARS},
        "description": {"type": "string", "minLength": 1},
    })


def request_for(payload: Payload) -> LLMRequest:
    """The request for one batch of categories, its schema restricted to the batch's ids."""
    return TASK.request(payload, schema=answer_schema([str(c["id"]) for c in payload["categories"]]))


def other_titles(payload: Payload, item: Payload) -> list[str]:
    """The working names of every category but ``item`` (its own name removed once: two categories
    may share a working name after a split)."""
    titles = [str(t) for t in payload.get("titles") or []]
    own = str(item.get("title") or "")
    if own in titles:
        titles.remove(own)
    return titles


def solve_offline(payload: Payload) -> Answer:
    """``describe_category.solve_offline`` for each category, with its other titles."""
    out = []
    for item in payload.get("categories") or []:
        single = {k: v for k, v in item.items() if k != "id"}
        named = describe_category.solve_offline({**single, "other_titles": other_titles(payload, item)})
        out.append({"id": str(item["id"]), "title": named["title"], "description": named["description"]})
    return {"categories": out}


def normalise(answer: Answer, payload: Payload) -> Answer:
    """Each item through ``describe_category.normalise`` against its own other titles; items naming an
    id the request did not offer, repeats (first kept) and items left without a title dropped."""
    items = {str(c["id"]): c for c in payload.get("categories") or []}
    out: list[dict[str, str]] = []
    for record in as_records(answer.get("categories"), "id", "title"):
        cid = as_str_id(record.get("id", record.get("category_id")), list(items))
        if cid is None or any(o["id"] == cid for o in out):
            continue
        one = describe_category.normalise(record, {"other_titles": other_titles(payload, items[cid])})
        if one["title"]:
            out.append({"id": cid, "title": one["title"], "description": one["description"]})
    return {"categories": out}


def example() -> Payload:
    single = describe_category.example()
    metal = {"id": "k0", **{k: v for k, v in single.items() if k != "other_titles"}}
    punk = {"id": "k1", "title": "Pop-Punk & Emo", "description": "Fast, bright guitars and confessional choruses.",
            "cluster_count": 1, "track_count": 128, "suggested_title": "Pop-Punk",
            "tags": {"genre": [["Pop-Punk", 0.94], ["Emo", 0.31]], "scene_tags": [],
                     "descriptors": [["energetic", 0.4]], "country": [["US", 0.8]], "years": [2005, 2010],
                     "artists": ["Paramore"]},
            "clusters": [{"id": "c4", "title": "Pop-Punk Summers", "description": "Fast, bright pop-punk.",
                          "track_count": 128, "genre_context": "Rock > Pop-Punk",
                          "scene_context": "Scenes & movements > Rock, punk & metal movements > Pop-Punk"}]}
    return {"titles": [metal["title"], punk["title"], *single["other_titles"][1:]], "categories": [metal, punk]}


TASK = TaskSpec(name="describe_categories", tier="creative", system=SYSTEM, schema=answer_schema(),
                normalise=normalise, solve_offline=solve_offline, max_tokens=4096, example=example)
