"""Task ``score_clusters`` (phase 4, mechanical tier): a 1-10 quality score per cluster, plus merge and
split suggestions, for one batch of cluster summaries.

Seed profile payload (the reference): ``cluster_id``, ``title``, ``description`` (200 chars),
``track_count``. The default profile adds the genre/scene context and track-level ``features``
(``collection_tree.core.features.TrackFeatures.summary``): year spread and modes, era spread,
agreement with the cluster's own filters, other frequent tags, and bpm / key / energy when the
collection has them.

The offline solver reads only the payload: scores from filter agreement and feature spread (neutral
7 without features); merges for small clusters of one genre leaf whose scene contexts are the same
scene in another era slice or siblings under one scene parent, or whose titles differ only by era;
splits for clusters over 30 tracks with two year (or bpm / energy) modes or two frequent tags that
rarely meet.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

from collection_tree.llm.normalise import as_records, as_score, as_str_id, as_str_ids, as_text
from collection_tree.tasks._schema import record_array, strict_object
from collection_tree.tasks.base import Answer, Payload, TaskSpec

SYSTEM = """You are the quality editor of a music collection that is being organised into playlists.

Each playlist ("cluster") was built from the intersection of a genre tree leaf (musical lineage, \
e.g. "Rock > Metal > Nu-Metal") and a scene tree leaf (a place, language or movement in an era, \
e.g. "USA Metal 2000-2004"), then every track of the collection was placed in exactly one cluster. \
Your job is to judge how good each cluster is as a playlist, and to point out clusters that should \
be merged with each other or split in two.

You receive a batch of clusters. Every cluster has:
- cluster_id: an opaque identifier. Copy it exactly; never invent or alter one.
- title and description: the playlist's current name and the start of its description.
- track_count: how many tracks it holds.
Some requests also give, per cluster:
- genre_context, scene_context: the titles of the genre leaf and the scene leaf it came from;
  scene_lineage: the scene leaf's path in the scene tree ("USA > USA 2005-2010 > USA Metal 2005-2010").
- features: measured from the cluster's tracks (shares are fractions of its tracks, 0-1):
  - filter_agreement: per defining filter (genre, scene_tags, year_range ...), the share of tracks
    that match it. Low agreement means many tracks were placed here only as the nearest fit.
  - year (and bpm, energy when the collection has them): min, median, max, iqr (interquartile
    range); iqr_ratio compares the spread with the whole collection's (below 1 is tighter);
    modes, when present, are two separate groups (each with its range and share): a sign the
    cluster holds two playlists.
  - era: the most common era phrases and their shares.
  - other_genre, other_scene_tags, other_descriptors: the most frequent tags besides the cluster's
    own filter values ("top": [tag, share]), the share of tracks with any such tag, and
    top2_overlap, the share holding both of the top two tags. Two frequent tags that rarely occur
    together also mean two groups.
  - key: how many distinct musical keys and the most common ones.

Score every cluster with an integer from 1 to 10:
- 9-10: one sound, one moment; title and description fit every track; tight spread.
- 7-8: a clear identity with a few outliers or a moderate spread.
- 5-6: a usable playlist that mixes two related styles or eras, or whose tracks only partly match
  its defining filters.
- 3-4: a loose grab-bag held together by tags only, or two clearly separate groups.
- 1-2: no musical common ground.
Judge from the evidence given. When features are missing, judge from the title, description and size.
A very small cluster is not bad in itself; judge what it holds.

merge_suggestions: groups of two or more clusters of THIS batch that a listener would expect to
find as one playlist: typically small clusters (under 15 tracks each) of the same genre leaf whose
scenes are the same scene in neighbouring era slices, or sibling scenes of one place, or clusters
whose titles say the same thing. Keep a merged group at 30 tracks or fewer. Do not merge clusters
that differ in genre or in character just to make them bigger. Give each cluster in at most one group,
the cluster to keep first, and a short reason.

split_suggestions: clusters of more than 30 tracks that hold two or more distinct playlists (two
separate year or tempo groups, two frequent tags that rarely meet, two unrelated styles). Give the
cluster_id and a short reason naming the dividing facet. Do not suggest splitting a cluster that is
merely large but uniform.

