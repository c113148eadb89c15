"""Phase 7 task: per-track metadata suggestions (stored for review, never applied).

Payload (built by ``collection_tree.phases.enrichment``)::

    {"min_confidence": 0.7,
     "clusters": [{"cluster_id", "title", "description", "genre_context", "scene_context",
                   "profile": {"genre": [[value, share, depth]], "scene_tags": [[value, share]],
                               "descriptors": [[value, share]], "era": [[value, share]]},
                   "tracks": [{"track_id", "title", "artist", "year", "genre": [...],
                               "scene_tags": [...], "descriptors": [...], "era", "comment"}]}]}

``profile`` is computed over all of the leaf's tracks (the payload may carry only some of them).
Track ids are unique across the payload's clusters, so answers are keyed by track id alone.

The answer is lean (issue 17: the first version's per-track answers were ~70 output tokens a track, 40-45%
of it free-text reasoning): groups of track ids sharing one suggestion and one confidence, no reasoning.
The tracks of a leaf that lack its dominant facet mostly need the same values, so a group holds many ids.
The phase writes each kept suggestion's evidence itself (:func:`evidence`) from the leaf's profile.
The seed profile keeps the first version's answer (``suggest_metadata_reference``: one item per track with
a sentence of reasoning), so the seed stays the reference the default is measured against.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from collection_tree.llm.normalise import as_confidence, as_int, as_str_list, as_text
from collection_tree.tasks._schema import record_list, strict_object
from collection_tree.tasks.base import Answer, Payload, TaskSpec

MIN_CONFIDENCE = 0.7
DOMINANT_SHARE = 0.5  # "held by most of the leaf"
MAX_VALUES = 5
_NULLS = {"", "none", "null", "n/a", "na", "-", "unknown"}

_SYSTEM_HEAD = """\
You are a meticulous music librarian reviewing the tags of tracks in a curated playlist ("leaf").
Each leaf groups tracks that share a genre lineage and a cultural scene. Your job is to suggest
metadata improvements for individual tracks, in the context of the leaf they now sit in. Nothing you
suggest is applied automatically: a person reviews every suggestion, so precision matters more than
recall. Suggest only what you are confident is true of that specific recording.

You receive a JSON object with "min_confidence" and "clusters"; each cluster has
- "cluster_id", "title", "description", "genre_context", "scene_context": the leaf and where it
  came from;
- "profile": facet shares across ALL of the leaf's tracks: "genre" entries are [value, share,
  mean depth in the broad-to-specific genre list]; "scene_tags", "descriptors", "era" entries are
  [value, share];
- "tracks": the tracks to review, each with "track_id", "title", "artist", "year", its current
  "genre" list (broad to specific), "scene_tags", "descriptors", "era" and the start of its free-text
  "comment".

For a track, you may suggest:
- "genre_refinement": ONE more specific sub-genre than the track currently has (e.g. "House" ->
  "Acid House"), or null. Never a genre the track already lists, never a broader one, never a
  sideways change to an unrelated style;
