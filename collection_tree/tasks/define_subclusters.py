"""Task ``define_subclusters`` (phase 4, mechanical tier): 2-4 sub-playlists for a cluster that holds
more than one, each a title, a description and filters, from the cluster and a mini landscape of its
tracks' facets (``TrackFeatures.landscape``).

Filters use the input contract's keys (a facet -> wanted values; ``<column>_range`` -> ``[lo, hi]``).
The answer schema lists every key (unused ones empty: structured outputs want every property
required); ``normalise`` keeps only facets and values the landscape offered and ranges that overlap
the observed values, and the phase then drops the empty keys.

The offline solver splits on the strongest two-way structure in the landscape: two year (or bpm /
energy) modes by Otsu's threshold, else two or more frequent values of one facet (a scene tag, a
country, a descriptor, a genre, a key; era only without years) that are not the cluster's own.

With ``"with_score": true`` (default profile; :func:`request` then appends ``SCORE_INSTRUCTIONS`` to the
instructions) the payload also carries the cluster's current score (``cluster.quality_score``) and each
sub-playlist of the answer a 1-10 ``score``, so the parts need no scoring call of their own; an
unreadable score counts as 5 (``score_clusters.DEFAULT_SCORE``). Offline, a part scores one point above
its parent (it holds one of the groups the parent mixed; neutral 7 plus one without a parent score).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from typing import Any

from collection_tree.core.features import MODE_GAP, MODE_MIN_SHARE, two_modes
from collection_tree.llm.interface import LLMRequest
from collection_tree.llm.normalise import as_records, as_score, as_text
from collection_tree.tasks import score_clusters
from collection_tree.tasks._schema import record_list, strict_object
from collection_tree.tasks.base import Answer, Payload, TaskSpec

VALUE_KEYS = ("genre", "scene_tags", "descriptors", "era", "country", "key")
RANGE_KEYS = ("year_range", "bpm_range", "energy_range")
FILTER_KEYS = (*VALUE_KEYS, *RANGE_KEYS)
MIN_SUBCLUSTERS, MAX_SUBCLUSTERS = 2, 4
TITLE_CHARS = 120
DESCRIPTION_CHARS = 1200
# Offline: a value splits off a group when it is on 20-80% of the tracks.
VALUE_MIN_SHARE, VALUE_MAX_SHARE = 0.2, 0.8
FACET_WEIGHT = {"scene_tags": 1.0, "country": 1.0, "descriptors": 0.9, "genre": 0.8, "key": 0.6, "era": 0.7}

SYSTEM = """You are a music curator splitting a playlist that holds more than one playlist.

The input has:
- cluster: the playlist to split: its title, the start of its description, the genre_context and \
scene_context it came from (a genre tree leaf and a scene tree leaf), track_count, and the filters \
that defined it.
- landscape: what its tracks hold.
  - values: per facet (genre, scene_tags, descriptors, era, country, key ...) the most frequent \
values as [value, number of tracks]. A track can hold several genre, scene_tags and descriptors \
values, but only one era, country and key.
  - numeric: per numeric column (year, bpm, energy) its min, max and a histogram of \
[low, high, number of tracks] bins (one bin per year for years).
- max_subclusters: the most sub-playlists you may define.

Define 2 to max_subclusters sub-playlists that divide the tracks into groups a listener would \
recognise as different playlists: typically two separate eras or year groups, two places or \
languages, two styles, or two tempo ranges. Each sub-playlist has:
1. title: an evocative playlist name of 2 to 6 words, different from the other sub-playlists' titles.
2. description: 2 to 3 sentences on what sets this group apart.
3. filters: how to recognise its tracks. Every key of the filters object must be present:
   - genre, scene_tags, descriptors, era, country, key: lists of values copied exactly from the \
landscape's values for that facet (use [] for facets you do not use);
   - year_range, bpm_range, energy_range: [low, high] inclusive, inside the landscape's numeric \
range for that column (use [] when you do not use it).
   Use only the one to three facets that tell the groups apart; do not repeat values every track \
shares. Tracks are then sent to the sub-playlist whose filters they match best, so the groups' \
filters should not overlap and together should cover most tracks.