Empty suggestion lists are a good answer when the batch is fine. Answer every cluster of the batch
exactly once in scores. Respond with one JSON object matching the schema:
{"scores": [{"cluster_id", "score"}], "merge_suggestions": [{"cluster_ids", "reason"}],
"split_suggestions": [{"cluster_id", "reason"}]}.
"""

# A playlist's 1-10 score in every schema that asks one (scoring, and the renames and splits that score
# what they create), and the scale in one line for the prompts that add a score to another task.
SCORE_PROPERTY: dict[str, Any] = {"type": "integer", "description": "1 (no common ground) to 10 (one sound)"}
SCORE_SCALE = ("(9-10: one sound, one moment; 7-8: a clear identity with a few outliers or a moderate spread; "
               "5-6: two related styles or eras; 3-4: a loose grab-bag or two separate groups; 1-2: no musical "
               "common ground)")

SCHEMA: dict[str, Any] = strict_object({
    "scores": record_array({
        "cluster_id": {"type": "string"},
        "score": SCORE_PROPERTY,
    }),
    "merge_suggestions": record_array({
        "cluster_ids": {"type": "array", "items": {"type": "string"},
                        "description": "two or more cluster_ids of this batch, the one to keep first"},
        "reason": {"type": "string"},
    }),
    "split_suggestions": record_array({"cluster_id": {"type": "string"}, "reason": {"type": "string"}}),
})

DEFAULT_SCORE = 5  # the reference: a score that cannot be read counts as 5
NEUTRAL_SCORE = 7  # offline, without features: no evidence against the cluster
SMALL = 15  # offline: merge candidates hold fewer tracks than this ...
MERGED_MAX = 30  # ... and a merged group stays at or below the reference's split threshold
SPLIT_ABOVE = 30  # the reference splits only clusters with more tracks than this
TAG_MODE_SHARE = 0.25  # two other tags each on >= 25% of tracks ...
TAG_MODE_OVERLAP = 0.1  # ... that meet on at most 10% of them are two groups
REASON_CHARS = 300


def schema_for(payload: Payload) -> dict[str, Any]:
    """The schema with ``cluster_id`` restricted to the batch's ids (constrained decoding then
    cannot produce an id the batch did not offer)."""
    ids = [str(c["cluster_id"]) for c in payload.get("clusters", [])]
    schema = copy.deepcopy(SCHEMA)
    if ids:
        props = schema["properties"]
        props["scores"]["items"]["properties"]["cluster_id"]["enum"] = ids
        props["merge_suggestions"]["items"]["properties"]["cluster_ids"]["items"]["enum"] = ids
        props["split_suggestions"]["items"]["properties"]["cluster_id"]["enum"] = ids
    return schema


# ------------------------------------------------------------------------------ normalisation
def _score(item: dict[str, Any]) -> int:
    value = item.get("score", item.get("quality_score", item.get("rating")))
    return round(as_score(value, default=DEFAULT_SCORE))


def normalise(answer: Answer, payload: Payload) -> Answer:
    """Scores as nested dicts (``{"score": {"value": 8}}``), strings or a dict keyed by cluster id ->
    ints 1-10 (unreadable: 5); ids wrapped in dicts unwrapped; ids the batch did not offer, repeats,
    merge groups left with fewer than two ids and splits naming no offered id: dropped."""
    offered = [str(c["cluster_id"]) for c in payload.get("clusters", [])]
    scores: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in as_records(answer.get("scores"), "cluster_id", "score"):
        cid = as_str_id(item.get("cluster_id", item.get("id")), offered)
        if cid is None or cid in seen:
            continue
        seen.add(cid)
        scores.append({"cluster_id": cid, "score": _score(item)})

    merges: list[dict[str, Any]] = []
    for item in answer.get("merge_suggestions") or []:
        if isinstance(item, list):  # a bare list of ids
            item = {"cluster_ids": item}
        if not isinstance(item, dict):
            continue
        raw = item.get("cluster_ids", item.get("clusters", item.get("ids")))
        ids = as_str_ids(raw, offered) if isinstance(raw, list) else []
        if len(ids) >= 2:
            merges.append({"cluster_ids": ids, "reason": as_text(item.get("reason"), limit=REASON_CHARS)})

    splits: list[dict[str, Any]] = []
    split_seen: set[str] = set()
    for item in answer.get("split_suggestions") or []:
        if not isinstance(item, dict):  # a bare id
            item = {"cluster_id": item}
        cid = as_str_id(item.get("cluster_id", item.get("id")), offered)
        if cid is None or cid in split_seen:
            continue
        split_seen.add(cid)
        splits.append({"cluster_id": cid, "reason": as_text(item.get("reason"), limit=REASON_CHARS)})
    return {"scores": scores, "merge_suggestions": merges, "split_suggestions": splits}


# ------------------------------------------------------------------------------ offline solver
_YEARS = re.compile(r"\(?\b\d{4}s?(?:\s*[-–]\s*\d{2,4}s?)?\b\)?")
_ERA_WORDS = re.compile(r"\b(early|mid|late)\b", re.IGNORECASE)
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def title_key(title: str) -> str:
    """A title without its era: ``"Nu-Metal, USA early 2000s"`` and ``"Nu-Metal × USA 2005-2010"`` ->
    ``"nu metal usa"`` (era slices of one scene then compare equal)."""
    text = _ERA_WORDS.sub(" ", _YEARS.sub(" ", str(title or "")))
    return " ".join(w for w in _NON_WORD.sub(" ", text.casefold().replace("×", " ")).split() if w)


def scene_family(lineage: str, title: str) -> str:
    """The scene leaf's parent without era slices: siblings and era slices of a scene share it."""
    parts = [p.strip() for p in str(lineage or "").split(">") if p.strip()]
    parent = parts[:-1] if len(parts) > 1 else parts
    return " > ".join(k for k in (title_key(p) for p in parent) if k) or title_key(title)


