"""Phase 6 task: a rich description and seven exemplar tracks for each leaf playlist.

Payload (built by ``collection_tree.phases.leaves``)::

    {"examples_per_leaf": 7,
     "clusters": [{"cluster_id", "title", "description", "genre_context", "scene_context",
                   "genre_lineage", "scene_lineage", "track_count",
                   "profile": {"genre": [[value, share, depth]], "scene_tags": [[value, share]],
                               "descriptors": [[value, share]], "era": [[value, share]],
                               "years": [first, last], "artists": [[name, tracks]]},
                   "candidates": [{"track_id", "title", "artist", "year", "score"}]}]}

``candidates`` are the leaf's own tracks ranked by their similarity to the leaf's centroid (the track
similarity model; best first); exemplars may only come from them.
"""

from __future__ import annotations

from typing import Any

from collection_tree.llm.normalise import as_int_ids, as_str_id, as_text
from collection_tree.tasks._schema import record_list
from collection_tree.tasks.base import Answer, Payload, TaskSpec

EXAMPLES = 7
TITLE_CHARS = 120
DESCRIPTION_CHARS = 2000

SYSTEM = """\
You are the head curator of a large, eclectic record store writing the shelf cards for its playlist
wall. Each playlist ("leaf") was found by intersecting a genre lineage with a cultural scene, then
cleaned up by earlier passes; you now give every leaf its final title, a rich description and seven
exemplar tracks.

You receive a JSON object with "clusters": one entry per leaf, each with
- "cluster_id": the leaf's id; copy it exactly into your answer;
- "title" and "description": the working name and blurb from earlier passes (improve them freely);
- "genre_context" / "scene_context": the genre leaf and scene leaf the playlist came from, with
  their full "genre_lineage" / "scene_lineage" paths;
- "track_count": how many tracks the leaf holds;
- "profile": facet shares across all of the leaf's tracks: "genre" entries are [value, share of
  tracks, mean depth in the broad-to-specific genre list], "scene_tags", "descriptors" and "era"
  entries are [value, share]; "years" is [first, last] release year; "artists" are the most
  frequent artists with their track counts;
- "candidates": up to 30 of the leaf's tracks, best match to the leaf's identity first, each with
  "track_id", "title", "artist", "year" and a match "score" in [0, 1].

For every leaf, return:
- "cluster_id": exactly as given;
- "title": a short, evocative playlist name (2-6 words) a music lover would click; specific to this
  leaf's sound and scene, not a bare genre label; no quotes, no emoji, no track counts;
- "description": 4 to 6 sentences of flowing prose: what the music sounds like (instrumentation,
  production, tempo, mood), where and when it comes from (scene, place, years), what ties the tracks
  together, and who or what defines it (name a few of the artists that are actually in the leaf).
  Ground every claim in the profile and candidates; never invent artists, places or years that the
  data does not support;
- "examples": exactly 7 track ids (fewer only if fewer candidates exist), chosen ONLY from this
  leaf's "candidates" "track_id" values: the tracks that best introduce the playlist. Prefer high
  scores, cover the leaf's range (early and late years, its main facets) and use 7 different artists
  whenever the candidates allow. Never use a track id that is not among this leaf's candidates, and
  never repeat one.

Answer for every leaf you were given, once each, in the same order. Return only the JSON object
described by the schema: {"leaves": [{"cluster_id", "title", "description", "examples"}]}."""

SCHEMA: dict[str, Any] = record_list("leaves", {
    "cluster_id": {"type": "string"},
    "title": {"type": "string"},
    "description": {"type": "string"},
    "examples": {"type": "array", "items": {"type": "integer"}},
})


