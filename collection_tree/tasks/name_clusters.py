"""Task ``name_clusters`` (phase 2): a title, a description, a coherence score and the poor fits of each
seed cluster, from both leaves' context and a sample of its tracks. ``name_clusters`` is the first
version's prompt (3-4 sentences; the seed profile); ``name_clusters_brief``, the default profile's
working names, asks for a brief description (at most the payload's ``description_chars``: phase 6
writes the public one).

The offline solver reads only the payload: the sample tracks' comments carry their facets (a tagger
writes ``Genre: Rock / Metal | Scene: USA | Notes: Live | Era: early 2000s (2001)``), and each
cluster carries its merged filter values (``facets``), so agreement can be measured without the
tracks table. The comment helpers here are shared with ``reassign_tracks``.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from itertools import combinations
from typing import Any

from collection_tree.llm.normalise import as_int_ids, as_records, as_score, as_str_id, as_text
from collection_tree.tasks._schema import record_list
from collection_tree.tasks.base import Answer, Payload, TaskSpec

SYSTEM = """You are a music curator naming playlists for a personal music collection.

Each cluster you receive is the intersection of one leaf of a genre tree (musical lineage, e.g. \
"Rock > Metal > Nu-Metal") and one leaf of a scene tree (cultural moment: a place, a language, a \
movement and an era, e.g. "USA Metal 2000-2004"). Every cluster comes with:
- cluster_id: an opaque identifier. Copy it exactly; never invent or alter one.
- genre_context and scene_context: the title and the start of the description of both leaves.
- facets: the filter values that define the cluster (genre values, scene tags, a year range).
- track_count: how many tracks the cluster holds.
- sample_tracks: up to 20 of its tracks (track_id, title, artist, year, and the start of the \
track's tag comment; comments are cut at comment_chars characters, so a tag may be missing only \
because it was cut off).

For EVERY cluster in the input, answer one object with:
1. cluster_id: exactly as given.
2. title: an evocative playlist name of 2 to 6 words, the way a good record shop labels a shelf or \
a DJ names a set. It must say something true about the music and its moment. Do NOT answer \
"Genre x Scene", do not repeat both leaf titles, and do not put the cluster_id in it. Avoid \
generic words such as "Vibes", "Collection", "Mix" or "Playlist". Titles must differ between the \
clusters of one request.
3. description: 3 to 4 sentences for a listener: what the music sounds like, where and when it \
comes from, which artists or records anchor it (only artists that appear in the sample), and what \
ties the tracks together. Plain prose, no lists, no marketing superlatives, no invented facts.
4. coherence_score: an integer from 1 to 10 for how well the sample hangs together as one \
playlist. 9-10: one sound, one moment, every track belongs. 7-8: a clear identity with a few \
outliers. 5-6: two or more sub-styles side by side. 3-4: a loose grab-bag that only the tags \
join. 1-2: no musical common ground.
5. poor_fit_track_ids: the track_id values of sample tracks that do not belong with the rest \
(a different genre, a different scene or era, a novelty or a mis-tag). Use only track_id values \
of that cluster's sample_tracks. An empty list is a good answer when every track fits; flag a \
track only when you would move it to another playlist.

Rules:
- Judge only from the input: the leaves' context, the facets and the sample. Use your knowledge of \
the artists to interpret them, never to add tracks or claim facts the sample does not support.
- Answer every cluster once, in any order, and nothing else.
- Respond with one JSON object matching the schema: {"clusters": [{"cluster_id", "title", \
"description", "coherence_score", "poor_fit_track_ids"}]}.
"""

_DESCRIPTION_ITEM = """3. description: 3 to 4 sentences for a listener: what the music sounds like, where and when it \
comes from, which artists or records anchor it (only artists that appear in the sample), and what \
ties the tracks together. Plain prose, no lists, no marketing superlatives, no invented facts.
"""
assert _DESCRIPTION_ITEM in SYSTEM
# The working description of the default profile: later passes read its start, a final pass writes the
# public text, so a short one is all that is used.
SYSTEM_BRIEF = SYSTEM.replace(_DESCRIPTION_ITEM, """3. description: a working note of at most \
description_chars characters (given in the input), for the later passes that sort and group the \
playlists: what the music is, where and when it comes from, and the artists that anchor it (only \
artists that appear in the sample). Plain prose, no invented facts; a final pass writes the \
listener's description.
""")

SCHEMA: dict[str, Any] = record_list("clusters", {
    "cluster_id": {"type": "string"},
    "title": {"type": "string"},
    "description": {"type": "string"},
    "coherence_score": {"type": "integer", "description": "1 (no common ground) to 10 (one sound)"},
    "poor_fit_track_ids": {"type": "array", "items": {"type": "integer"}},
})

TITLE_CHARS = 120
DESCRIPTION_CHARS = 1200


# ------------------------------------------------------------------------ comment helpers (shared)
_SECTION_FACET = {
    "genre": "genre", "genres": "genre", "style": "genre", "styles": "genre",
    "scene": "scene", "scenes": "scene", "language": "scene", "location": "scene", "place": "scene",
    "country": "scene", "city": "scene", "region": "scene",
    "notes": "descriptors", "note": "descriptors", "descriptors": "descriptors", "descriptor": "descriptors",
    "mood": "descriptors", "moods": "descriptors", "tags": "descriptors", "vibe": "descriptors",
    "era": "era", "period": "era", "decade": "era",
}
_WHOLE_ERA = re.compile(r"(?:(?:early|mid|late) )?\d{3}0s", re.IGNORECASE)  # "late 2000s", not a cut "late 200"
_YEAR_SPAN = re.compile(r"\b(\d{4})\s*[-–]\s*(\d{4})\b")
_YEARISH = re.compile(r"\(?\b\d{4}(?:\s*[-–]\s*\d{4})?s?\b\)?")
_TAG_KEYS = ("genre", "scene", "descriptors", "text")
_WORD = re.compile(r"[^\W_]+(?:[-'&][^\W_]+)*", re.UNICODE)


def parse_comment(comment: str) -> dict[str, list[str]]:
    """``"Genre: Rock / Metal | Scene: USA | Era: early 2000s (2001)"`` -> ``{"genre": ["Rock", "Metal"],
    "scene": ["USA"], "era": ["early 2000s"]}``. Unlabelled text lands under ``"text"``."""
    return {facet: list(values) for facet, values in _parsed_comment(str(comment or ""))}


@lru_cache(maxsize=65_536)
def _parsed_comment(comment: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """:func:`parse_comment` as (facet, values) pairs, kept: a track is sampled by each of its seed
    clusters, and the offline solver reads every sampled comment."""
    out: dict[str, list[str]] = {}
    for section in comment.split("|"):
        label, sep, rest = section.partition(":")
        facet = _SECTION_FACET.get(label.strip().casefold()) if sep else None
        if facet is None:
            facet, rest = "text", section
        for value in re.split(r"\s*[/;,]\s*", rest):
            value = re.sub(r"\s*\(\d*\)?\s*$", "", value).strip()  # "(2001)", or cut short: "(20"
            if value and value not in out.setdefault(facet, []):
                out[facet].append(value)
    return tuple((facet, tuple(values)) for facet, values in out.items())


def has_phrase(text: str, phrase: str) -> bool:
    """Case-insensitive whole-word(s) match of ``phrase`` in ``text``."""
    return _has_phrase_folded(text.casefold(), phrase)


def _has_phrase_folded(folded: str, phrase: str) -> bool:
    """:func:`has_phrase` in a text casefolded already (a comment checked against several values)."""
    pattern = _phrase_pattern(phrase.strip().casefold())
    return pattern is not None and pattern.search(folded) is not None


@lru_cache(maxsize=16_384)
def _phrase_pattern(phrase: str) -> re.Pattern[str] | None:
    """A casefolded phrase as a whole-word(s) pattern, compiled once (``re``'s own cache holds 512)."""
    return re.compile(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)") if phrase else None


def words(text: str) -> set[str]:
    """Lower-case words of a title or comment; hyphenated words also give their parts."""
    out: set[str] = set()
    for word in _WORD.findall(str(text or "").casefold()):
        out.add(word)
        if "-" in word:
            out.update(p for p in word.split("-") if p)
    return out


def year_spans(text: str) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in _YEAR_SPAN.findall(str(text or ""))]


def era_label(years: list[int], era_phrases: list[str]) -> str:
    """The era a shelf label would print: the sample's majority era phrase ("mid 2000s") when one
    covers most tracks, else the year span."""
    if era_phrases:
        phrase, count = Counter(era_phrases).most_common(1)[0]
        if count * 2 > len(era_phrases):
            return phrase
    if not years:
        return ""
    lo, hi = min(years), max(years)
    if lo == hi:
        return str(lo)
    if hi - lo <= 3 and lo // 10 == hi // 10:
        part = ("early", "mid", "late")[min(((lo + hi) // 2 % 10) // 4, 2)]
        return f"{part} {lo // 10 * 10}s"
    return f"{lo}-{hi}"


def place_of(scene_title: str, genre_title: str) -> str:
    """What a scene title adds to the genre: ``"USA Metal 2000-2004"`` under ``"Nu-Metal"`` -> ``"USA"``."""
    text = _YEARISH.sub(" ", scene_title)
    genre_words = words(genre_title)
    kept = [w for w in text.split() if not (words(w) and words(w) <= genre_words)]
    return " ".join(kept).strip(" &,-")


# ------------------------------------------------------------------------------ offline solver
def _cluster_values(cluster: dict[str, Any]) -> tuple[list[str], list[str], list[int] | None]:
    facets = cluster.get("facets") or {}
    genre = [str(v) for v in facets.get("genre", [])] or [str(cluster["genre_context"].get("title", ""))]
    scene = [str(v) for v in facets.get("scene_tags", [])]
    if not scene:
        place = place_of(str(cluster["scene_context"].get("title", "")), genre[0])
        scene = [place] if place else []
    year_range = facets.get("year_range")
    return genre, scene, list(year_range) if year_range else None


def _track_checks(track: dict[str, Any], genre: list[str], scene: list[str], year_range: list[int] | None,
                  comment_chars: int) -> tuple[list[bool], bool]:
    """Per facet group (genre, scene, year): does the track agree? And is it a poor fit (its visible
    comment names none of the cluster's genre values, or none of its scene values)?"""
    comment = str(track.get("comment") or "")
    cut = comment_chars > 0 and len(comment) >= comment_chars  # a missing tag may have been cut off
    folded = comment.casefold()
    checks: list[bool] = []
    poor = False
    for values in (genre, scene):
        if not values:
            continue
        hit = any(_has_phrase_folded(folded, v) for v in values)
        checks.append(hit)
        poor = poor or (not hit and not cut)
    year = track.get("year")
    if year_range and isinstance(year, int):
        checks.append(year_range[0] <= year <= year_range[1])
    return checks, poor


def _tag_sets(parsed: list[dict[str, list[str]]]) -> list[set[str]]:
    """Each parsed comment's tags (genre, scene, descriptors, free text), casefolded."""
    return [{v.casefold() for key in _TAG_KEYS for v in p.get(key, [])} for p in parsed]


def _mean_jaccard(tag_sets: list[set[str]]) -> float:
    pairs = [(a, b) for a, b in combinations(tag_sets, 2) if a or b]
    if not pairs:
        return 1.0
    return sum(len(a & b) / len(a | b) for a, b in pairs) / len(pairs)


def _dominant(values: list[str], n_tracks: int) -> str:
    if not values:
        return ""
    value, count = Counter(values).most_common(1)[0]
    return value if count >= 2 and count * 2 >= n_tracks else ""


def _place(cluster: dict[str, Any], scene_title: str, genre_title: str) -> str:
    """What the scene adds to the genre on a shelf label. With scene tags: the first tag (a place or a
    movement, "USA") when the scene title says no more than that tag and the genre ("USA Metal 2000-2004"
    under "Nu-Metal"), nothing when the genre already says it, else the scene title without years."""
    tags = [str(v) for v in (cluster.get("facets") or {}).get("scene_tags", []) if str(v).strip()]
    if not tags:
        return place_of(scene_title, genre_title)
    bare = " ".join(_YEARISH.sub(" ", scene_title).split())
    genre_words = words(genre_title)
    if words(bare) - words(tags[0]) <= genre_words:
        return "" if words(tags[0]) <= genre_words else tags[0]
    return bare


def solve_cluster(cluster: dict[str, Any], comment_chars: int, description_chars: int = 0) -> dict[str, Any]:
    """One cluster's answer, as a record-shop curator with only the tags to go on would give it
    (``description_chars``: a brief description of at most that many characters)."""
    tracks = list(cluster.get("sample_tracks") or [])
    genre_title = str(cluster["genre_context"].get("title", "")).strip()
    scene_title = str(cluster["scene_context"].get("title", "")).strip()
    genre, scene, year_range = _cluster_values(cluster)

    agreement, poor_fits = [], []
    for track in tracks:
        checks, poor = _track_checks(track, genre, scene, year_range, comment_chars)
        agreement.append(sum(checks) / len(checks) if checks else 1.0)
        if poor:
            poor_fits.append(int(track["track_id"]))
    parsed = [parse_comment(str(t.get("comment") or "")) for t in tracks]
    tag_sets = _tag_sets(parsed)
    agree = sum(agreement) / len(agreement) if agreement else 0.5
    # Facet agreement says the tags fit; shared extra tags say the tracks sound alike.
    closeness = min(1.0, _mean_jaccard(tag_sets) * 1.5) if tracks else 0.5
    coherence = max(1, min(10, round(1 + 9 * (0.6 * agree + 0.4 * closeness))))

    years = [t["year"] for t in tracks if isinstance(t.get("year"), int)]
    eras = [p["era"][0] for p in parsed if p.get("era") and _WHOLE_ERA.fullmatch(p["era"][0])]  # never cut short
    era = era_label(years, eras)
    descriptor = _dominant([re.sub(r"\s*\(.*?\)", "", d) for p in parsed for d in p.get("descriptors", [])[:1]],
                           len(tracks))
    place = _place(cluster, scene_title, genre_title)
    descriptor = descriptor[:1].upper() + descriptor[1:]  # a shelf label starts with a capital: "Warm Deep House"
    shelf = " ".join(x for x in (descriptor, genre_title) if x)
    where = " ".join(x for x in (place, era) if x)
    title = f"{shelf}, {where}" if where else shelf or scene_title or "Untitled"

    own = {v.casefold() for v in genre + scene} | {genre_title.casefold()}
    shown = {v.casefold(): v for p in parsed for key in _TAG_KEYS for v in p.get(key, [])}
    extra = Counter(tag for tags in tag_sets for tag in tags if tag not in own and not _YEARISH.fullmatch(tag))
    ranked = sorted(extra.items(), key=lambda kv: (-kv[1], kv[0]))  # ties by name: no hash-seed order
    shared = [shown.get(tag, tag) for tag, n in ranked[:3] if n * 4 >= max(len(tracks), 1) and n >= 2]
    artists = [a for a, _ in Counter(str(t.get("artist", "")) for t in tracks if t.get("artist")).most_common(3)]
    fits = sum(1 for a in agreement if a >= 0.999)
    sentences = [
        f"{cluster.get('track_count', len(tracks))} tracks where {genre_title or 'this genre'} meets "
        f"{scene_title or 'this scene'}.",
    ]
    if years:
        span = f"{min(years)}-{max(years)}" if min(years) != max(years) else str(years[0])
        lead = f", with {', '.join(artists)}" if artists else ""
        sentences.append(f"The sampled tracks date from {span}{f' (mostly {era})' if era and era != span else ''}"
                         f"{lead}.")
    elif artists:
        sentences.append(f"Artists in the sample include {', '.join(artists)}.")
    if shared:
        sentences.append(f"Beyond the shelf label they share {', '.join(shared)} tags.")
    else:
        sentences.append("Beyond the shelf label the tracks share few tags.")
    if tracks:
        odd = {0: "", 1: "; one looks out of place"}.get(len(poor_fits), f"; {len(poor_fits)} look out of place")
        sentences.append(f"{fits} of {len(tracks)} sampled tracks carry every tag of the shelf label{odd}.")
    description = " ".join(sentences)
    return {"cluster_id": cluster["cluster_id"], "title": title,
            "description": brief(description, description_chars) if description_chars else description,
            "coherence_score": coherence, "poor_fit_track_ids": poor_fits}


def brief(text: str, limit: int) -> str:
    """The start of ``text`` within ``limit`` characters, cut after a whole word (the note a model keeps
    to a limit writes the same opening; the later passes read only this much of a description)."""
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0].rstrip(" ,;:(")
    end = cut.rfind(". ")
    return cut[: end + 1] if end >= 0 and len(cut) - end < BRIEF_FRAGMENT else cut


BRIEF_FRAGMENT = 20  # a cut sentence shorter than this says nothing: the note ends at the full stop before it


def solve_offline(payload: Payload) -> Answer:
    comment_chars = int(payload.get("comment_chars") or 0)
    return {"clusters": [solve_cluster(c, comment_chars) for c in payload.get("clusters", [])]}


def solve_offline_brief(payload: Payload) -> Answer:
    comment_chars = int(payload.get("comment_chars") or 0)
    limit = int(payload.get("description_chars") or DESCRIPTION_CHARS)
    return {"clusters": [solve_cluster(c, comment_chars, limit) for c in payload.get("clusters", [])]}


# ------------------------------------------------------------------------------- normalisation
def normalise(answer: Answer, payload: Payload) -> Answer:
    """Ids wrapped in dicts, scores as dicts or strings, a dict keyed by cluster id instead of a list,
    missing descriptions or poor fits: repaired. Clusters the payload did not offer, repeats and
    entries without a title: dropped (the phase falls back for a cluster missing from the answer).
    Poor fits: only track ids of that cluster's own sample are kept."""
    offered = {str(c["cluster_id"]): c for c in payload.get("clusters", [])}
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in as_records(answer.get("clusters"), "cluster_id"):
        cid = as_str_id(item.get("cluster_id", item.get("id")), offered)
        title = as_text(item.get("title") or item.get("name"), limit=TITLE_CHARS)
        if cid is None or cid in seen or not title:
            continue
        seen.add(cid)
        sample = [t["track_id"] for t in offered[cid].get("sample_tracks", [])]
        out.append({
            "cluster_id": cid,
            "title": title,
            "description": as_text(item.get("description"), limit=DESCRIPTION_CHARS),
            "coherence_score": round(as_score(item.get("coherence_score", item.get("coherence")))),
            "poor_fit_track_ids": as_int_ids(item.get("poor_fit_track_ids", item.get("poor_fits")), sample),
        })
    return {"clusters": out}


def normalise_brief(answer: Answer, payload: Payload) -> Answer:
    """As :func:`normalise`, the description held to the payload's ``description_chars``."""
    out = normalise(answer, payload)
    limit = int(payload.get("description_chars") or DESCRIPTION_CHARS)
    for item in out["clusters"]:
        item["description"] = as_text(item["description"], limit=limit)
    return out


def example_brief() -> Payload:
    return {**example(), "description_chars": 200}


def example() -> Payload:
    comment = "Genre: Rock / Metal / Nu-Metal | Scene: USA | Era: early 2000s ({y})"
    tracks = [
        (101, "Bodies", "Drowning Pool", 2001), (102, "Down with the Sickness", "Disturbed", 2000),
        (103, "Push It", "Static-X", 2000), (104, "Bleed the Freak", "Alice In Chains", 2001),
    ]
    sample = [{"track_id": t, "title": title, "artist": artist, "year": year, "comment": comment.format(y=year)}
              for t, title, artist, year in tracks]
    sample[3]["comment"] = "Genre: Rock / Grunge | Era: early 2000s (2001)"
    return {
        "comment_chars": 150,
        "clusters": [{
            "cluster_id": "rock-nu-metal__usa-metal-2000-2004",
            "genre_context": {"title": "Nu-Metal", "description": "Nu-Metal, under Rock: 131 tracks by 52 artists."},
            "scene_context": {"title": "USA Metal 2000-2004",
                              "description": "USA songs tagged Metal, 2000-2004: 73 tracks by 36 artists."},
            "facets": {"genre": ["Nu-Metal", "Metal"], "scene_tags": ["USA"], "year_range": [2000, 2004]},
            "track_count": 4,
            "sample_tracks": sample,
        }],
    }


# The first version's (the seed profile): a 3-4 sentence description on the creative tier.
REFERENCE_TASK = TaskSpec(name="name_clusters", tier="creative", system=SYSTEM, schema=SCHEMA, normalise=normalise,
                          solve_offline=solve_offline, max_tokens=8192, example=example)
# The default profile's working names (phase 6 writes the public descriptions): a brief description, so
# the answers (the wave's wait) carry only what phases 3-5 read.
TASK = TaskSpec(name="name_clusters_brief", tier="mechanical", system=SYSTEM_BRIEF, schema=SCHEMA,
                normalise=normalise_brief, solve_offline=solve_offline_brief, max_tokens=8192, example=example_brief)