def _tightness(stats: dict[str, Any] | None, column: str) -> float | None:
    """1 for a tight spread, falling to 0 for a wide one (years by IQR, others relative to the collection)."""
    if not isinstance(stats, dict):
        return None
    if column == "year":
        iqr = float(stats.get("iqr", 0) or 0)
        return min(1.0, max(0.0, 1.0 - max(iqr - 2.0, 0.0) / 6.0))
    ratio = stats.get("iqr_ratio")
    if ratio is None:
        return None
    return min(1.0, max(0.0, 1.2 - 0.7 * float(ratio)))


def split_reason(cluster: dict[str, Any]) -> str:
    """Why a cluster holds two playlists, from its features ("" when it does not)."""
    features = cluster.get("features") or {}
    for column in ("year", "bpm", "energy"):
        modes = (features.get(column) or {}).get("modes") if isinstance(features.get(column), dict) else None
        if modes and len(modes) == 2:
            lo, hi = modes
            return (f"two {column} groups: {lo['range'][0]}-{lo['range'][1]} ({lo['share']:.0%}) and "
                    f"{hi['range'][0]}-{hi['range'][1]} ({hi['share']:.0%})")
    for column in ("other_scene_tags", "other_descriptors", "other_genre"):
        info = features.get(column) or {}
        top = info.get("top") or []
        if len(top) >= 2 and top[1][1] >= TAG_MODE_SHARE and top[0][1] <= 1 - TAG_MODE_SHARE \
                and float(info.get("top2_overlap", 1.0)) <= TAG_MODE_OVERLAP:
            return (f"two tag groups that rarely meet: {top[0][0]} ({top[0][1]:.0%}) and "
                    f"{top[1][0]} ({top[1][1]:.0%})")
    if "year" not in features:
        eras = features.get("era") or []
        if len(eras) >= 2 and eras[1][1] >= 0.35:
            return f"two eras: {eras[0][0]} and {eras[1][0]}"
    return ""


def offline_score(cluster: dict[str, Any]) -> int:
    """1-10 from filter agreement (70%: the mean of the value filters' shares and their minimum, so one
    filter most tracks miss weighs heavily) and spread (30%: year / bpm / energy tightness, key focus;
    era concentration only without years). A cluster holding two groups loses a point."""
    features = cluster.get("features")
    if not isinstance(features, dict) or not features.get("tracks"):
        return NEUTRAL_SCORE
    agreement = features.get("filter_agreement") or {}
    values = [float(v) for k, v in agreement.items() if not k.endswith("_range")]
    ranges = [float(v) for k, v in agreement.items() if k.endswith("_range")]
    spread: list[float] = ranges[:]
    for column in ("year", "bpm", "energy"):
        tight = _tightness(features.get(column), column)
        if tight is not None:
            spread.append(tight)
    eras = features.get("era") or []
    if eras and "year" not in features:
        spread.append(float(eras[0][1]))
    key = features.get("key") or {}
    if key.get("top"):
        spread.append(min(1.0, 3.0 * float(key["top"][0][1])))
    if not values and not spread:
        return NEUTRAL_SCORE
    fit = (sum(values) / len(values) + min(values)) / 2 if values else None
    spread_part = sum(spread) / len(spread) if spread else None
    if fit is None or spread_part is None:
        value = fit if fit is not None else spread_part
    else:
        value = 0.7 * fit + 0.3 * spread_part
    score = round(1 + 9 * float(value)) - (1 if split_reason(cluster) else 0)
    return max(1, min(10, score))


