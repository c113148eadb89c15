"""Task ``rename_merged_cluster`` (phase 4, creative tier): a title and description for a cluster that
two or more clusters were merged into, from their titles, descriptions, contexts and 20 sampled tracks.

The offline solver combines what the merged clusters share: the common genre context, the scene
words all scene contexts share (era slices dropped), and the era span they cover, into a shelf label
like ``"Nu-Metal, USA 2000-2010"``.

With ``"with_score": true`` (default profile; :func:`request` then appends ``SCORE_INSTRUCTIONS`` to the
instructions) the payload also carries the merged cluster's track-level ``features`` (as ``score_clusters``
sends them) and the answer a 1-10 ``score`` for the merged playlist, so it needs no scoring call of its
own; an unreadable score counts as 5 (``score_clusters.DEFAULT_SCORE``). Offline, the score is
``score_clusters.offline_score`` of those features.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from typing import Any

from collection_tree.llm.interface import LLMRequest, Tier
from collection_tree.llm.normalise import as_score, as_text
from collection_tree.tasks import score_clusters
from collection_tree.tasks._schema import strict_object
from collection_tree.tasks.base import Answer, Payload, TaskSpec

SYSTEM = """You are a music curator renaming a playlist after two or more playlists were merged \
into one.

The input has:
- clusters: the playlists that were merged (the first is the one kept), each with its title, the \
start of its description, and the genre_context and scene_context it came from (a genre tree leaf \
such as "Nu-Metal" and a scene tree leaf such as "USA Metal 2000-2004": a place, language or \
movement in an era).
- track_count: how many tracks the merged playlist holds.
- sample_tracks: up to 20 of its tracks (title, artist, year and the start of the track's tag \
comment).

Answer with:
1. title: one evocative playlist name of 2 to 6 words that covers ALL the merged playlists, the way \
a good record shop labels a shelf. Name what they share (the style, the place, the movement) and \
the era they span together. Do not glue the old titles together with "and" or "&", do not answer \
"Genre x Scene", avoid generic words such as "Vibes", "Collection", "Mix" or "Playlist".
2. description: 3 to 4 sentences for a listener: what the music sounds like, where and when it \
comes from, which artists anchor it (only artists that appear in the sample), and what ties the \
merged parts together. Plain prose, no lists, no marketing superlatives, no invented facts.

Judge only from the input; use your knowledge of the artists to interpret it, never to add facts \
the sample does not support. Respond with one JSON object matching the schema: \
{"title": "...", "description": "..."}.
"""

# Appended to the instructions when the payload asks ``with_score`` (the seed profile's prompt stays the reference's).
SCORE_INSTRUCTIONS = f"""
The input also has features, measured on the merged playlist's tracks (shares are fractions of its \
tracks): filter_agreement per defining filter, year (and bpm, energy) spread with modes when it holds \
two groups, era, and the most frequent other tags. Also answer score: an integer from 1 to 10 for the \
merged playlist as a playlist {score_clusters.SCORE_SCALE}, judged from the features and the sample. \
The JSON object is then {{"title": "...", "description": "...", "score": 7}}.
"""

SCHEMA: dict[str, Any] = strict_object({"title": {"type": "string"}, "description": {"type": "string"}})
SCORED_SCHEMA: dict[str, Any] = strict_object({
    "title": {"type": "string"}, "description": {"type": "string"},
    "score": score_clusters.SCORE_PROPERTY,
})

TITLE_CHARS = 120
DESCRIPTION_CHARS = 1200


def schema_for(payload: Payload) -> dict[str, Any]:
    """The schema the payload asks for: with ``score`` when ``with_score``."""
    return SCORED_SCHEMA if payload.get("with_score") else SCHEMA


def request(payload: Payload, tier: Tier | None = None) -> LLMRequest:
    """The request for ``payload``: with ``with_score``, the score's instructions and schema too."""
    req = TASK.request(payload, schema=schema_for(payload), tier=tier)
    return replace(req, system=SYSTEM + SCORE_INSTRUCTIONS) if payload.get("with_score") else req


def normalise(answer: Answer, payload: Payload) -> Answer:
    """``name`` for ``title``, values wrapped in dicts, whitespace: repaired. A blank title is not an
    answer (the phase then keeps the first cluster's title). With ``with_score``: the score as an int
    1-10 (nested, a string, out of range: repaired; unreadable or missing: 5)."""
    def text(value: Any, limit: int) -> str:
        if isinstance(value, dict):
            value = value.get("text", value.get("value", value.get("title", "")))
        return as_text(value, limit=limit)

    title = text(answer.get("title", answer.get("name")), TITLE_CHARS)
    if not title:
        raise ValueError("the answer has no title")
    out: Answer = {"title": title, "description": text(answer.get("description"), DESCRIPTION_CHARS)}
    if payload.get("with_score"):
        out["score"] = round(as_score(answer.get("score"), default=score_clusters.DEFAULT_SCORE))
    return out


# ------------------------------------------------------------------------------ offline solver
_SPAN = re.compile(r"\b(\d{4})\s*[-–]\s*(\d{4})\b")
_YEAR = re.compile(r"\(?\b\d{4}s?(?:\s*[-–]\s*\d{2,4}s?)?\b\)?")


def _bare(scene: str) -> str:
    return " ".join(_YEAR.sub(" ", scene).split())


def _shared_words(texts: list[str]) -> str:
    """Words every text holds, in the first text's order."""
    if not texts:
        return ""
    sets = [{w.casefold() for w in t.split()} for t in texts[1:]]
    return " ".join(w for w in texts[0].split() if all(w.casefold() in s for s in sets))


def _label(values: list[str]) -> str:
    unique = list(dict.fromkeys(v for v in values if v))
    if not unique:
        return ""
    if len(unique) == 1:
        return unique[0]
    return _shared_words(unique) or " / ".join(unique[:2]) + (f" +{len(unique) - 2}" if len(unique) > 2 else "")


def solve_offline(payload: Payload) -> Answer:
    clusters = list(payload.get("clusters", []))
    tracks = list(payload.get("sample_tracks", []))
    genre = _label([str(c.get("genre_context") or "").strip() for c in clusters])
    scenes = [str(c.get("scene_context") or "").strip() for c in clusters]
    scene = _label([_bare(s) for s in scenes])
    genre_words = {w.casefold() for w in genre.split()}
    scene = " ".join(w for w in scene.split() if w.casefold() not in genre_words)  # "Pop-Punk, Pop-Punk" -> once
    spans = [(int(a), int(b)) for s in scenes for a, b in _SPAN.findall(s)]
    years = [int(t["year"]) for t in tracks if isinstance(t.get("year"), int)]
    if spans:
        era = f"{min(a for a, _ in spans)}-{max(b for _, b in spans)}"
    elif years:
        era = f"{min(years)}-{max(years)}" if min(years) != max(years) else str(years[0])
    else:
        era = ""
    where = " ".join(x for x in (scene, era) if x)
    title = f"{genre}, {where}" if genre and where else genre or where
    if not title:
        title = str(clusters[0].get("title", "")) if clusters else "Merged playlist"
    artists = [a for a, _ in Counter(str(t.get("artist", "")) for t in tracks if t.get("artist")).most_common(3)]
    parts = "; ".join(f"'{c.get('title', '')}'" for c in clusters)
    sentences = [f"{payload.get('track_count', len(tracks))} tracks of {genre or 'one style'}"
                 f"{f' from {scene}' if scene else ''}, merged from {len(clusters)} playlists: {parts}."]
    if years:
        lead = f", with {', '.join(artists)}" if artists else ""
        sentences.append(f"The sampled tracks date from {min(years)} to {max(years)}{lead}.")
    answer: Answer = {"title": title, "description": " ".join(sentences)}
    if payload.get("with_score"):
        answer["score"] = score_clusters.offline_score({"features": payload.get("features")})
    return answer


def example() -> Payload:
    comment = "Genre: Rock / Metal / Nu-Metal | Scene: USA | Era: {era} ({y})"
    tracks = [(201, "Bodies", "Drowning Pool", 2001, "early 2000s"), (202, "Freak on a Leash", "Korn", 2002,
               "early 2000s"), (203, "Animal I Have Become", "Three Days Grace", 2006, "mid 2000s"),
              (204, "Inside the Fire", "Disturbed", 2008, "late 2000s")]
    return {
        "clusters": [
            {"cluster_id": "rock-nu-metal__usa-metal-2000-2004", "title": "Nu-Metal, USA early 2000s",
             "description": "9 tracks where Nu-Metal meets USA Metal 2000-2004.",
             "genre_context": "Nu-Metal", "scene_context": "USA Metal 2000-2004"},
            {"cluster_id": "rock-nu-metal__usa-metal-2005-2010", "title": "Nu-Metal, USA late 2000s",
             "description": "6 tracks where Nu-Metal meets USA Metal 2005-2010.",
             "genre_context": "Nu-Metal", "scene_context": "USA Metal 2005-2010"},
        ],
        "track_count": 15,
        "sample_tracks": [{"track_id": t, "title": title, "artist": artist, "year": y,
                           "comment": comment.format(era=era, y=y)} for t, title, artist, y, era in tracks],
    }


TASK = TaskSpec(name="rename_merged_cluster", tier="creative", system=SYSTEM, schema=SCHEMA, normalise=normalise,
                solve_offline=solve_offline, max_tokens=2048, example=example)