- "scene_tags": cultural, geographic or temporal scene tags the track is missing (e.g. "Chicago
  warehouse", "Dirty South"), or [];
- "descriptors": production or sonic descriptors it is missing (e.g. "303 squelch", "dusty samples"),
  or [];
- "era_refinement": a more precise era than its current "era" (e.g. "2000s" -> "early 2000s"), or
  null; it must agree with the track's year.
Never repeat a value the track already carries. Use the leaf's profile as evidence: a facet held by
most of the leaf that a track lacks is a good candidate when the track's artist, title, year and
comment agree; a track that clearly does not share it should not get it.

"""
SYSTEM = _SYSTEM_HEAD + """\
Answer in groups: one group per distinct suggestion, holding the ids of every track it applies to
(tracks that need exactly the same values at the same confidence share a group), with the four
fields and "confidence" in [0, 1] (how sure you are that every suggested value is right for each of
these tracks; below "min_confidence" means it will be discarded). No reasoning: ids and values only.
List only tracks for which you have at least one suggestion; skip the rest. Use each "track_id"
exactly as given and in at most one group. Return only the JSON object described by the schema:
{"groups": [{"track_ids", "genre_refinement", "scene_tags", "descriptors", "era_refinement",
"confidence"}]}."""
# The first version's answer (the seed profile): one item per track, with a sentence of reasoning.
SYSTEM_REFERENCE = _SYSTEM_HEAD + """\
For each suggestion give "confidence" in [0, 1] (how sure you are that every suggested value is
right for this track; below "min_confidence" means it will be discarded) and "reasoning": one short
sentence of evidence. List only tracks for which you have at least one suggestion; skip the rest.
Use each "track_id" exactly as given and at most once. Return only the JSON object described by the
schema: {"tracks": [{"track_id", "suggestions": {"genre_refinement", "scene_tags", "descriptors",
"era_refinement"}, "confidence", "reasoning"}]}."""

_NULLABLE_STRING = {"anyOf": [{"type": "string"}, {"type": "null"}]}
SUGGESTIONS_SCHEMA: dict[str, Any] = strict_object({
    "genre_refinement": _NULLABLE_STRING,
    "scene_tags": {"type": "array", "items": {"type": "string"}},
    "descriptors": {"type": "array", "items": {"type": "string"}},
    "era_refinement": _NULLABLE_STRING,
})
SCHEMA: dict[str, Any] = record_list("groups", {
    "track_ids": {"type": "array", "items": {"type": "integer"}},
    **SUGGESTIONS_SCHEMA["properties"],
    "confidence": {"type": "number"},
})
SCHEMA_REFERENCE: dict[str, Any] = record_list("tracks", {
    "track_id": {"type": "integer"},
    "suggestions": SUGGESTIONS_SCHEMA,
    "confidence": {"type": "number"},
    "reasoning": {"type": "string"},
})
# Output tokens of a group without its ids, and of one id: sizes max_tokens from the request.
GROUP_TOKENS = 60
ID_TOKENS = 3


def _folded(values: Sequence[str] | None) -> set[str]:
    return {str(v).strip().casefold() for v in values or []}


def _nullable_text(value: Any, limit: int) -> str | None:
    text = as_text(value, limit=limit)
    return None if text.casefold() in _NULLS else text


def empty_suggestions() -> dict[str, Any]:
    return {"genre_refinement": None, "scene_tags": [], "descriptors": [], "era_refinement": None}


def has_suggestion(suggestions: dict[str, Any]) -> bool:
    return bool(suggestions["genre_refinement"] or suggestions["scene_tags"] or suggestions["descriptors"]
                or suggestions["era_refinement"])


# ------------------------------------------------------------------------------------ normalise
def normalise(answer: Answer, payload: Payload) -> Answer:
    """Groups of offered track ids, each track once (its first group); values a track already carries are
    stripped per track (which may split a group); tracks left with nothing to suggest are dropped.
    Per-track answers (``{"tracks": [{"track_id", "suggestions", "confidence"}]}``, the first version's
    shape) are accepted as one-track groups. Confidence filtering is the phase's job (it escalates a grey
    zone)."""
    offered = {int(t["track_id"]): t for c in payload["clusters"] for t in c["tracks"]}
    items = answer.get("groups", answer.get("tracks", answer.get("suggestions", [])))
    if isinstance(items, dict):  # {"<track_id>": {...}}
        items = [{"track_id": k, **v} for k, v in items.items() if isinstance(v, dict)]
    if not isinstance(items, list):
        raise ValueError("'groups' is not a list")
    grouped: dict[tuple[Any, ...], dict[str, Any]] = {}
    seen: set[int] = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        ids = item.get("track_ids", [item.get("track_id")])
        raw = item.get("suggestions")
        raw = raw if isinstance(raw, dict) else item  # flat answers carry the fields on the item
        confidence = round(as_confidence(item.get("confidence")), 3)
        for value in ids if isinstance(ids, list) else [ids]:
            track_id = as_int(value)
            if track_id is None or track_id not in offered or track_id in seen:
                continue
            seen.add(track_id)
            suggestions = clean_suggestions(raw, offered[track_id])
            if not has_suggestion(suggestions):
                continue
            key = (suggestions["genre_refinement"], tuple(suggestions["scene_tags"]),
                   tuple(suggestions["descriptors"]), suggestions["era_refinement"], confidence)
            group = grouped.setdefault(key, {"track_ids": [], **suggestions, "confidence": confidence})
            group["track_ids"].append(track_id)
    return {"groups": list(grouped.values())}


def per_track(answer: Answer) -> list[dict[str, Any]]:
    """A normalised answer as one ``{"track_id", "suggestions", "confidence"}`` item per track."""
    return [{"track_id": t, "suggestions": {f: group[f] for f in SUGGESTIONS_SCHEMA["properties"]},
             "confidence": group["confidence"]} for group in answer["groups"] for t in group["track_ids"]]


def evidence(suggestions: dict[str, Any], profile: dict[str, Any]) -> str:
    """The leaf's support for each suggested value ("80% of the leaf is tagged Nu-Metal"), or that the
    leaf does not carry it: written by the phase, so reviewers see facts rather than the model's prose."""
    shares = {str(g[0]).casefold(): float(g[1]) for g in profile.get("genre", [])}
    for key in ("scene_tags", "descriptors", "era"):
        shares.update({f"{key}:{str(v).casefold()}": float(s) for v, s in profile.get(key, [])})
    parts = []
    for key, values, what in (("genre", [suggestions["genre_refinement"]], "is tagged"),
                              ("scene_tags", suggestions["scene_tags"], "has the scene tag"),
                              ("descriptors", suggestions["descriptors"], "is described as"),
                              ("era", [suggestions["era_refinement"]], "dates from the")):
        for value in values:
            if not value:
                continue
            share = shares.get(str(value).casefold() if key == "genre" else f"{key}:{str(value).casefold()}")
            parts.append(f"{_pct(share)} of the leaf {what} {value}" if share
                         else f"{value}: not in the leaf's profile")
    return "; ".join(parts) + "." if parts else ""