def _merge_key(cluster: dict[str, Any]) -> tuple[str, ...] | None:
    genre = str(cluster.get("genre_context") or "").strip().casefold()
    if genre:
        return ("genre", genre, scene_family(str(cluster.get("scene_lineage") or ""),
                                             str(cluster.get("scene_context") or "")))
    return None


def offline_merges(clusters: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Greedy groups of small clusters sharing a genre leaf and a scene family (or, without
    contexts, a title that differs only by era), smallest first, each group <= 30 tracks."""
    small = sorted((c for c in clusters if 0 < int(c.get("track_count", 0)) < SMALL),
                   key=lambda c: (int(c["track_count"]), str(c["cluster_id"])))
    used: set[str] = set()
    groups: list[dict[str, Any]] = []
    for seed in small:
        if seed["cluster_id"] in used:
            continue
        keys = {k for k in (_merge_key(seed), ("title", title_key(seed.get("title", "")))) if k and k[-1]}
        group, total, why = [seed], int(seed["track_count"]), ""
        for other in small:
            if other["cluster_id"] in used or other is seed or total + int(other["track_count"]) > MERGED_MAX:
                continue
            shared = keys & {_merge_key(other), ("title", title_key(other.get("title", "")))}
            if shared:
                group.append(other)
                total += int(other["track_count"])
                if not why:
                    why = ("same genre leaf and scene family" if any(k[0] == "genre" for k in shared if k)
                           else "titles differ only by era")
        if len(group) < 2:
            continue
        used.update(c["cluster_id"] for c in group)
        # Keep the biggest cluster's identity (its id and context survive the merge).
        group.sort(key=lambda c: (-int(c["track_count"]), str(c["cluster_id"])))
        groups.append({"cluster_ids": [c["cluster_id"] for c in group],
                       "reason": f"{why}; {total} tracks together"})
    return groups


def solve_offline(payload: Payload) -> Answer:
    clusters = list(payload.get("clusters", []))
    scores = [{"cluster_id": c["cluster_id"], "score": offline_score(c)} for c in clusters]
    splits = []
    for c in clusters:
        if int(c.get("track_count", 0)) > SPLIT_ABOVE:
            reason = split_reason(c)
            if reason:
                splits.append({"cluster_id": c["cluster_id"], "reason": reason})
    return {"scores": scores, "merge_suggestions": offline_merges(clusters), "split_suggestions": splits}


def example() -> Payload:
    def cluster(cid: str, title: str, scene: str, lineage: str, n: int, years: tuple[int, int]) -> dict[str, Any]:
        return {
            "cluster_id": cid, "title": title, "track_count": n,
            "description": f"{n} tracks where Nu-Metal meets {scene}.",
            "genre_context": "Nu-Metal", "scene_context": scene, "scene_lineage": lineage,
            "features": {"tracks": n, "filter_agreement": {"genre": 0.9, "scene_tags": 0.8, "year_range": 1.0},
                         "year": {"min": years[0], "median": sum(years) // 2, "max": years[1], "iqr": 2},
                         "era": [["early 2000s", 0.7]]},
        }

    big = cluster("rock-nu-metal__nu-metal-2000-2004", "Nu-Metal Heyday", "Nu-Metal 2000-2004",
                  "Scenes & movements > Rock, punk & metal movements > Nu-Metal > Nu-Metal 2000-2004", 77, (2000, 2009))
    big["features"]["year"].update({"iqr": 6, "modes": [{"range": [2000, 2003], "share": 0.55},
                                                        {"range": [2007, 2009], "share": 0.45}]})
    return {"clusters": [
        big,
        cluster("rock-nu-metal__usa-metal-2000-2004", "Nu-Metal, USA early 2000s", "USA Metal 2000-2004",
                "USA > USA 2000-2004 > USA Metal 2000-2004", 9, (2000, 2004)),
        cluster("rock-nu-metal__usa-metal-2005-2010", "Nu-Metal, USA late 2000s", "USA Metal 2005-2010",
                "USA > USA 2005-2010 > USA Metal 2005-2010", 6, (2005, 2008)),
    ]}


TASK = TaskSpec(name="score_clusters", tier="mechanical", system=SYSTEM, schema=SCHEMA, normalise=normalise,
                solve_offline=solve_offline, max_tokens=8192, example=example)
