"""Phase 6: descriptions and exemplars. Exemplars come only from the leaf's own candidates; the LLM's
invented or foreign ids are dropped and refilled from the shortlist; a failed batch falls back."""

from __future__ import annotations

import json
import math
import re
import threading
from typing import Any

import pytest

from collection_tree.core.clusters import Cluster, ClusterSet
from collection_tree.llm.client import LLMClient, ProviderAnswer
from collection_tree.llm.interface import LLMError, LLMRequest, StopRequested
from collection_tree.llm.offline import OfflineProvider
from collection_tree.phases.leaves import (
    LeafParams,
    TrackTable,
    cluster_profile,
    describe_leaves,
    order_by_categories,
    prepare_leaf,
)
from collection_tree.tasks.describe_leaves import DESCRIBE_LEAVES, normalise, pick_exemplars, solve_offline

NU = "rock-nu-metal__usa-metal-2000-2004"
SOUTH = "rap-dirty-south__dirty-south-2000-2004"
COUNTRY = "country__usa-2005-2010"


class Scripted:
    """A provider answering with ``answer(payload)`` (JSON-dumped) or raising ``LLMError`` for batches
    whose first cluster id is in ``fail``; records every request."""

    name = "scripted"

    def __init__(self, answer: Any = None, fail: set[str] | None = None):
        self.answer = answer or (lambda payload: DESCRIBE_LEAVES.solve_offline(payload))
        self.fail = fail or set()
        self.requests: list[LLMRequest] = []
        self.lock = threading.Lock()

    def complete(self, request: LLMRequest, model: str) -> ProviderAnswer:
        with self.lock:
            self.requests.append(request)
        if request.payload["clusters"][0]["cluster_id"] in self.fail:
            raise LLMError(request.task, "server error", kind="server")
        return ProviderAnswer(text=json.dumps(self.answer(request.payload)), priced=False)


def phase(provider: Any) -> Any:
    return LLMClient(provider, max_concurrency=8).for_phase("collection_leaves")


def sentences(text: str) -> int:
    return len([s for s in re.split(r"(?<=[.!?\u201d])\s+(?=[A-Z\u201c])", text.strip()) if s])


def test_offline_leaves_have_members_as_exemplars_and_readable_descriptions(leaf_collection):
    result = describe_leaves(leaf_collection.clusters, leaf_collection.tracks, phase(OfflineProvider()),
                             LeafParams.for_profile("default"))
    assert [c.id for c in result.clusters] == [NU, SOUTH, COUNTRY]
    titles = {r["track_id"]: r["title"] for r in leaf_collection.tracks.to_dict("records")}
    for cluster in result.clusters:
        ids = [e["track_id"] for e in cluster.examples]
        assert len(ids) == min(7, cluster.track_count) and len(set(ids)) == len(ids)
        assert set(ids) <= set(cluster.track_ids)
        assert all(set(e) == {"track_id", "title", "artist", "year"} for e in cluster.examples)
        assert all(e["title"] == titles[e["track_id"]] for e in cluster.examples)
        assert 4 <= sentences(cluster.description) <= 6, cluster.description
    nu = result.clusters[0]
    assert nu.title == "Drop-D Suburbia"  # the offline solver keeps phase 4's name
    assert "Nu-Metal" in nu.description and "USA" in nu.description
    # centrality first: the two tracks without Nu-Metal/USA match the filters least, so they are not picked
    # while six artists with full matches remain
    assert {9, 10}.isdisjoint(e["track_id"] for e in nu.examples[:6])
    assert len({e["artist"] for e in nu.examples[:6]}) == 6
    assert result.unplaced == leaf_collection.clusters.unplaced
    assert result.all_track_ids == leaf_collection.clusters.all_track_ids
    assert result.report.fallback_leaves == 0 and result.report.leaves == 3