Respond with one JSON object matching the schema: {"subclusters": [{"title", "description", \
"filters": {"genre": [], "scene_tags": [], "descriptors": [], "era": [], "country": [], "key": [], \
"year_range": [], "bpm_range": [], "energy_range": []}}]}.
"""

# Appended to the instructions when the payload asks ``with_score`` (the seed profile's prompt stays the reference's).
SCORE_INSTRUCTIONS = f"""
The cluster also has quality_score, the whole playlist's score. Give each sub-playlist a score too: an \
integer from 1 to 10 for it as a playlist {score_clusters.SCORE_SCALE}, judged from what its filters \
select in the landscape. Each sub-playlist of the JSON object then also has "score".
"""

_FILTERS_SCHEMA: dict[str, Any] = strict_object({
    **{key: {"type": "array", "items": {"type": "string"}} for key in VALUE_KEYS},
    **{key: {"type": "array", "items": {"type": "number"}, "description": "[low, high] or []"} for key in RANGE_KEYS},
})

SCHEMA: dict[str, Any] = record_list(
    "subclusters",
    {"title": {"type": "string"}, "description": {"type": "string"}, "filters": _FILTERS_SCHEMA},
    description="2 to 4 sub-playlists",
)


def request(payload: Payload) -> LLMRequest:
    """The request for ``payload`` (its schema from :func:`schema_for`): with ``with_score``, the score's
    instructions too."""
    req = TASK.request(payload, schema=schema_for(payload))
    return replace(req, system=SYSTEM + SCORE_INSTRUCTIONS) if payload.get("with_score") else req


def schema_for(payload: Payload) -> dict[str, Any]:
    """The schema with each facet's values restricted to the landscape's (an ``enum``), and each
    sub-playlist's ``score`` when the payload asks ``with_score``."""
    schema = copy.deepcopy(SCHEMA)
    item = schema["properties"]["subclusters"]["items"]
    if payload.get("with_score"):
        item["properties"]["score"] = score_clusters.SCORE_PROPERTY
        item["required"].append("score")
    props = item["properties"]["filters"]["properties"]
    for facet, rows in (payload.get("landscape", {}).get("values") or {}).items():
        if facet in props and rows:
            props[facet]["items"]["enum"] = [str(r[0]) for r in rows]
    return schema


# ------------------------------------------------------------------------------ normalisation
def _offered(payload: Payload) -> tuple[dict[str, dict[str, str]], dict[str, tuple[float, float]]]:
    landscape = payload.get("landscape") or {}
    values = {facet: {str(r[0]).strip().casefold(): str(r[0]) for r in rows}
              for facet, rows in (landscape.get("values") or {}).items() if facet in VALUE_KEYS}
    ranges = {f"{column}_range": (float(info["min"]), float(info["max"]))
              for column, info in (landscape.get("numeric") or {}).items() if f"{column}_range" in RANGE_KEYS}
    return values, ranges


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _as_range(value: Any) -> tuple[float, float] | None:
    """[lo, hi], {"min": lo, "max": hi} or "lo-hi" -> (lo, hi) ordered; anything else -> None."""
    if isinstance(value, dict):
        value = [value.get("min", value.get("lo", value.get("low"))), value.get("max", value.get("hi",
                                                                                                  value.get("high")))]
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*(?:-|–|to|\.\.)\s*(-?\d+(?:\.\d+)?)\s*", value)
        value = [match.group(1), match.group(2)] if match else None
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    lo, hi = _number(value[0]), _number(value[1])
    if lo is None or hi is None:
        return None
    return (lo, hi) if lo <= hi else (hi, lo)