def max_tokens_for(payload: Payload) -> int:
    """Room for every offered track in its own group (the worst case), twice over: a lean answer's size
    is bounded by the request, so max_tokens need not be the first version's fixed 16,384."""
    tracks = sum(len(c["tracks"]) for c in payload["clusters"])
    return min(16384, 2 * (GROUP_TOKENS * min(tracks, 4 * len(payload["clusters"]) + 8) + ID_TOKENS * tracks) + 256)


def answer_tokens(groups: int, tracks: int) -> int:
    """The expected size of a lean answer of ``groups`` groups holding ``tracks`` ids (the phase packs
    calls of about equal expected size)."""
    return GROUP_TOKENS * groups + ID_TOKENS * tracks


def normalise_reference(answer: Answer, payload: Payload) -> Answer:
    """The first version's per-track answer: keep one entry per offered track; strip values the track
    already carries; drop entries left
    with nothing to suggest. Confidence filtering is the phase's job (it escalates a grey zone)."""
    offered = {int(t["track_id"]): t for c in payload["clusters"] for t in c["tracks"]}
    items = answer.get("tracks", answer.get("suggestions", []))
    if isinstance(items, dict):  # {"<track_id>": {...}}
        items = [{"track_id": k, **v} for k, v in items.items() if isinstance(v, dict)]
    if not isinstance(items, list):
        raise ValueError("'tracks' is not a list")
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        track_id = as_int(item.get("track_id"))
        if track_id is None or track_id not in offered or track_id in seen:
            continue
        seen.add(track_id)
        track = offered[track_id]
        raw = item.get("suggestions")
        raw = raw if isinstance(raw, dict) else item  # flat answers carry the fields on the item
        suggestions = clean_suggestions(raw, track)
        if not has_suggestion(suggestions):
            continue
        out.append({"track_id": track_id, "suggestions": suggestions,
                    "confidence": round(as_confidence(item.get("confidence")), 3),
                    "reasoning": as_text(item.get("reasoning"), limit=300)})
    return {"tracks": out}


