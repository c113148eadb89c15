"""Task ``reassign_tracks`` (phase 3, mechanical tier): put each track into the best offered cluster,
or answer "unassigned".

Two payload shapes share the task. The reference's (seed profile): every cluster as a compact summary
(id, title, track_count) and tracks without candidates. Ours (default profile): clusters also carry
their genre and scene context titles, and each track lists its ``candidates`` (the few clusters that
scored best for it): its answer must be one of them.
"""

from __future__ import annotations

import math
from collections.abc import Container
from typing import Any

from collection_tree.llm.normalise import as_int, as_records, as_str_id
from collection_tree.tasks._schema import record_list
from collection_tree.tasks.base import Answer, Payload, TaskSpec
from collection_tree.tasks.name_clusters import words, year_spans

UNASSIGNED = "unassigned"

SYSTEM = """You sort tracks of a personal music collection into existing playlists ("clusters").

Input:
- clusters: the playlists you may choose from. Each has cluster_id (an opaque identifier: copy it \
exactly), title, track_count (its current size) and, when given, genre and scene: the genre-tree \
leaf and scene-tree leaf it was built from (musical lineage, and place/language/movement/era).
- tracks: the tracks to place. Each has track_id, title, artist, year and the start of its tag \
comment (e.g. "Genre: Rock / Metal / Nu-Metal | Scene: USA | Era: early 2000s (2001)"). A track \
may list candidates: then only those cluster_id values are allowed for it, best-scoring first.

For EVERY track, answer {"track_id": <the track's id>, "cluster_id": <one allowed cluster_id>} or \
{"track_id": <id>, "cluster_id": "unassigned"}.

How to choose:
1. Genre first: the cluster whose genre lineage matches the track's genre tags most specifically \
(a "Melodic Death Metal" track belongs with melodic death metal before metal in general).
2. Then scene: place, language, movement and era (year) of the track against the cluster's scene.
3. Use what you know about the artist only to resolve what the tags leave open (e.g. where a band \
comes from when the comment names no place).
4. Between equally good clusters prefer the one whose title describes the track best; cluster size \
is not a reason to choose a cluster.
5. Answer "unassigned" when no allowed cluster fits the track's genre at all; a weak but real fit \
is better than "unassigned".

Rules: use only cluster_id values offered for that track; answer every track exactly once; never \
invent tracks or clusters. Respond with one JSON object matching the schema: \
{"assignments": [{"track_id", "cluster_id"}]}.
"""

SCHEMA: dict[str, Any] = record_list("assignments", {
    "track_id": {"type": "integer"},
    "cluster_id": {"type": "string", "description": 'an offered cluster_id, or "unassigned"'},
})

_NO_CLUSTER = {"unassigned", "none", "null", "", "n/a", "no match", "unknown"}
# Era words match half-heartedly: "early 2000s" says little about which playlist a track is in.
_ERA_WORDS = {"early", "mid", "late", "2000s", "1990s", "2010s", "1980s", "1970s", "s"}
_STOP = {"the", "and", "of", "a", "in", "&", "with", "songs", "tagged", "genre", "scene", "era", "notes",
         "language", "under"}


def _allowed(track: dict[str, Any], offered: list[str], known: Container[str]) -> list[str]:
    """The track's candidates that were offered (``known``: the offered ids, a set or dict, made once
    per payload: a list made every track's candidates a scan of every offered cluster), else all."""
    candidates = track.get("candidates")
    if isinstance(candidates, list) and candidates:
        return [c for c in (str(x) for x in candidates) if c in known]
    return offered


def normalise(answer: Answer, payload: Payload) -> Answer:
    """Track ids wrapped in dicts or given as strings, cluster ids wrapped in dicts, a dict keyed by
    track id, "none"/null for unassigned: repaired. Tracks the payload did not send, repeats, and
    cluster ids not offered for that track: dropped (the track stays where it was for this pass)."""
    offered = [str(c["cluster_id"]) for c in payload.get("clusters", [])]
    known = set(offered)
    tracks = {int(t["track_id"]): t for t in payload.get("tracks", [])}
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    for item in as_records(answer.get("assignments"), "track_id", "cluster_id"):
        tid = as_int(item.get("track_id", item.get("id")))
        if tid is None or tid not in tracks or tid in seen:
            continue
        raw = item.get("cluster_id", item.get("cluster"))
        if raw is None or (isinstance(raw, str) and raw.strip().casefold() in _NO_CLUSTER):
            cid = UNASSIGNED
        else:
            cid = as_str_id(raw, _allowed(tracks[tid], offered, known))
            if cid is None:
                continue
        seen.add(tid)
        out.append({"track_id": tid, "cluster_id": cid})
    return {"assignments": out}


