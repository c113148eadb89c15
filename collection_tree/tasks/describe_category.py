"""Task ``describe_category`` (phase 5, creative tier): rename and describe one top-level category from
the clusters it actually received. The phase asks ``describe_categories`` (several categories a call,
one wave), whose items are this payload; this module's solver, normaliser and namer serve it per item,
and the phase's deterministic fallback.

Payload::

    {"title": "working name", "description": "working blurb", "cluster_count": 31, "track_count": 640,
     "suggested_title": "Metal & Hard Rock",
     "tags": {"genre": [["Metal", 0.71], ...], "scene_tags": [...], "descriptors": [...], "country": [...],
              "years": [2000, 2010], "artists": ["most frequent artists"]},
     "clusters": [{"id", "title", "description", "track_count", "genre_context", "scene_context"}],
     "other_titles": ["the other categories' working names"]}

``clusters`` is the category's largest clusters (up to the phase's sample size); ``tags`` what its
tracks carry (share of its tracks per value); ``suggested_title`` names what most of its tracks
share (``core.facet_titles``), unique among the categories. The offline solver takes the suggested
title and writes the description from the tags. The module also holds the deterministic namer
(:func:`describe_group`) that the other phase-5 offline solvers use for working names (and the seed
profile's grouping): names from the dominant genre branches, lineage roots and places of the
clusters, weighted by tracks.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from collection_tree.core.partition import lineage_partition
from collection_tree.core.vectors import context_parts, embed
from collection_tree.llm.normalise import as_text
from collection_tree.tasks._schema import strict_object
from collection_tree.tasks.base import Answer, Payload, TaskSpec

TITLE_CHARS = 60
DESCRIPTION_CHARS = 700

SYSTEM = """\
You are the head buyer of a world-class record store. The store's music collection has been sorted
into a handful of top-level sections (8 to 12), each holding many playlists. You now write the sign
and the card for ONE section, from the playlists it actually holds.

You receive a JSON object with
- "title" / "description": the section's working name and blurb (from an earlier pass; the
  playlists may have moved since, so trust the playlists over them);
- "cluster_count" / "track_count": how many playlists and tracks the section holds;
- "clusters": its largest playlists, each with "id", "title", "description" (shortened),
  "track_count", "genre_context" and "scene_context" (genre and scene lineage paths, broad to
  specific, e.g. "Rock > Metal > Nu-Metal" and "USA > USA 2000-2004");
- "other_titles": the names of the other sections;
- "tags": what the section's tracks carry: per facet ("genre", "scene_tags", "descriptors",
  "country") the commonest values with the share of tracks carrying them, the release "years" and
  the most frequent "artists";
- "suggested_title": a sign built from the tags most of its tracks share (a good default).

Return:
- "title": the section's sign, 1 to 5 words, the way a great record store labels a section: broad
  enough for every playlist in it (most of its tracks should carry a word of it in their tags),
  specific enough to tell it apart from "other_titles" (never the same as one of them); never a bare
  year range or a bare country. No "Miscellaneous", "Other", "Various", "Collection", "Mix" or "Vibes"; no
  quotes, no emoji, no counts.
- "description": 2 to 3 sentences for a browsing listener: what the section holds (sounds, scenes,
  places, years) and what ties it together, naming a few of its playlists or styles. Ground every
  claim in the input; never invent artists, places or years.

