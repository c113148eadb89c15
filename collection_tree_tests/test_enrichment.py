"""Phase 7: metadata suggestions. Kept at confidence >= 0.7, only about the payload's tracks, never a
value the track already has; seed = one creative call per leaf, default = packed, mechanical first."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import jsonschema
import pandas as pd
import pytest

from collection_tree.core.clusters import Cluster, ClusterSet
from collection_tree.core.similarity import TrackSimilarity
from collection_tree.llm.client import LLMClient, ProviderAnswer
from collection_tree.llm.interface import LLMError, LLMRequest, StopRequested
from collection_tree.llm.offline import OfflineProvider
from collection_tree.phases.enrichment import EnrichParams, suggest_metadata
from collection_tree.phases.leaves import TrackTable
from collection_tree.tasks import get_task
from collection_tree.tasks.suggest_metadata import SUGGEST_METADATA, evidence, max_tokens_for, normalise, per_track

NU = "rock-nu-metal__usa-metal-2000-2004"
SOUTH = "rap-dirty-south__dirty-south-2000-2004"
COUNTRY = "country__usa-2005-2010"


class Scripted:
    """Answers ``answer(request)`` (a dict, JSON-dumped), or raises when it returns None; records requests."""

    name = "scripted"

    def __init__(self, answer: Callable[[LLMRequest], dict | None] | None = None):
        self.answer = answer or (lambda request: get_task(request.task).solve_offline(request.payload))
        self.requests: list[LLMRequest] = []
        self.lock = threading.Lock()

    def complete(self, request: LLMRequest, model: str) -> ProviderAnswer:
        with self.lock:
            self.requests.append(request)
        answer = self.answer(request)
        if answer is None:
            raise LLMError(request.task, "overloaded", kind="overloaded")
        return ProviderAnswer(text=json.dumps(answer), priced=False)


def run(leaves: ClusterSet, tracks: pd.DataFrame, provider: Any, params: EnrichParams) -> dict[str, Any]:
    client = LLMClient(provider, max_concurrency=8)
    return suggest_metadata(leaves, tracks, client.for_phase("metadata_suggestions"), params)


def tracks_by_id(frame: pd.DataFrame) -> dict[int, dict[str, Any]]:
    return {int(r["track_id"]): r for r in frame.to_dict("records")}


def assert_nothing_already_present(result: dict[str, Any], frame: pd.DataFrame) -> None:
    tracks = tracks_by_id(frame)
    for items in result["suggestions"].values():
        for item in items:
            track, s = tracks[item["track_id"]], item["suggestions"]
            assert s["genre_refinement"] not in track["genre"]
            assert not set(s["scene_tags"]) & set(track["scene_tags"])
            assert not set(s["descriptors"]) & set(track["descriptors"])
            assert s["era_refinement"] != track["era"]


def test_seed_profile_is_one_creative_call_per_leaf_and_keeps_only_confident(leaf_collection):
    provider = Scripted()
    result = run(leaf_collection.clusters, leaf_collection.tracks, provider, EnrichParams.for_profile("seed"))
    assert len(provider.requests) == 3
    assert all(r.tier == "creative" and len(r.payload["clusters"]) == 1 for r in provider.requests)
    # the first version's answer: one item per track with the model's sentence of reasoning
    assert {r.task for r in provider.requests} == {"suggest_metadata_reference"}
    sent = {r.payload["clusters"][0]["cluster_id"]: [t["track_id"] for t in r.payload["clusters"][0]["tracks"]]
            for r in provider.requests}
    assert sent == {NU: list(range(1, 11)), SOUTH: list(range(11, 17)), COUNTRY: list(range(17, 21))}
    suggestions = result["suggestions"]
    assert set(suggestions) == {NU, SOUTH, COUNTRY}
    # 9 and 10 lack the leaf's Nu-Metal (80%); 10 also USA (90%); 7-8 only lack "heavy" (60%: dropped);
    # 15-16 lack Dirty South (67%: dropped); country has nothing dominant
    assert [i["track_id"] for i in suggestions[NU]] == [9, 10]
    by_track = {i["track_id"]: i for i in suggestions[NU]}
    assert by_track[9]["suggestions"] == {"genre_refinement": "Nu-Metal", "scene_tags": [], "descriptors": [],
                                          "era_refinement": None}
    assert by_track[10]["suggestions"]["scene_tags"] == ["USA"] and by_track[10]["confidence"] == 0.8
    assert suggestions[SOUTH] == [] and suggestions[COUNTRY] == []
    assert all(i["confidence"] >= 0.7 for items in suggestions.values() for i in items)
    assert result["report"].calls_by_tier == {"mechanical": 0, "creative": 3}
    assert result["report"].dropped_low_confidence == 4
    assert_nothing_already_present(result, leaf_collection.tracks)


def test_seed_payload_caps_tracks_and_comments():
    rows = [{"track_id": i, "title": f"T{i}", "artist": "A", "year": 2000, "comment": "x" * 500,
             "genre": ["Rock"], "scene_tags": [], "descriptors": [], "era": ""} for i in range(1, 41)]
    frame = pd.DataFrame(rows)
    leaves = ClusterSet([Cluster(id="big", track_ids=list(range(1, 41)))], all_track_ids=list(range(1, 41)))
    provider = Scripted()
    run(leaves, frame, provider, EnrichParams.for_profile("seed"))
    [request] = provider.requests
    tracks = request.payload["clusters"][0]["tracks"]
    assert [t["track_id"] for t in tracks] == list(range(1, 31))
    assert {len(t["comment"]) for t in tracks} == {200}


def synthetic(leaves: int = 40, size: int = 12) -> tuple[ClusterSet, pd.DataFrame]:
    """``leaves`` leaves of ``size`` tracks; in each, 9 tracks carry the leaf's specific genre and scene
    tag, 3 carry only the root genre (so they have something to suggest)."""
    rows, clusters = [], []
    for c in range(leaves):
        ids = list(range(c * size + 1, (c + 1) * size + 1))
        for k, t in enumerate(ids):
            full = k < 9
            rows.append({"track_id": t, "title": f"T{t}", "artist": f"A{t % 7}", "year": 2000 + k % 10,
                         "comment": "", "genre": ["Rock", f"Style {c}"] if full else ["Rock"],
                         "scene_tags": [f"Scene {c}"] if full else [], "descriptors": [], "era": "2000s"})
        clusters.append(Cluster(id=f"leaf-{c:02d}", track_ids=ids, filters={"genre": [f"Style {c}"]},
                                title=f"Leaf {c}", quality_score=8.0))
    frame = pd.DataFrame(rows)
    return ClusterSet(clusters, all_track_ids=frame["track_id"].tolist()), frame


def test_default_profile_needs_far_fewer_calls_mechanical_first():
    leaves, frame = synthetic(leaves=50)
    seed, default = Scripted(), Scripted()
    seed_result = run(leaves, frame, seed, EnrichParams.for_profile("seed"))
    default_result = run(leaves, frame, default, EnrichParams.for_profile("default"))
    assert len(seed.requests) == 50
    # 50 leaves x 3 tracks with gaps = 150 tracks: one wave of evenly packed calls, none under
    # min_tracks_per_call (20) tracks: 7 calls of 7-8 leaves
    assert sorted(sum(len(c["tracks"]) for c in r.payload["clusters"]) for r in default.requests) == [21] * 6 + [24]
    alone = Scripted()
    run(leaves, frame, alone, EnrichParams.for_profile("default", min_tracks_per_call=100))
    assert [sum(len(c["tracks"]) for c in r.payload["clusters"]) for r in alone.requests] == [150]
    # more tracks than a wave of workers x max_tracks_per_call holds: two whole waves, each call under the cap
    capped = Scripted()
    run(leaves, frame, capped, EnrichParams.for_profile("default", workers=2, max_tracks_per_call=60,
                                                         min_tracks_per_call=1))
    sizes = [sum(len(c["tracks"]) for c in r.payload["clusters"]) for r in capped.requests]
    assert len(sizes) == 4 and max(sizes) <= 60 and max(sizes) - min(sizes) <= 3 and sum(sizes) == 150
    assert all(r.tier == "mechanical" for r in default.requests)
    sent = {t["track_id"] for r in default.requests for c in r.payload["clusters"] for t in c["tracks"]}
    assert len(sent) == 150  # the 9 complete tracks of each leaf were skipped
    report = default_result["report"]
    assert report.tracks_skipped_complete == 450 and report.calls_by_tier == {"mechanical": 7, "creative": 0}
    # the same suggestions as the reference pattern, from 7 mechanical calls instead of 50 creative ones
    def without_reasoning(suggestions: dict) -> dict:  # the seed's is the model's, the default's the phase's
        return {cid: [{k: v for k, v in i.items() if k != "reasoning"} for i in items]
                for cid, items in suggestions.items()}

    assert without_reasoning(default_result["suggestions"]) == without_reasoning(seed_result["suggestions"])
    assert report.suggestions == 150 and report.by_field["genre_refinement"] == 150


def test_first_round_is_one_wave_shared_between_the_tiers():
    leaves, frame = synthetic(leaves=50)
    for cluster in leaves.clusters[:10]:  # low coherence: straight to the creative tier
        cluster.quality_score = 3.0
    provider = Scripted()
    result = run(leaves, frame, provider, EnrichParams.for_profile("default"))
    calls = sorted((r.tier, sum(len(c["tracks"]) for c in r.payload["clusters"])) for r in provider.requests)
    # 150 tracks: 7 calls of >= 20 tracks (in expected answer size), the creative tier's 30 tracks in one,
    # the mechanical 120 in six
    assert calls == [("creative", 30), *[("mechanical", n) for n in (18, 18, 21, 21, 21, 21)]]
    report = result["report"]
    assert report.calls_by_tier == {"mechanical": 6, "creative": 1} and report.serial_calls == 1
    assert report.suggestions == 150


def test_grey_zone_is_escalated_to_the_creative_tier_only(leaf_collection):
    def answer(request: LLMRequest) -> dict:
        tracks = [t["track_id"] for c in request.payload["clusters"] for t in c["tracks"]]
        conf = {9: 0.9, 10: 0.6, 7: 0.55, 8: 0.3, 15: 0.65, 16: 0.65}
        if request.tier == "creative":
            conf = {10: 0.8, 7: 0.5, 15: 0.75, 16: 0.7}
        return {"tracks": [{"track_id": t, "suggestions": {"genre_refinement": None, "scene_tags": [],
                                                           "descriptors": ["new"], "era_refinement": None},
                            "confidence": conf[t], "reasoning": request.tier} for t in tracks if t in conf]}

    provider = Scripted(answer)
    params = EnrichParams.for_profile("default", max_escalated_share=1.0, grey_floor=0.5)
    result = run(leaf_collection.clusters, leaf_collection.tracks, provider, params)
    tiers = [r.tier for r in provider.requests]
    assert tiers == ["mechanical", "creative"]
    mech, creative = provider.requests
    assert sorted(t["track_id"] for c in mech.payload["clusters"] for t in c["tracks"]) == [7, 8, 9, 10, 15, 16]
    assert sorted(t["track_id"] for c in creative.payload["clusters"] for t in c["tracks"]) == [7, 10, 15, 16]
    kept = {i["track_id"]: i for items in result["suggestions"].values() for i in items}
    # 10, 15 and 16 kept at the creative tier's confidence; the evidence is the phase's, not model prose
    assert {t: i["confidence"] for t, i in kept.items()} == {9: 0.9, 10: 0.8, 15: 0.75, 16: 0.7}
    assert {i["reasoning"] for i in kept.values()} == {"new: not in the leaf's profile."}
    assert [i["track_id"] for i in result["suggestions"][SOUTH]] == [15, 16]
    report = result["report"]
    assert report.tracks_escalated == 4 and report.dropped_low_confidence == 2
    assert report.rounds == 2 and report.confidence_histogram == {"0.7-0.8": 2, "0.8-0.9": 1, "0.9-1.0": 1}


def test_escalation_keeps_to_its_budget_most_confident_grey_answers_first(leaf_collection):
    def answer(request: LLMRequest) -> dict:
        tracks = [t["track_id"] for c in request.payload["clusters"] for t in c["tracks"]]
        conf = {9: 0.9, 10: 0.6, 7: 0.55, 8: 0.3, 15: 0.65, 16: 0.64}
        if request.tier == "creative":
            conf = dict.fromkeys(tracks, 0.8)
        return {"tracks": [{"track_id": t, "suggestions": {"genre_refinement": None, "scene_tags": [],
                                                           "descriptors": ["new"], "era_refinement": None},
                            "confidence": conf[t], "reasoning": request.tier} for t in tracks if t in conf]}

    provider = Scripted(answer)
    # 6 tracks reviewed, a third of them may be escalated: the two most confident grey answers (15, 16)
    params = EnrichParams.for_profile("default", max_escalated_share=1 / 3, grey_floor=0.5)
    result = run(leaf_collection.clusters, leaf_collection.tracks, provider, params)
    creative = [r for r in provider.requests if r.tier == "creative"]
    assert [sorted(t["track_id"] for c in r.payload["clusters"] for t in c["tracks"]) for r in creative] == [[15, 16]]
    kept = sorted(i["track_id"] for items in result["suggestions"].values() for i in items)
    assert kept == [9, 15, 16]
    report = result["report"]
    assert report.tracks_escalated == 2 and report.grey_not_escalated == 2
    assert report.dropped_low_confidence == 3  # 8 (0.3) and the two grey answers over the budget
    with pytest.raises(ValueError, match="max_escalated_share"):
        EnrichParams.for_profile("default", max_escalated_share=1.5)


def test_low_coherence_leaf_goes_straight_to_creative_and_failed_mechanical_calls_escalate(leaf_collection):
    leaf_collection.clusters.clusters[1].quality_score = 3.0  # the Dirty South leaf
    fail_mechanical = {"on": True}

    def answer(request: LLMRequest) -> dict | None:
        if request.tier == "mechanical" and fail_mechanical["on"]:
            return None
        return SUGGEST_METADATA.solve_offline(request.payload)

    provider = Scripted(answer)
    params = EnrichParams.for_profile("default")
    result = run(leaf_collection.clusters, leaf_collection.tracks, provider, params)
    first_round = {r.tier: [c["cluster_id"] for c in r.payload["clusters"]] for r in provider.requests[:2]}
    assert first_round == {"mechanical": [NU], "creative": [SOUTH]}
    escalation = provider.requests[2]
    assert escalation.tier == "creative" and [c["cluster_id"] for c in escalation.payload["clusters"]] == [NU]
    assert [i["track_id"] for i in result["suggestions"][NU]] == [9, 10]  # recovered by the creative tier
    assert result["report"].failed_calls == {"mechanical": 1, "creative": 0}


def test_normalise_drops_foreign_ids_and_values_the_track_has():
    payload = SUGGEST_METADATA.example()
    answer = {"tracks": [
        {"track_id": 41, "suggestions": {"genre_refinement": "rap", "scene_tags": ["Dirty South", "Atlanta", "atlanta"],
                                         "descriptors": "crunk", "era_refinement": "early 2000s"},
         "confidence": "85%", "reasoning": "  fits   the leaf "},
        {"track_id": "42", "suggestions": {"genre_refinement": "Dirty South", "scene_tags": ["Dirty South"],
                                           "descriptors": [], "era_refinement": "N/A"}, "confidence": 0.9,
         "reasoning": "all present already"},
        {"track_id": 4242, "suggestions": {"genre_refinement": "Crunk", "scene_tags": [], "descriptors": [],
                                           "era_refinement": None}, "confidence": 0.99, "reasoning": "invented"},
        {"track_id": {"track_id": 41}, "suggestions": {}, "confidence": 1, "reasoning": "duplicate"},
    ]}
    out = normalise(answer, payload)  # the first version's per-track shape is read as one-track groups
    assert out == {"groups": [{"track_ids": [41], "genre_refinement": None, "scene_tags": ["Dirty South", "Atlanta"],
                               "descriptors": ["crunk"], "era_refinement": None, "confidence": 0.85}]}
    jsonschema.validate(out, SUGGEST_METADATA.schema)


def test_lean_groups_are_split_where_a_track_already_has_a_value():
    payload = SUGGEST_METADATA.example()
    answer = {"groups": [
        {"track_ids": [41, 42, 4242, 41], "genre_refinement": None, "scene_tags": ["Dirty South", "Atlanta"],
         "descriptors": [], "era_refinement": None, "confidence": 0.8},
        {"track_ids": [42], "genre_refinement": "Crunk", "scene_tags": [], "descriptors": [], "era_refinement": None,
         "confidence": 0.9},  # 42 was answered by the first group already: each track once
    ]}
    out = normalise(answer, payload)
    # 42 has Dirty South already: its copy of the group keeps Atlanta alone, so the group splits
    assert out == {"groups": [
        {"track_ids": [41], "genre_refinement": None, "scene_tags": ["Dirty South", "Atlanta"], "descriptors": [],
         "era_refinement": None, "confidence": 0.8},
        {"track_ids": [42], "genre_refinement": None, "scene_tags": ["Atlanta"], "descriptors": [],
         "era_refinement": None, "confidence": 0.8}]}
    assert [i["track_id"] for i in per_track(out)] == [41, 42]
    assert "reasoning" not in SUGGEST_METADATA.schema["properties"]["groups"]["items"]["properties"]


def test_offline_answer_groups_tracks_and_max_tokens_follow_the_request(leaf_collection):
    provider = Scripted()
    result = run(leaf_collection.clusters, leaf_collection.tracks, provider, EnrichParams.for_profile("default"))
    request = provider.requests[0]  # the mechanical round (15-16 at 0.67 are escalated after it)
    answer = SUGGEST_METADATA.solve_offline(request.payload)
    jsonschema.validate(answer, SUGGEST_METADATA.schema)
    assert all(len(g["track_ids"]) >= 1 for g in answer["groups"])
    tracks = sum(len(c["tracks"]) for c in request.payload["clusters"])
    assert request.max_tokens == max_tokens_for(request.payload) < SUGGEST_METADATA.max_tokens
    assert len(json.dumps(answer)) // 4 < request.max_tokens and tracks == 6
    # the evidence reviewers see is the leaf's support for each value, written by the phase
    by_track = {i["track_id"]: i for i in result["suggestions"][NU]}
    assert by_track[9]["reasoning"] == "80% of the leaf is tagged Nu-Metal."
    assert evidence({"genre_refinement": None, "scene_tags": ["Mars"], "descriptors": [], "era_refinement": None},
                    {"scene_tags": [["USA", 0.9]]}) == "Mars: not in the leaf's profile."


@pytest.mark.parametrize(("confidence", "kept"), [(0.7, True), (0.69, False), (70, True), ("bad", False)])
def test_threshold_is_inclusive_at_point_seven(leaf_collection, confidence, kept):
    def answer(request: LLMRequest) -> dict:
        return {"tracks": [{"track_id": 9, "suggestions": {"genre_refinement": "Nu-Metal", "scene_tags": [],
                                                            "descriptors": [], "era_refinement": None},
                            "confidence": confidence, "reasoning": "r"}]
                if any(c["cluster_id"] == NU for c in request.payload["clusters"]) else []}

    result = run(leaf_collection.clusters, leaf_collection.tracks, Scripted(answer), EnrichParams.for_profile("seed"))
    assert [i["track_id"] for i in result["suggestions"][NU]] == ([9] if kept else [])


def test_offline_default_profile_on_the_small_collection(leaf_collection):
    result = run(leaf_collection.clusters, leaf_collection.tracks, OfflineProvider(),
                 EnrichParams.for_profile("default"))
    assert [i["track_id"] for i in result["suggestions"][NU]] == [9, 10]
    assert result["report"].leaves_reviewed == 2 and result["report"].tracks_skipped_complete == 14
    assert_nothing_already_present(result, leaf_collection.tracks)


def test_stop_raises(leaf_collection):
    client = LLMClient(Scripted())
    client.stop_event.set()
    with pytest.raises(StopRequested):
        suggest_metadata(leaf_collection.clusters, leaf_collection.tracks, client.for_phase("metadata_suggestions"),
                         EnrichParams.for_profile("seed"))


def test_phase_7_reads_records_only_and_never_builds_the_similarity_model(leaf_collection):
    table = TrackTable(leaf_collection.tracks)
    client = LLMClient(OfflineProvider(), max_concurrency=8)
    from_table = suggest_metadata(leaf_collection.clusters, table, client.for_phase("metadata_suggestions"),
                                  EnrichParams.for_profile("default"))
    assert table._similarity is None  # the model is built at its first use, and phase 7 has none
    from_frame = run(leaf_collection.clusters, leaf_collection.tracks, OfflineProvider(),
                     EnrichParams.for_profile("default"))
    assert from_table["suggestions"] == from_frame["suggestions"]
    assert isinstance(table.similarity, TrackSimilarity) and table.similarity is table.similarity  # built once


def test_a_leafs_gaps_read_once_give_each_tracks_suggestion(genius_full_build):
    """``LeafGaps`` reads a profile once for all the leaf's tracks: the suggestion it gives a track is the
    one ``offline_suggestion`` reads alone, and ``lacks`` says whether there is one."""
    from conftest import GENIUS_FULL_DIR

    from collection_tree.core.inputs import load_tracks
    from collection_tree.tasks.suggest_metadata import LeafGaps, has_suggestion, offline_suggestion

    table = TrackTable(load_tracks(GENIUS_FULL_DIR / "tracks.csv"))
    leaves = [leaf["track_ids"] for c in genius_full_build.tree["categories"] for leaf in c["leaves"]][:300]
    checked = lacking = 0
    for track_ids, profile in zip(leaves, table.profiles(leaves, with_artists=False), strict=True):
        for share in (0.5, 0.3):
            gaps = LeafGaps(profile, share)
            for t in track_ids:
                track = table.records[t]
                alone = offline_suggestion(track, profile, share)
                assert offline_suggestion(track, profile, share, gaps=gaps) == alone
                assert gaps.lacks(track) == has_suggestion(alone[0])
                assert gaps.lacks(table.records.gap_fields(t)) == gaps.lacks(track)  # phase 7's light reading
                checked += 1
                lacking += gaps.lacks(track)
    assert checked > 5000 and 0 < lacking < checked  # both answers occur
