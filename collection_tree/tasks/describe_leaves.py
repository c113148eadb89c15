"""Phase 6 task: a rich description and seven exemplar tracks for each leaf playlist.

Payload (built by ``collection_tree.phases.leaves``)::

    {"examples_per_leaf": 7,
     "clusters": [{"cluster_id", "title", "description", "genre_context", "scene_context",
                   "genre_lineage", "scene_lineage", "track_count",
                   "profile": {"genre": [[value, share, depth]], "scene_tags": [[value, share]],
                               "descriptors": [[value, share]], "era": [[value, share]],
                               "years": [first, last], "artists": [[name, tracks]],
                               "bpm": [q1, median, q3], "energy": [q1, median, q3]},   # when known
                   "distinctive": {"genre": [[value, share]], "scene_tags": [...], "descriptors": [...],
                                   "country": [...]},
                   "candidates": [{"track_id", "title", "artist", "year", "score"}]}]}

``candidates`` are the leaf's own tracks ranked by their similarity to the leaf's centroid (the track
similarity model; best first); exemplars may only come from them. ``distinctive`` holds the leaf's facet
values that set it apart from the other leaves (c-TF-IDF, best first, with the share of its tracks
carrying them).

The offline solver titles a leaf from its distinctive values: a style most of its tracks carry, a
place or scene, and an era that its own years bear out (never a year span beside an era phrase, never
cut); descriptions are plain, varied sentences built from the facts (sound, place, years, tempo and
energy where known), without internal words or percentages.
"""

from __future__ import annotations

import re
import zlib
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
- "distinctive": the leaf's tag values that set it apart from the other leaves (best first, as
  [value, share of its tracks]): a good basis for a title that tells it apart;
- "candidates": up to 30 of the leaf's tracks, best match to the leaf's identity first, each with
  "track_id", "title", "artist", "year" and a match "score" in [0, 1].

For every leaf, return:
- "cluster_id": exactly as given;
- "title": a short, evocative playlist name (2-6 words) a music lover would click; specific to this
  leaf's sound and scene, not a bare genre label, and carrying a word of a tag most of its tracks
  share; no quotes, no emoji, no track counts, no year span that contradicts its years;
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
    # Each candidate's artist, score, year and id read once (a pick compares every remaining one).
    keyed = [(str(c.get("artist", "")).strip().casefold(), -round(float(c.get("score", 0.0)), 3), c.get("year"),
              int(c["track_id"])) for c in candidates]
    remaining = list(range(len(keyed)))
    picked: list[int] = []
    artists: set[str] = set()
    years: set[Any] = set()
    while remaining and len(picked) < n:
        best = min(remaining, key=lambda i: (keyed[i][0] in artists, keyed[i][1], keyed[i][2] in years, keyed[i][3]))
        remaining.remove(best)
        artist, _, year, track_id = keyed[best]
        picked.append(track_id)
        artists.add(artist)
        years.add(year)
    return picked


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


_ERA = re.compile(r"^(early|mid|late) (\d{3}0)s$", re.IGNORECASE)
_YEARISH = re.compile(r"\d")
# A title's style names a value at least 60% of the leaf's tracks carry: at 50% a leaf of two halves
# (Euro Disco from the 1970s, Nu-Disco from Sweden) was titled after one half ("Indie Dance from
# Sweden"); below 60% the leaf's commonest specific genre names it instead ("Disco from Sweden").
STYLE_SHARE, PLACE_SHARE, SOUND_SHARE = 0.6, 0.4, 0.4


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[^\W_]+", text.casefold()) if len(w) > 2}