# ------------------------------------------------------------------------------------ normalise
def normalise(answer: Answer, payload: Payload) -> Answer:
    """Keep one entry per offered leaf; exemplars must be that leaf's candidates (others dropped,
    the phase refills from its shortlist); blank titles/descriptions fall back to the payload's."""
    offered = {c["cluster_id"]: c for c in payload["clusters"]}
    limit = int(payload.get("examples_per_leaf", EXAMPLES))
    items = answer.get("leaves", answer.get("clusters", []))
    if isinstance(items, dict):  # {"<cluster_id>": {...}}: unwrap keyed answers
        items = [{"cluster_id": k, **v} for k, v in items.items() if isinstance(v, dict)]
    if not isinstance(items, list):
        raise ValueError("'leaves' is not a list")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        cluster_id = as_str_id(item.get("cluster_id", item.get("id")), offered)
        if cluster_id is None or cluster_id in seen:
            continue
        seen.add(cluster_id)
        cluster = offered[cluster_id]
        allowed = [int(c["track_id"]) for c in cluster["candidates"]]
        raw_examples = item.get("examples", item.get("exemplars", item.get("example_track_ids")))
        out.append({
            "cluster_id": cluster_id,
            "title": as_text(item.get("title"), limit=TITLE_CHARS) or as_text(cluster.get("title")),
            "description": as_text(item.get("description"), limit=DESCRIPTION_CHARS)
            or as_text(cluster.get("description")),
            "examples": as_int_ids(raw_examples, allowed)[:limit],
        })
    return {"leaves": out}


# -------------------------------------------------------------------------------------- offline
def pick_exemplars(candidates: list[dict[str, Any]], n: int = EXAMPLES) -> list[int]:
    """Centrality with diversity: each pick is the best-scoring remaining candidate by an artist not
    yet picked (any artist once all are used), ties broken in favour of a year not yet picked, then
    the lower track id. Deterministic."""
    remaining = list(candidates)
    picked: list[int] = []
    artists: set[str] = set()
    years: set[Any] = set()
    while remaining and len(picked) < n:
        best = min(remaining, key=lambda c: (
            str(c.get("artist", "")).strip().casefold() in artists,
            -round(float(c.get("score", 0.0)), 3),
            c.get("year") in years,
            int(c["track_id"]),
        ))
        remaining.remove(best)
        picked.append(int(best["track_id"]))
        artists.add(str(best.get("artist", "")).strip().casefold())
        years.add(best.get("year"))
    return picked


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _pct(share: float) -> str:
    return f"{round(float(share) * 100)}%"


def offline_title(cluster: dict[str, Any]) -> str:
    title = as_text(cluster.get("title"))
    if title:
        return title
    genre, scene = cluster.get("genre_context", ""), cluster.get("scene_context", "")
    return f"{genre} × {scene}" if genre and scene else (genre or scene or cluster["cluster_id"])


def offline_description(cluster: dict[str, Any], examples: list[int] | None = None) -> str:
    """4-6 sentences from the leaf's facet majorities, years and artists."""
    profile = cluster.get("profile", {})
    genre, scene = cluster.get("genre_context", ""), cluster.get("scene_context", "")
    count = int(cluster.get("track_count", 0))
    sentences = [f"A leaf of {count} track{'s' if count != 1 else ''} where {genre or 'its genre'} meets "
                 f"{scene or 'its scene'}."]
    genres = [g for g in profile.get("genre", []) if g[1] >= 0.25]
    below_root = [g for g in genres if g[2] > 1.0] or genres  # "Rock" on every track says little
    specific = sorted(below_root, key=lambda g: (-g[1], -g[2]))[:3]
    if specific:
        lead = specific[0]
        rest = [g[0] for g in specific[1:]]
        tail = f", alongside {_join(rest)}" if rest else ""
        sentences.append(f"The core sound is {lead[0]} ({_pct(lead[1])} of the tracks){tail}.")
    tags = [t for t in profile.get("scene_tags", []) if t[1] >= 0.25][:3]
    if tags:
        if len(tags) == 1:
            sentences.append(f"Its scene tag: {tags[0][0]} (on {_pct(tags[0][1])} of the tracks).")
        else:
            sentences.append(f"Its scene tags: {_join([t[0] for t in tags])} ({tags[0][0]} on "
                             f"{_pct(tags[0][1])} of the tracks).")
    descriptors = [d[0] for d in profile.get("descriptors", []) if d[1] >= 0.2][:3]
    if descriptors:
        sentences.append(f"Recurring descriptors: {_join(descriptors)}.")
    years = profile.get("years") or []
    eras = profile.get("era", [])
    if len(years) == 2:
        span = f"from {years[0]}" if years[0] == years[1] else f"from {years[0]} to {years[1]}"
        era = f", most of it {eras[0][0]}" if eras and eras[0][1] >= 0.5 else ""
        sentences.append(f"The releases date {span}{era}.")
    artists = [a[0] for a in profile.get("artists", [])][:3]
    if artists:
        line = f"Key artists include {_join(artists)}"
        sentences.append(line if line.endswith(".") else line + ".")  # "P.O.D." needs no second stop
    if examples and len(sentences) < 6:
        first = next((c for c in cluster.get("candidates", []) if int(c["track_id"]) == examples[0]), None)
        if first is not None and first.get("title") and first.get("artist"):
            year = f" ({first['year']})" if first.get("year") else ""
            sentences.append(f"Start with \u201c{first['title']}\u201d by {first['artist']}{year}.")
    while len(sentences) < 4:  # sparse facets: still a readable card
        sentences.append(["It is a small, focused corner of the collection.",
                          "The tracks share their lineage more than a single sound.",
                          "Expect variety within a common thread."][len(sentences) - 1])
    return " ".join(sentences[:6])