def test_candidates_are_the_leafs_own_tracks_ranked_by_score(leaf_collection):
    table = TrackTable(leaf_collection.tracks)
    cluster = leaf_collection.clusters.clusters[0]
    # a foreign track matching the filters perfectly must never become a candidate
    foreign = Cluster(id="x", track_ids=[*cluster.track_ids[:3], 21], filters=cluster.filters)
    prep = prepare_leaf(foreign, table, LeafParams(max_candidates=30))
    assert [c["track_id"] for c in prep.entry["candidates"]] == [1, 2, 3, 21]  # 21 has score 0 but is a member
    prep = prepare_leaf(cluster, table, LeafParams(max_candidates=4))
    scores = [c["score"] for c in prep.entry["candidates"]]
    assert len(scores) == 4 and scores == sorted(scores, reverse=True)
    assert {c["track_id"] for c in prep.entry["candidates"]} <= set(cluster.track_ids)
    assert set(prep.shortlist) <= {c["track_id"] for c in prep.entry["candidates"]}


def test_hallucinated_and_foreign_ids_are_dropped_and_refilled_from_the_shortlist(leaf_collection):
    def answer(payload):
        leaves = []
        for c in payload["clusters"]:
            cand = [x["track_id"] for x in c["candidates"]]
            # invented id, a real track of another leaf, a duplicate, a string and a dict-wrapped id
            leaves.append({"cluster_id": c["cluster_id"], "title": f"New {c['cluster_id'][:4]}",
                           "description": "One. Two. Three. Four.",
                           "examples": [999_999, 17 if c["cluster_id"] != COUNTRY else 1, cand[1], cand[1],
                                        str(cand[2]), {"track_id": cand[0]}]})
        leaves.append({"cluster_id": "not-offered", "title": "x", "description": "x", "examples": [1]})
        return {"leaves": leaves}

    params = LeafParams(batch_size=5, workers=1, max_candidates=30)
    result = describe_leaves(leaf_collection.clusters, leaf_collection.tracks, phase(Scripted(answer)), params)
    table = TrackTable(leaf_collection.tracks)
    for cluster, original in zip(result.clusters, leaf_collection.clusters.clusters, strict=True):
        ids = [e["track_id"] for e in cluster.examples]
        prep = prepare_leaf(original, table, params)
        cand = [c["track_id"] for c in prep.entry["candidates"]]
        assert ids[:3] == [cand[1], cand[2], cand[0]]  # the valid picks, in the model's order
        refill = [t for t in prep.shortlist if t not in ids[:3]]
        assert ids[3:] == refill[: len(ids) - 3]
        assert len(ids) == min(7, original.track_count) and set(ids) <= set(original.track_ids)
        assert cluster.title.startswith("New ")
    assert result.report.examples_refilled == 3 and result.report.fallback_leaves == 0


def test_failed_batch_falls_back_to_the_shortlist_and_keeps_the_text(leaf_collection):
    provider = Scripted(fail={NU, COUNTRY})
    params = LeafParams(batch_size=1, workers=2)
    result = describe_leaves(leaf_collection.clusters, leaf_collection.tracks, phase(provider), params)
    by_id = {c.id: c for c in result.clusters}
    table = TrackTable(leaf_collection.tracks)
    for cid in (NU, COUNTRY):
        original = next(c for c in leaf_collection.clusters.clusters if c.id == cid)
        assert by_id[cid].description == original.description and by_id[cid].title == original.title
        shortlist = prepare_leaf(original, table, params).shortlist
        assert [e["track_id"] for e in by_id[cid].examples] == shortlist
    # the blank phase 4 description of the answered leaf got the LLM's text
    assert by_id[SOUTH].description and by_id[SOUTH].description != ""
    assert result.report.failed_batches == 2 and result.report.fallback_leaves == 2


def test_fallback_leaf_with_blank_description_gets_the_deterministic_card(leaf_collection):
    result = describe_leaves(leaf_collection.clusters, leaf_collection.tracks, phase(Scripted(fail={SOUTH})),
                             LeafParams(batch_size=1, workers=1))
    south = next(c for c in result.clusters if c.id == SOUTH)
    assert "Dirty South" in south.description and 4 <= sentences(south.description) <= 6


def many_clusters(count: int) -> ClusterSet:
    clusters = [Cluster(id=f"c{i:02d}", track_ids=[1 + i % 10, 11 + i % 6], filters={"genre": ["Rock"]})
                for i in range(count)]
    return ClusterSet(clusters=clusters, all_track_ids=list(range(1, 23)))