def clean_suggestions(raw: dict[str, Any], track: dict[str, Any]) -> dict[str, Any]:
    """The four fields, each without what the track already has."""
    genre = _nullable_text(raw.get("genre_refinement"), 80)
    if genre is not None and genre.casefold() in _folded(track.get("genre")):
        genre = None
    era = _nullable_text(raw.get("era_refinement"), 40)
    if era is not None and era.casefold() == str(track.get("era") or "").strip().casefold():
        era = None
    return {
        "genre_refinement": genre,
        "scene_tags": as_str_list(raw.get("scene_tags"), MAX_VALUES, exclude=track.get("scene_tags") or []),
        "descriptors": as_str_list(raw.get("descriptors"), MAX_VALUES, exclude=track.get("descriptors") or []),
        "era_refinement": era,
    }


# -------------------------------------------------------------------------------------- offline
def dominant_genre(profile: dict[str, Any], share: float = DOMINANT_SHARE) -> list[Any] | None:
    """The leaf's most specific genre held by at least ``share`` of it, below the root level."""
    specific = [g for g in profile.get("genre", []) if g[1] >= share and g[2] > 1.0]
    return max(specific, key=lambda g: (g[2], g[1])) if specific else None


class LeafGaps:
    """What most of a leaf has, read once from its profile, and what of it a track lacks.

    A genre refinement only when the track has nothing as specific (its genres are the root or
    broader ones of the leaf); an era only when the track has none, or a broader one; the scene tags
    and descriptors held by at least ``share`` of the leaf that the track does not carry."""

    def __init__(self, profile: dict[str, Any], share: float = DOMINANT_SHARE):
        self.dominant = dominant_genre(profile, share)
        self.broader = ({str(g[0]).casefold() for g in profile.get("genre", []) if g[2] < self.dominant[2]}
                        if self.dominant is not None else set())
        self.values = [(key, what, value, float(value_share), str(value).casefold())
                       for key, what in (("scene_tags", "have the scene tag"), ("descriptors", "are described as"))
                       for value, value_share in profile.get(key, []) if value_share >= share]
        eras = [e for e in profile.get("era", []) if e[1] >= share]
        self.era = eras[0] if eras else None

    def findings(self, track: dict[str, Any]) -> Iterator[tuple[str, str, float, str]]:
        """(field, value, share, reason) of each dominant facet the track lacks, in the suggestion's
        order, made as they are asked for (``lacks`` asks for one)."""
        dominant = self.dominant
        if dominant is not None:
            genres = [str(g) for g in track.get("genre") or []]
            if dominant[0].casefold() not in _folded(genres) and all(
                    i == 0 or g.casefold() in self.broader for i, g in enumerate(genres)):
                yield ("genre_refinement", dominant[0], float(dominant[1]),
                       f"{_pct(dominant[1])} of the leaf is tagged {dominant[0]}")
        have: dict[str, set[str]] = {}
        for key, what, value, value_share, folded in self.values:
            if key not in have:
                have[key] = _folded(track.get(key))
            if folded not in have[key]:
                yield key, value, value_share, f"{_pct(value_share)} {what} {value}"
        era = self.era
        if era is not None:
            current = str(track.get("era") or "").strip().casefold()
            if era[0].casefold() != current and current in era[0].casefold():
                yield "era_refinement", era[0], float(era[1]), f"{_pct(era[1])} date from the {era[0]}"

    def lacks(self, track: dict[str, Any]) -> bool:
        """Whether the track lacks any of them (else there is nothing to suggest)."""
        return next(self.findings(track), None) is not None


def offline_suggestion(track: dict[str, Any], profile: dict[str, Any], share: float = DOMINANT_SHARE,
                       min_confidence: float = MIN_CONFIDENCE, gaps: LeafGaps | None = None,
                       ) -> tuple[dict[str, Any], float, list[str]]:
    """What most of the leaf has and this track lacks (``LeafGaps``; ``gaps``: the leaf's, when the
    caller has it): (suggestions, confidence, reasons).

    Values held by at least ``min_confidence`` of the leaf are suggested alone when there are any (a
    weak value never drags a strong one below the threshold); otherwise the weaker majorities (>=
    ``share``) are. Confidence is the smallest share among the suggested values."""
    found = list((gaps if gaps is not None else LeafGaps(profile, share)).findings(track))
    strong = [f for f in found if f[2] >= min_confidence]
    chosen = strong or found
    suggestions = empty_suggestions()
    for key, value, _share, _reason in chosen:
        if key in ("scene_tags", "descriptors"):
            suggestions[key].append(value)
        else:
            suggestions[key] = value
    confidence = round(min(f[2] for f in chosen), 3) if chosen else 0.0
    return suggestions, confidence, [f[3] for f in chosen]