def _era_of(profile: dict[str, Any]) -> str:
    """The era a title may print: the majority era phrase when the leaf's years bear it out (all
    within that part of the decade, give or take a year), else the span of its years when short,
    else nothing. Never both, never cut."""
    years = profile.get("years") or []
    eras = profile.get("era") or []
    if eras and float(eras[0][1]) >= 0.6:
        match = _ERA.match(str(eras[0][0]).strip())
        if match and len(years) == 2:
            decade = int(match.group(2))
            lo, hi = {"early": (decade, decade + 4), "mid": (decade + 3, decade + 7),
                      "late": (decade + 5, decade + 9)}[match.group(1).casefold()]
            if lo - 1 <= years[0] and years[1] <= hi + 1:
                return f"{match.group(1).casefold()} {decade}s"
    if len(years) == 2 and 0 < years[1] - years[0] <= 12:
        return f"{years[0]}-{years[1]}"
    if len(years) == 2 and years[0] == years[1]:
        return str(years[0])
    return ""


def _pick(rows: list[list[Any]], min_share: float, avoid: set[str]) -> str:
    for value, share in rows:
        value = str(value).strip()
        if float(share) >= min_share and value and not _YEARISH.search(value) and not _words(value) <= avoid:
            return value
    return ""


def title_parts(cluster: dict[str, Any]) -> dict[str, str]:
    """What a title names: ``style`` (a distinctive genre value most tracks carry, else the most specific
    common one, else the genre context), ``place`` (a distinctive country or scene tag), ``sound`` (a
    distinctive descriptor) and ``era`` (see :func:`_era_of`)."""
    profile = cluster.get("profile") or {}
    distinct = cluster.get("distinctive") or {}
    common = sorted((g for g in profile.get("genre", []) if float(g[1]) >= STYLE_SHARE),
                    key=lambda g: (-float(g[2]) if len(g) > 2 else 0.0, -float(g[1]), str(g[0])))
    depth = {str(g[0]): float(g[2]) for g in profile.get("genre", []) if len(g) > 2}
    # among the distinguishing genre values most tracks carry, the most specific (deepest in the lists)
    ranked = sorted(enumerate(distinct.get("genre", [])), key=lambda r: (-depth.get(str(r[1][0]), 0.0), r[0]))
    style = _pick([row for _, row in ranked], STYLE_SHARE, set()) or (str(common[0][0]) if common else "") \
        or str(cluster.get("genre_context") or "")
    avoid = _words(style)
    country = _pick(distinct.get("country", []), PLACE_SHARE, avoid)
    place = country or _pick(distinct.get("scene_tags", []), PLACE_SHARE, avoid)
    sound = _pick(distinct.get("descriptors", []), SOUND_SHARE, avoid | _words(place))
    return {"style": style, "place": place, "from": "from " if country else "", "sound": sound,
            "era": _era_of(profile)}


def offline_title(cluster: dict[str, Any]) -> str:
    """A shelf label from the leaf's distinguishing values: "Melodic Death Metal from Sverige, late
    2000s", "Dusty Deep House, Berlin 2007-2014"; the working title when there is nothing to go on."""
    parts = title_parts(cluster)
    if not parts["style"]:
        return as_text(cluster.get("title")) or str(cluster["cluster_id"])
    head = parts["style"]
    if parts["sound"] and not parts["place"]:
        head = f"{parts['sound'][:1].upper()}{parts['sound'][1:]} {head}"
    if parts["place"]:
        head = f"{head} {parts['from']}{parts['place']}" if parts["from"] else f"{head}, {parts['place']}"
    return f"{head}, {parts['era']}" if parts["era"] else head


def _energy_word(level: float) -> str:
    return "low-key" if level <= 3 else "mid-energy" if level <= 6 else "high-energy"