@pytest.mark.parametrize(("profile", "batch", "workers", "candidates"), [("seed", 5, 4, 30), ("default", 20, 8, 20)])
def test_call_pattern_per_profile(leaf_collection, profile, batch, workers, candidates):
    provider = Scripted()
    params = LeafParams.for_profile(profile)
    assert (params.batch_size, params.workers, params.search_top_n, params.max_candidates) == (
        batch, workers, 50, candidates)
    result = describe_leaves(many_clusters(23), leaf_collection.tracks, phase(provider), params)
    sizes = sorted(len(r.payload["clusters"]) for r in provider.requests)
    assert len(provider.requests) == math.ceil(23 / batch) == result.report.llm_calls
    assert max(sizes) == batch and sum(sizes) == 23
    assert all(r.tier == "creative" and r.task == "describe_leaves" for r in provider.requests)
    assert result.report.serial_calls == math.ceil(math.ceil(23 / batch) / workers)


def test_stop_raises_before_new_calls(leaf_collection):
    client = LLMClient(Scripted())
    client.stop_event.set()
    with pytest.raises(StopRequested):
        describe_leaves(leaf_collection.clusters, leaf_collection.tracks, client.for_phase("collection_leaves"),
                        LeafParams(batch_size=1, workers=2))


def test_order_follows_categories_and_uncategorised_tracks_become_unplaced(leaf_collection):
    cats = {"categories": [{"id": "a", "title": "A", "cluster_ids": [COUNTRY, "ghost", NU]},
                           {"id": "b", "title": "B", "cluster_ids": [NU]}]}
    ordered = order_by_categories(leaf_collection.clusters, cats)
    assert [c.id for c in ordered.clusters] == [COUNTRY, NU]
    reasons = {u["track_id"]: u["reason"] for u in ordered.unplaced}
    assert set(reasons) == {21, 22, *range(11, 17)} and SOUTH in reasons[11]
    assert ordered.membership_problems() == {"duplicated": [], "out_of_scope": [], "orphaned": []}


def test_normalise_accepts_keyed_answers_and_drops_unknown_leaves():
    payload = DESCRIBE_LEAVES.example()
    cid = payload["clusters"][0]["cluster_id"]
    answer = {"leaves": {cid: {"title": "  Spaced   Title ", "description": "", "examples": [11, 11, 500, "12"]},
                         "other": {"title": "x", "description": "y", "examples": [11]}}}
    out = normalise(answer, payload)
    assert out == {"leaves": [{"cluster_id": cid, "title": "Spaced Title",
                               "description": payload["clusters"][0]["description"], "examples": [11, 12]}]}


def test_pick_exemplars_prefers_score_then_new_artists_then_new_years():
    cands = [{"track_id": 1, "artist": "A", "year": 2000, "score": 1.0},
             {"track_id": 2, "artist": "A", "year": 2001, "score": 1.0},
             {"track_id": 3, "artist": "B", "year": 2000, "score": 1.0},
             {"track_id": 4, "artist": "C", "year": 2004, "score": 1.0},
             {"track_id": 5, "artist": "D", "year": 2000, "score": 0.2}]
    assert pick_exemplars(cands, 3) == [1, 4, 3]  # same score: new artist, and a new year breaks the B/C tie
    assert pick_exemplars(cands, 5) == [1, 4, 3, 5, 2]  # every artist once before any repeat
    assert solve_offline({"clusters": [{"cluster_id": "z", "title": "", "genre_context": "G", "scene_context": "S",
                                        "track_count": 5, "profile": {}, "candidates": cands}]}
                         )["leaves"][0]["title"] == "G × S"


def test_profile_shares_and_depths(leaf_collection):
    table = TrackTable(leaf_collection.tracks)
    profile = cluster_profile([table.records[t] for t in range(1, 11)])
    genre = {g[0]: (g[1], g[2]) for g in profile["genre"]}
    assert genre["Rock"] == (1.0, 1.0) and genre["Nu-Metal"] == (0.8, 3.0)
    assert profile["scene_tags"] == [["USA", 0.9]] and profile["descriptors"] == [["heavy", 0.6]]
    assert profile["years"] == [2000, 2009] and profile["era"] == [["early 2000s", 1.0]]