def _whole(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


def clean_filters(raw: Any, values: dict[str, dict[str, str]], ranges: dict[str, tuple[float, float]]
                  ) -> dict[str, list[Any]]:
    """Every filter key present; only offered facets/values (landscape spelling) and ranges
    clipped to the observed span (a range outside it is dropped). A list of
    ``{"facet", "values"}`` records is accepted as well as the contract's dict."""
    if isinstance(raw, list):
        raw = {str(r.get("facet", r.get("key", ""))): r.get("values", r.get("range", r.get("value")))
               for r in raw if isinstance(r, dict)}
    out: dict[str, list[Any]] = {key: [] for key in FILTER_KEYS}
    if not isinstance(raw, dict):
        return out
    for key, wanted in raw.items():
        key = str(key).strip()
        if key in values:
            items = wanted if isinstance(wanted, list) else [wanted]
            for item in items:
                canonical = values[key].get(str(item).strip().casefold()) if isinstance(item, str | int) else None
                if canonical is not None and canonical not in out[key]:
                    out[key].append(canonical)
        elif key in ranges:
            span = _as_range(wanted)
            if span is None:
                continue
            lo, hi = max(span[0], ranges[key][0]), min(span[1], ranges[key][1])
            if lo <= hi:
                out[key] = [_whole(lo), _whole(hi)]
    return out


def contract_filters(filters: dict[str, list[Any]]) -> dict[str, Any]:
    """The answer's filters in the contract's form: empty keys dropped."""
    return {key: list(value) for key, value in filters.items() if value}


def normalise(answer: Answer, payload: Payload) -> Answer:
    """Sub-clusters under another key (``sub_clusters``, ``clusters``) or keyed by title, filters as
    records, ranges as dicts or strings: repaired. Facets and values the landscape did not offer,
    sub-clusters left without filters and repeats of the same filters: dropped; more than
    ``max_subclusters`` cut. Fewer than two usable sub-clusters is not an answer (ValueError). With
    ``with_score``: each score an int 1-10 (unreadable or missing: 5)."""
    raw = answer.get("subclusters", answer.get("sub_clusters", answer.get("clusters")))
    values, ranges = _offered(payload)
    limit = min(int(payload.get("max_subclusters") or MAX_SUBCLUSTERS), MAX_SUBCLUSTERS)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in as_records(raw, "title"):
        filters = clean_filters(item.get("filters"), values, ranges)
        key = json.dumps(contract_filters(filters), sort_keys=True)
        if key == "{}" or key in seen:
            continue
        seen.add(key)
        title = as_text(item.get("title") or item.get("name"), limit=TITLE_CHARS) or _title_from(filters)
        sub = {"title": title, "description": as_text(item.get("description"), limit=DESCRIPTION_CHARS),
               "filters": filters}
        if payload.get("with_score"):
            sub["score"] = round(as_score(item.get("score"), default=score_clusters.DEFAULT_SCORE))
        out.append(sub)
    if len(out) < MIN_SUBCLUSTERS:
        raise ValueError(f"{len(out)} usable sub-cluster(s); at least {MIN_SUBCLUSTERS} needed")
    return {"subclusters": out[:limit]}


def _title_from(filters: dict[str, list[Any]]) -> str:
    parts = [", ".join(str(v) for v in filters[k]) for k in VALUE_KEYS if filters[k]]
    parts += [f"{k[: -len('_range')]} {filters[k][0]}-{filters[k][1]}" for k in RANGE_KEYS if filters[k]]
    return " · ".join(parts)[:TITLE_CHARS]


# ------------------------------------------------------------------------------ offline solver
def _own_values(cluster: dict[str, Any]) -> set[str]:
    own = set()
    for key, value in (cluster.get("filters") or {}).items():
        if not key.endswith("_range") and isinstance(value, list):
            own.update(str(v).strip().casefold() for v in value)
    return own


def _numeric_candidate(column: str, info: dict[str, Any]) -> tuple[float, list[dict[str, Any]]] | None:
    bins = [(float(lo), float(hi), float(n)) for lo, hi, n in info.get("histogram", [])]
    span = float(info.get("max", 0)) - float(info.get("min", 0))
    gap = MODE_GAP.get(column, float(info.get("mode_gap") or 0.25 * span))
    modes = two_modes(bins, min_share=MODE_MIN_SHARE, min_gap=gap)
    if modes is None:
        return None
    strength = max(0.0, 2.0 * (modes.separation - 0.5)) * modes.balance
    unit = " BPM" if column == "bpm" else ""
    subs = []
    for (lo, hi), share in ((modes.low, modes.low_share), (modes.high, modes.high_share)):
        lo_v, hi_v = (round(lo), round(hi)) if column in ("year", "bpm") else (round(lo, 3), round(hi, 3))
        subs.append({"label": f"{lo_v}-{hi_v}{unit}" if column != "energy" else f"energy {lo_v}-{hi_v}",
                     "share": share, "filters": {f"{column}_range": [lo_v, hi_v]},
                     "what": f"{column} {lo_v}-{hi_v}"})
    return strength, subs


def _value_candidate(facet: str, rows: list[list[Any]], n: int, own: set[str]
                     ) -> tuple[float, list[dict[str, Any]]] | None:
    picked: list[tuple[str, float]] = []
    total = 0.0
    for value, count in rows:
        share = float(count) / n
        if str(value).strip().casefold() in own or not VALUE_MIN_SHARE <= share <= VALUE_MAX_SHARE:
            continue
        if len(picked) >= MAX_SUBCLUSTERS or (len(picked) >= 2 and total + share > 1.2):
            break
        picked.append((str(value), share))
        total += share
    if len(picked) < 2:
        return None
    shares = [s for _, s in picked]
    strength = min(total, 1.0) * (min(shares) / max(shares)) * FACET_WEIGHT.get(facet, 0.5)
    if total > 1.15:  # multi-valued facet: the values probably overlap
        strength *= 0.5
    subs = [{"label": value, "share": share, "filters": {facet: [value]}, "what": f"{facet} {value}"}
            for value, share in picked]
    return strength, subs


_ERA_WORDS = re.compile(r",?\s*\b(?:(?:early|mid|late)\s+)?\d{4}s?(?:\s*[-–]\s*\d{4})?\b", re.IGNORECASE)


def era_label(lo: int, hi: int) -> str:
    """A year range as a label says it: "2003", "early 2000s" (within one part of a decade), "1997-2004"."""
    if lo == hi:
        return str(lo)
    decade = lo // 10 * 10
    for part, (a, b) in (("early", (0, 4)), ("mid", (3, 7)), ("late", (5, 9))):
        if hi // 10 * 10 == decade and decade + a <= lo and hi <= decade + b:
            return f"{part} {decade}s"
    return f"{lo}-{hi}"


def sub_title(parent: str, sub: dict[str, Any]) -> str:
    """A part's title: the parent's without its era, and what sets the part apart. A year part says its
    own era ("Skate Punk, early 2000s"), so it never contradicts the parent's; never cut."""
    year_range = sub["filters"].get("year_range")
    if year_range:
        base = " ".join(_ERA_WORDS.sub("", parent).split()).strip(" ,:") or parent
        return f"{base}, {era_label(int(year_range[0]), int(year_range[1]))}"
    return f"{parent}: {sub['label']}"


def solve_offline(payload: Payload) -> Answer:
    cluster = payload.get("cluster") or {}
    landscape = payload.get("landscape") or {}
    n = max(int(landscape.get("track_count") or cluster.get("track_count") or 1), 1)
    own = _own_values(cluster)
    numeric = landscape.get("numeric") or {}
    candidates: list[tuple[float, int, list[dict[str, Any]]]] = []
    for order, column in enumerate(("year", "bpm", "energy")):
        if column in numeric:
            found = _numeric_candidate(column, numeric[column])
            if found:
                candidates.append((found[0], -order, found[1]))
    for order, (facet, rows) in enumerate((landscape.get("values") or {}).items()):
        if facet == "era" and "year" in numeric:
            continue  # eras restate years; the year histogram splits them better
        found = _value_candidate(facet, rows, n, own)
        if found:
            candidates.append((found[0], -10 - order, found[1]))
    parent = str(cluster.get("title") or "Playlist")
    if not candidates:
        return {"subclusters": []}  # nothing splits it: normalise rejects this, the phase keeps the cluster
    _, _, subs = max(candidates, key=lambda c: (c[0], c[1]))
    out = []
    for sub in subs[:MAX_SUBCLUSTERS]:
        filters = {key: [] for key in FILTER_KEYS}
        filters.update(sub["filters"])
        part: dict[str, Any] = {"title": sub_title(parent, sub),
                                "description": f"The part of '{parent}' with {sub['what']} "
                                               f"(about {sub['share']:.0%} of its {n} tracks).",
                                "filters": filters}
        if payload.get("with_score"):
            part["score"] = offline_part_score(cluster)
        out.append(part)
    return {"subclusters": out}


def offline_part_score(cluster: dict[str, Any]) -> int:
    """Offline: a part scores one point above its parent (neutral 7 without one), at most 10."""
    parent = cluster.get("quality_score")
    base = score_clusters.NEUTRAL_SCORE if parent is None else round(as_score(parent))
    return min(10, base + 1)


def example() -> Payload:
    return {
        "cluster": {
            "cluster_id": "rock-nu-metal__nu-metal-2000-2004", "title": "Nu-Metal Heyday",
            "description": "77 tracks where Nu-Metal meets the Nu-Metal scene.", "track_count": 60,
            "genre_context": "Nu-Metal", "scene_context": "Nu-Metal 2000-2004",
            "filters": {"genre": ["Nu-Metal"], "scene_tags": ["Nu-Metal"], "year_range": [2000, 2004]},
        },
        "landscape": {
            "track_count": 60,
            "values": {"genre": [["Nu-Metal", 60], ["Rock", 60], ["Metal", 41], ["Rap Metal", 12]],
                       "scene_tags": [["Nu-Metal", 60], ["USA", 30], ["Deutschland", 14]],
                       "era": [["early 2000s", 33], ["late 2000s", 27]], "country": [["USA", 30], ["Deutschland", 14]]},
            "numeric": {"year": {"min": 2000, "max": 2009, "histogram": [
                [2000, 2000, 9], [2001, 2001, 12], [2002, 2002, 6], [2003, 2003, 6], [2007, 2007, 9],
                [2008, 2008, 11], [2009, 2009, 7]]}},
        },
        "max_subclusters": 4,
    }


TASK = TaskSpec(name="define_subclusters", tier="mechanical", system=SYSTEM, schema=SCHEMA, normalise=normalise,
                solve_offline=solve_offline, max_tokens=4096, example=example)