def _pct(share: float) -> str:
    return f"{round(float(share) * 100)}%"


def solve_offline(payload: Payload) -> Answer:
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for cluster in payload["clusters"]:
        gaps = LeafGaps(cluster.get("profile", {}))
        for track in cluster["tracks"]:
            suggestions, confidence, _reasons = offline_suggestion(
                track, cluster.get("profile", {}), min_confidence=float(payload.get("min_confidence", MIN_CONFIDENCE)),
                gaps=gaps)
            if not has_suggestion(suggestions):
                continue
            # as the prompt asks: one group per distinct suggestion and confidence, whichever leaf its tracks are in
            key = (suggestions["genre_refinement"], tuple(suggestions["scene_tags"]),
                   tuple(suggestions["descriptors"]), suggestions["era_refinement"], confidence)
            group = groups.setdefault(key, {"track_ids": [], **suggestions, "confidence": confidence})
            group["track_ids"].append(int(track["track_id"]))
    return {"groups": list(groups.values())}


def solve_offline_reference(payload: Payload) -> Answer:
    out = []
    for cluster in payload["clusters"]:
        title = cluster.get("title") or cluster["cluster_id"]
        for track in cluster["tracks"]:
            suggestions, confidence, reasons = offline_suggestion(
                track, cluster.get("profile", {}), min_confidence=float(payload.get("min_confidence", MIN_CONFIDENCE)))
            if not has_suggestion(suggestions):
                continue
            out.append({"track_id": int(track["track_id"]), "suggestions": suggestions, "confidence": confidence,
                        "reasoning": f"Most of '{title}' shares this: " + "; ".join(reasons) + "."})
    return {"tracks": out}


def example() -> Payload:
    profile = {"genre": [["Rap", 1.0, 1.0], ["Hip-Hop", 0.8, 2.0], ["Dirty South", 0.8, 3.0]],
               "scene_tags": [["Dirty South", 0.8], ["USA", 0.6]], "descriptors": [],
               "era": [["early 2000s", 1.0]]}
    return {
        "min_confidence": MIN_CONFIDENCE,
        "clusters": [{
            "cluster_id": "rap-dirty-south__dirty-south-2000-2004",
            "title": "Crunk Era Atlanta", "description": "Southern rap from the early 2000s.",
            "genre_context": "Dirty South", "scene_context": "Dirty South 2000-2004", "profile": profile,
            "tracks": [
                {"track_id": 41, "title": "Get Low", "artist": "Lil Jon & The East Side Boyz", "year": 2002,
                 "genre": ["Rap"], "scene_tags": [], "descriptors": [], "era": "early 2000s",
                 "comment": "Genre: Rap | Era: early 2000s (2002)"},
                {"track_id": 42, "title": "Ms. Jackson", "artist": "OutKast", "year": 2000,
                 "genre": ["Rap", "Hip-Hop", "Dirty South"], "scene_tags": ["Dirty South"], "descriptors": [],
                 "era": "early 2000s", "comment": "Genre: Rap / Hip-Hop / Dirty South | Scene: Dirty South"},
            ],
        }],
    }


# max_tokens is sized per request (max_tokens_for); this is its ceiling.
SUGGEST_METADATA = TaskSpec(
    name="suggest_metadata", tier="creative", system=SYSTEM, schema=SCHEMA, normalise=normalise,
    solve_offline=solve_offline, max_tokens=16384, example=example,
)
# The seed profile's: the first version's answers, ~70 output tokens a track (the reference's 8192 fits 30).
SUGGEST_METADATA_REFERENCE = TaskSpec(
    name="suggest_metadata_reference", tier="creative", system=SYSTEM_REFERENCE, schema=SCHEMA_REFERENCE,
    normalise=normalise_reference, solve_offline=solve_offline_reference, max_tokens=16384, example=example,
)