Respond with one JSON object matching the schema: {"title", "description"}."""

SCHEMA: dict[str, Any] = strict_object({
    "title": {"type": "string", "minLength": 1, "maxLength": TITLE_CHARS},
    "description": {"type": "string", "minLength": 1},
})

# A scene lineage root whose title says it is a movement, not a place ("Scenes & movements").
_MOVEMENT_WORDS = ("scene", "movement")
_DOMINANT, _SECOND = 0.6, 0.12


def join_names(names: Sequence[str]) -> str:
    names = [n for n in names if n]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _weight(summary: Mapping[str, Any]) -> float:
    """A cluster's say in the name: sqrt of its tracks, so one big playlist does not name a category
    of many small ones."""
    try:
        return math.sqrt(max(1.0, float(summary.get("track_count") or 1)))
    except (TypeError, ValueError):
        return 1.0


def group_profile(summaries: Iterable[Mapping[str, Any]]) -> dict[str, Counter[str]]:
    """Track-weighted counts of genre roots, genre branches (the lineage's second level, or the
    root), places (scene roots that are places) and movements (the scene named under a movements
    root)."""
    out: dict[str, Counter[str]] = {k: Counter() for k in ("roots", "styles", "places", "movements")}
    for summary in summaries:
        w = _weight(summary)
        genre = context_parts(summary.get("genre_context"))
        if genre:
            out["roots"][genre[0]] += w
            out["styles"][genre[1] if len(genre) > 1 else genre[0]] += w
        scene = context_parts(summary.get("scene_context"))
        if scene:
            if any(word in scene[0].casefold() for word in _MOVEMENT_WORDS):
                if len(scene) > 2:
                    out["movements"][scene[2]] += w
            else:
                out["places"][scene[0]] += w
    return out


def _ranked(counter: Counter[str]) -> list[tuple[str, float]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


def pair_name(first: str, second: str) -> str:
    """Two names joined, a shared first or last word said once: "Latin Pop" + "Teen Pop" ->
    "Latin & Teen Pop"; "Spanish Rock" + "Spanish Rap" -> "Spanish Rock & Rap"."""
    a, b = first.split(), second.split()
    if len(a) > 1 and len(b) > 1 and a[-1].casefold() == b[-1].casefold():
        return f"{' '.join(a[:-1])} & {' '.join(b[:-1])} {a[-1]}"
    if len(a) > 1 and len(b) > 1 and a[0].casefold() == b[0].casefold():
        return f"{a[0]} {' '.join(a[1:])} & {' '.join(b[1:])}"
    return f"{first} & {second}"


def title_options(summaries: Sequence[Mapping[str, Any]]) -> list[str]:
    """Candidate names, best first: a dominant place whose styles are mixed; the dominant genre branch,
    or the two leading ones (with the place when one dominates); the lineage root with a branch when
    the branches are scattered within one root; the two leading roots when even that fails; then
    narrower alternatives."""
    profile = group_profile(summaries)
    total = sum(_weight(s) for s in summaries) or 1.0
    styles, roots, places = (_ranked(profile[k]) for k in ("styles", "roots", "places"))
    movements = _ranked(profile["movements"])
    # A branch whose words repeat the leading one's ("Alternative" / "Alternative Rock") adds nothing.
    lead = set(styles[0][0].casefold().split()) if styles else set()
    styles = styles[:1] + [(n, w) for n, w in styles[1:] if not (lead <= set(n.casefold().split())
                                                                or set(n.casefold().split()) <= lead)]
    names = [s for s, _ in styles]
    share = [w / total for _, w in styles] + [0.0, 0.0]
    root_share = [w / total for _, w in roots] + [0.0, 0.0]
    place = places[0][0] if places and places[0][1] / total >= _DOMINANT else ""
    if not names:
        base = ""
    elif place and share[0] < 0.5:  # a place's mixed styles: the place is the shelf
        base, place = place, ""
    elif share[0] >= _DOMINANT or share[1] < _SECOND:
        base = names[0]
    elif share[0] + share[1] < 0.4 and root_share[0] >= 0.75:
        # one root, scattered branches: the root and a branch not named after it ("Rap & Hip-Hop")
        root = roots[0][0]
        extra = next((n for n in names[:3] if root.casefold() not in n.casefold()), "")
        base = pair_name(root, extra) if extra else root
    elif share[0] + share[1] >= 0.25:
        base = pair_name(names[0], names[1])
    else:
        base = pair_name(roots[0][0], roots[1][0]) if len(roots) > 1 else roots[0][0]
    options: list[str] = []
    if base:
        options += [f"{base} ({place})" if place else base, base]
    if len(names) > 2:
        options += [pair_name(names[0], names[2]), pair_name(names[1], names[2])]
    if names and roots and roots[0][0] != names[0]:
        options.append(f"{roots[0][0]}: {names[0]}")
    if movements:
        lead = base or (names[0] if names else "")
        if lead:
            options.append(f"{lead} ({movements[0][0]})")
        options.append(movements[0][0])
    if places:
        options.append(f"{base} ({places[0][0]})" if base else places[0][0])
    cleaned = []
    for option in options:
        option = option.strip()
        if option and len(option) <= TITLE_CHARS and option not in cleaned:
            cleaned.append(option)
    return cleaned or ["Music"]


def pick_title(options: Sequence[str], avoid: Iterable[str]) -> str:
    taken = {a.strip().casefold() for a in avoid}
    for option in options:
        if option.casefold() not in taken:
            return option
    base = options[0] if options else "Music"
    n = 2
    while f"{base} {n}".casefold() in taken:
        n += 1
    return f"{base} {n}"


def describe_group(summaries: Sequence[Mapping[str, Any]], avoid: Iterable[str] = (),
                   cluster_count: int | None = None, track_count: int | None = None) -> dict[str, str]:
    """A deterministic title (not in ``avoid``) and a 2-3 sentence description for a group of clusters
    (``summaries`` may be a sample: the counts then come from ``cluster_count`` / ``track_count``)."""
    summaries = list(summaries)
    title = pick_title(title_options(summaries), avoid)
    profile = group_profile(summaries)
    total = sum(_weight(s) for s in summaries) or 1.0
    tracks = track_count if track_count is not None else sum(int(s.get("track_count") or 0) for s in summaries)
    styles = [s for s, _ in _ranked(profile["styles"])[:3]]
    roots = _ranked(profile["roots"])
    n = cluster_count if cluster_count is not None else len(summaries)
    first = f"{n} playlist{'s' if n != 1 else ''} and {tracks} tracks centred on {join_names(styles) or 'its styles'}"
    if roots and roots[0][1] / total >= 0.75:
        first += f", from the {roots[0][0]} lineage."
    elif roots:
        first += f", across {join_names([r for r, _ in roots[:3]])}."
    else:
        first += "."
    sentences = [first]
    scenes = [s for s, _ in _ranked(profile["places"] + profile["movements"])[:3]]
    if scenes:
        sentences.append(f"Its scenes range over {join_names(scenes)}.")
    biggest = sorted(summaries, key=lambda s: (-_weight(s), str(s.get("title", ""))))[:2]
    named = [f"“{s.get('title')}”" for s in biggest if s.get("title")]
    if named:
        sentences.append(f"Start with {join_names(named)}.")
    return {"title": title, "description": " ".join(sentences)}


def describe_partition(clusters: Sequence[Mapping[str, Any]], keys: Sequence[str], lo: int, hi: int,
                       target: int | None = None) -> list[tuple[list[Mapping[str, Any]], dict[str, str]]]:
    """The phase-5 offline solvers' grouping: ``clusters`` grouped by their lineage ``keys``, split or
    merged by similarity to ``lo``..``hi`` groups (:func:`lineage_partition`, aiming at ``target``),
    the largest by tracks first (ties: the earliest cluster); each group's members with a
    :func:`describe_group` name whose title no earlier group has."""
    _, vectors = embed(clusters)
    weights = np.array([max(1, int(c.get("track_count") or 1)) for c in clusters], dtype=float)
    groups = lineage_partition(keys, vectors, weights, lo, hi, target=target)
    groups.sort(key=lambda g: (-sum(weights[i] for i in g), min(g)))
    out: list[tuple[list[Mapping[str, Any]], dict[str, str]]] = []
    taken: list[str] = []
    for group in groups:
        members = [clusters[i] for i in group]
        named = describe_group(members, avoid=taken)
        taken.append(named["title"])
        out.append((members, named))
    return out


def _values(tags: Mapping[str, Any], facet: str, min_share: float, limit: int, skip: Iterable[str] = ()) -> list[str]:
    skipped = {str(v).casefold() for v in skip}
    out = [str(v) for v, share in tags.get(facet) or []
           if float(share) >= min_share and str(v).casefold() not in skipped]
    return out[:limit]


def describe_tags(title: str, tags: Mapping[str, Any], cluster_count: int, track_count: int) -> str:
    """Two to four plain sentences from what the tracks carry: styles, places, sound, years, artists.
    The opening varies with the title (a stable checksum, not Python's salted hash)."""
    genre = [(str(v), float(share)) for v, share in tags.get("genre") or []]
    everywhere = [v for v, share in genre if share >= 0.9]  # the lineage every track carries says little
    styles = _values(tags, "genre", 0.1, 4, skip=[title, *everywhere]) or _values(tags, "genre", 0.1, 3)
    places = _values(tags, "country", 0.15, 3)
    sound = _values(tags, "descriptors", 0.15, 3)
    years = tags.get("years") or []
    artists = [str(a) for a in tags.get("artists") or []][:3]
    size = f"{cluster_count} playlist{'s' if cluster_count != 1 else ''} and {track_count} tracks"
    style_text = join_names(styles) or title
    openings = [f"{style_text} across {size}.",
                f"Here are {size}, mostly {style_text}.",
                f"{size[0].upper()}{size[1:]} of {style_text}."]
    sentences = [openings[zlib.crc32(title.encode()) % len(openings)]]
    if places:
        sentences.append(f"Most of it comes from {join_names(places)}.")
    if sound:
        sentences.append(f"Expect {join_names(sound)} records.")
    if len(years) == 2 and years[0] != years[1]:
        sentences.append(f"The releases run from {years[0]} to {years[1]}.")
    elif len(years) == 2:
        sentences.append(f"Everything here came out in {years[0]}.")
    if artists:
        sentences.append(f"Start with {join_names(artists)}.")
    return " ".join(sentences[:4])


def solve_offline(payload: Payload) -> Answer:
    """The suggested title (when no other category has it) and a description from the tags; without
    tags (an older payload), the deterministic namer over the clusters."""
    others = {str(t).strip().casefold() for t in payload.get("other_titles") or []}
    suggested = str(payload.get("suggested_title") or "").strip()
    tags = payload.get("tags")
    if not tags or not suggested or suggested.casefold() in others:
        named = describe_group(payload.get("clusters") or [], avoid=payload.get("other_titles") or [],
                               cluster_count=payload.get("cluster_count"), track_count=payload.get("track_count"))
        if not tags:
            return named
        suggested = named["title"]
    clusters = list(payload.get("clusters") or [])
    cluster_count = int(payload.get("cluster_count") or len(clusters))
    track_count = int(payload.get("track_count") or sum(int(c.get("track_count") or 0) for c in clusters))
    return {"title": suggested, "description": describe_tags(suggested, tags, cluster_count, track_count)}


def normalise(answer: Answer, payload: Payload) -> Answer:
    """Title and description as clean single-line text (title cut to the schema's length); a title
    equal to another category's is dropped so the schema rejects it and the model is asked again."""
    title = as_text(answer.get("title") or answer.get("name"), limit=TITLE_CHARS).strip(" \"'“”")
    others = {str(t).strip().casefold() for t in payload.get("other_titles") or []}
    if title.casefold() in others:
        title = ""
    return {"title": title, "description": as_text(answer.get("description"), limit=DESCRIPTION_CHARS)}


def example() -> Payload:
    return {
        "title": "Metal & Metalcore",
        "description": "Heavy guitars from nu-metal to metalcore.",
        "cluster_count": 3,
        "track_count": 200,
        "clusters": [
            {"id": "rock-nu-metal__nu-metal-2000-2004", "title": "Nu-Metal Radio, early 2000s",
             "description": "Down-tuned riffs and rapped verses from the turn of the century.", "track_count": 77,
             "genre_context": "Rock > Nu-Metal",
             "scene_context": "Scenes & movements > Rock, punk & metal movements > Nu-Metal > Nu-Metal 2000-2004"},
            {"id": "rock-melodic-metalcore__metalcore-2005-2010", "title": "Breakdowns and Choruses",
             "description": "Melodic metalcore of the late 2000s.", "track_count": 67,
             "genre_context": "Rock > Melodic Metalcore",
             "scene_context": "Scenes & movements > Rock, punk & metal movements > Metalcore > Metalcore 2005-2010"},
            {"id": "rock-death-metal__sverige-metal-2005-2010", "title": "Gothenburg Steel",
             "description": "Swedish melodic death metal.", "track_count": 56,
             "genre_context": "Rock > Metal > Death Metal",
             "scene_context": "Scandinavia & Nordics > Sverige > Sverige 2005-2010 > Sverige Metal 2005-2010"},
        ],
        "other_titles": ["Pop-Punk & Emo", "Rap & Hip-Hop"],
    }


TASK = TaskSpec(name="describe_category", tier="creative", system=SYSTEM, schema=SCHEMA, normalise=normalise,
                solve_offline=solve_offline, max_tokens=1024, example=example)