def offline_description(cluster: dict[str, Any], examples: list[int] | None = None, variant: int = 0) -> str:
    """Four to six plain sentences from the facts: sound, place, years, tempo and energy where known,
    anchor artists and a first track. ``variant`` rotates the opening so neighbouring leaves do not
    read alike; openings start from the leaf's own facts (its style, artists or place)."""
    profile = cluster.get("profile") or {}
    parts = title_parts(cluster)
    style = parts["style"] or "this music"
    count = int(cluster.get("track_count", 0))
    n_tracks = f"{count} track{'s' if count != 1 else ''}"
    years = profile.get("years") or []
    span = (f"{years[0]}" if years[0] == years[1] else f"{years[0]} and {years[1]}") if len(years) == 2 else ""
    artists = [str(a[0]) for a in profile.get("artists", [])][:3]
    genres = [str(g[0]) for g in profile.get("genre", []) if float(g[1]) >= 0.25 and str(g[0]) != style]
    related = [g for g in genres if not _words(g) <= _words(style)][:2]
    sounds = [str(d[0]) for d in profile.get("descriptors", []) if float(d[1]) >= 0.2][:3]
    place = parts["place"]

    openings = []
    where = f"from {place}" if parts["from"] else f"out of the {place} scene"
    if place:
        openings.append(f"{style} {where}" + (f", released between {span}." if " and " in span else "."))
    if artists:
        openings.append(f"{_join(artists)} set the tone for these {n_tracks} of {style}.")
    if sounds:
        openings.append(f"{sounds[0][:1].upper()}{sounds[0][1:]} {style} runs through all {n_tracks}.")
    openings.append(f"{n_tracks[:1].upper()}{n_tracks[1:]} of {style}" + (f" {where}." if place else "."))
    if parts["era"] and not _YEARISH.match(parts["era"]):
        openings.append(f"{parts['era'][:1].upper()}{parts['era'][1:]} {style} in {n_tracks}.")
    sentences = [openings[variant % len(openings)]]
    if related:
        sentences.append(f"You will also hear {_join(related)}.")
    if sounds and not sentences[0].casefold().startswith(sounds[0].casefold()):
        sentences.append(f"Expect {_join([d.casefold() for d in sounds])} records.")
    elif len(sounds) > 1:
        sentences.append(f"Expect {_join([d.casefold() for d in sounds[1:]])} moments too.")
    tempo = profile.get("bpm") or []
    energy = profile.get("energy") or []
    if tempo and energy:
        sentences.append(f"Tempos sit between {tempo[0]} and {tempo[2]} BPM at a {_energy_word(energy[1])} level.")
    elif tempo:
        sentences.append(f"Tempos sit between {tempo[0]} and {tempo[2]} BPM.")
    if span and span not in sentences[0]:
        sentences.append(f"The records date from {span.replace(' and ', ' to ')}." if " and " in span
                         else f"Every record here is from {span}.")
    if artists and not sentences[0].startswith(artists[0]):
        line = f"Names to know: {_join(artists)}"
        sentences.append(line if line.endswith(".") else line + ".")  # "P.O.D." needs no second stop
    if examples:
        first = next((c for c in cluster.get("candidates", []) if int(c["track_id"]) == examples[0]), None)
        if first is not None and first.get("title") and first.get("artist"):
            year = f" ({first['year']})" if first.get("year") else ""
            sentences.append(f"Start with \u201c{first['title']}\u201d by {first['artist']}{year}.")
    lineage = str(cluster.get("genre_lineage") or "")
    fillers = [f"On the genre tree it sits under {lineage}." if " > " in lineage else "",
               f"Most of it is {parts['era']}." if parts["era"] and not _YEARISH.match(parts["era"]) else "",
               f"{count} tracks in all, best heard in order."]
    fillers = [f for f in fillers if f]
    while len(sentences) < 4 and fillers:
        sentences.append(fillers.pop(0))
    return " ".join(sentences[:6])


def solve_offline(payload: Payload) -> Answer:
    limit = int(payload.get("examples_per_leaf", EXAMPLES))
    leaves = []
    for position, cluster in enumerate(payload["clusters"]):
        examples = pick_exemplars(cluster["candidates"], limit)
        variant = position + zlib.crc32(str(cluster["cluster_id"]).encode())  # stable, not the salted hash()
        leaves.append({"cluster_id": cluster["cluster_id"], "title": offline_title(cluster),
                       "description": offline_description(cluster, examples, variant), "examples": examples})
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