# ------------------------------------------------------------------------------ offline solver
def _cluster_profile(cluster: dict[str, Any]) -> tuple[set[str], list[tuple[int, int]]]:
    text = " ".join(str(cluster.get(k) or "") for k in ("title", "genre", "scene"))
    return words(text) - _STOP, year_spans(text)


def solve_offline(payload: Payload) -> Answer:
    """Comment words against cluster title and context words, rarer words weighing more (idf over the
    offered clusters), era words a quarter, the year inside a cluster's year span a half. A track
    needs at least one genre or scene word in common to be placed; ties go to the cluster offered
    first (for a track with candidates: its best-scoring one)."""
    clusters = [c for c in payload.get("clusters", []) if c.get("cluster_id") is not None]
    profiles = {str(c["cluster_id"]): _cluster_profile(c) for c in clusters}
    offered = list(profiles)
    doc_freq: dict[str, int] = {}
    for vocab, _ in profiles.values():
        for word in vocab:
            doc_freq[word] = doc_freq.get(word, 0) + 1
    n = max(len(profiles), 1)
    assignments = []
    for track in payload.get("tracks", []):
        comment_words = words(str(track.get("comment") or "")) - _STOP
        year = track.get("year")
        best, best_score = UNASSIGNED, 0.0
        for cid in _allowed(track, offered, profiles):
            vocab, spans = profiles[cid]
            common = comment_words & vocab
            strong = common - _ERA_WORDS
            if not strong:
                continue
            score = sum(1.0 + math.log(n / doc_freq[w]) for w in strong) + 0.25 * len(common & _ERA_WORDS)
            if isinstance(year, int) and any(lo <= year <= hi for lo, hi in spans):
                score += 0.5
            if score > best_score + 1e-9:
                best, best_score = cid, score
        assignments.append({"track_id": int(track["track_id"]), "cluster_id": best})
    return {"assignments": assignments}


def example() -> Payload:
    return {
        "clusters": [
            {"cluster_id": "rock-nu-metal__usa-metal-2000-2004", "title": "Nu-Metal, USA early 2000s",
             "track_count": 42, "genre": "Nu-Metal", "scene": "USA Metal 2000-2004"},
            {"cluster_id": "rock-pop-punk__pop-punk-2005-2010", "title": "Pop-Punk, 2005-2010",
             "track_count": 128, "genre": "Pop-Punk", "scene": "Pop-Punk 2005-2010"},
            {"cluster_id": "country-bluegrass__usa-2000-2004", "title": "Bluegrass, USA early 2000s",
             "track_count": 9, "genre": "Bluegrass", "scene": "USA 2000-2004"},
        ],
        "tracks": [
            {"track_id": 1, "title": "Jesus (Of Nazareth)", "artist": "(Hed) P.E.", "year": 2000,
             "comment": "Genre: Rock / Nu-Metal / Metal | Era: early 2000s (2000)",
             "candidates": ["rock-nu-metal__usa-metal-2000-2004", "rock-pop-punk__pop-punk-2005-2010"]},
            {"track_id": 2, "title": "Cindy", "artist": "2nd South Carolina String Band", "year": 2000,
             "comment": "Genre: Country / Bluegrass | Era: early 2000s (2000)"},
            {"track_id": 7, "title": "Lullaby", "artist": "Nobody Knows", "year": 2006,
             "comment": "Genre: Jazz / Big Band | Era: mid 2000s (2006)"},
        ],
    }


TASK = TaskSpec(name="reassign_tracks", tier="mechanical", system=SYSTEM, schema=SCHEMA, normalise=normalise,
                solve_offline=solve_offline, max_tokens=8192, example=example)