def solve_offline(payload: Payload) -> Answer:
    limit = int(payload.get("examples_per_leaf", EXAMPLES))
    leaves = []
    for cluster in payload["clusters"]:
        examples = pick_exemplars(cluster["candidates"], limit)
        leaves.append({"cluster_id": cluster["cluster_id"], "title": offline_title(cluster),
                       "description": offline_description(cluster, examples), "examples": examples})
    return {"leaves": leaves}


def example() -> Payload:
    return {
        "examples_per_leaf": 7,
        "clusters": [{
            "cluster_id": "rock-nu-metal__usa-metal-2000-2004",
            "title": "Drop-D Suburbia",
            "description": "Nu-metal from the American mainstream of the early 2000s.",
            "genre_context": "Nu-Metal", "scene_context": "USA Metal 2000-2004",
            "genre_lineage": "Rock > Metal > Nu-Metal", "scene_lineage": "USA > USA 2000-2004 > USA Metal 2000-2004",
            "track_count": 9,
            "profile": {"genre": [["Rock", 1.0, 1.0], ["Metal", 1.0, 2.0], ["Nu-Metal", 0.89, 3.0]],
                        "scene_tags": [["Nu-Metal", 0.67]], "descriptors": [], "era": [["early 2000s", 1.0]],
                        "years": [2000, 2004], "artists": [["Linkin Park", 2], ["Static-X", 2], ["P.O.D.", 1]]},
            "candidates": [
                {"track_id": 11, "title": "Papercut", "artist": "Linkin Park", "year": 2000, "score": 1.0},
                {"track_id": 12, "title": "Push It", "artist": "Static-X", "year": 2000, "score": 1.0},
                {"track_id": 13, "title": "Youth of the Nation", "artist": "P.O.D.", "year": 2001, "score": 1.0},
                {"track_id": 14, "title": "Bodies", "artist": "Drowning Pool", "year": 2001, "score": 0.92},
                {"track_id": 15, "title": "Faint", "artist": "Linkin Park", "year": 2003, "score": 0.92},
                {"track_id": 16, "title": "The Only", "artist": "Static-X", "year": 2003, "score": 0.83},
                {"track_id": 17, "title": "Blurry", "artist": "Puddle of Mudd", "year": 2001, "score": 0.75},
                {"track_id": 18, "title": "Bring Me to Life", "artist": "Evanescence", "year": 2003, "score": 0.75},
                {"track_id": 19, "title": "Click Click Boom", "artist": "Saliva", "year": 2001, "score": 0.5},
            ],
        }],
    }


DESCRIBE_LEAVES = TaskSpec(
    name="describe_leaves", tier="creative", system=SYSTEM, schema=SCHEMA, normalise=normalise,
    solve_offline=solve_offline, max_tokens=8192, example=example,
)
