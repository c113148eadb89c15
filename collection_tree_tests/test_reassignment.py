"""Phase 3 (dedup + reassignment) and its task: dedup order, poor fits, the reference's call pattern in
the seed profile, pre-assignment and candidates in ours, fallback tiers, exactly-once, stop."""

from __future__ import annotations

import json
import threading
from typing import Any

import jsonschema
import pandas as pd
import pytest

from collection_tree.core.clusters import Cluster, ClusterSet
from collection_tree.llm.client import LLMClient, ProviderAnswer
from collection_tree.llm.interface import LLMError, LLMRequest, StopRequested
from collection_tree.llm.offline import OfflineProvider
from collection_tree.phases.reassignment import ReassignParams, dedup_order, greedy_dedup, reassign_tracks
from collection_tree.tasks.reassign_tracks import TASK

NO_PROBLEMS = {"duplicated": [], "out_of_scope": [], "orphaned": []}
STYLES = [("Metal", "Rock > Metal"), ("Pop-Punk", "Rock > Pop-Punk"), ("Bluegrass", "Country > Bluegrass"),
          ("Dancehall", "Pop > Dancehall")]
PLACES = ["USA", "UK", "Jamaica"]


def track(t: int, genre: list[str], scene: list[str] = (), year: int | None = 2002) -> dict[str, Any]:
    parts = [f"Genre: {' / '.join(genre)}"] if genre else []
    parts += [f"Scene: {' / '.join(scene)}"] if scene else []
    parts += [f"Era: early 2000s ({year})"] if year else []
    return {"track_id": t, "title": f"Song {t}", "artist": f"Artist {t % 7}", "year": year,
            "comment": " | ".join(parts), "genre": list(genre), "scene_tags": list(scene), "descriptors": [],
            "era": "early 2000s" if year else ""}


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    tracks = pd.DataFrame(rows)
    tracks["year"] = tracks["year"].astype("Int64")
    return tracks


def cluster(cid: str, ids: list[int], style: str, lineage: str, place: str, coherence: float | None = 8.0,
            poor: list[int] = ()) -> Cluster:
    return Cluster(id=cid, track_ids=list(ids), genre_title=style, scene_title=f"{place} 2000-2004",
                   genre_lineage=lineage, scene_lineage=f"{place} > {place} 2000-2004",
                   filters={"genre": [style], "scene_tags": [place], "year_range": [2000, 2004]},
                   title=f"{style}, {place} early 2000s", coherence=coherence, poor_fit_track_ids=list(poor),
                   named_by="llm")


def world(orphans_per_cluster: int = 20) -> tuple[ClusterSet, pd.DataFrame]:
    """12 clusters (4 styles x 3 places) of 5 tracks each, plus orphans: tracks of a style without a
    scene tag (ambiguous between the style's 3 places)."""
    rows, clusters, t = [], [], 1
    for style, lineage in STYLES:
        root = lineage.split(" > ")[0]
        for place in PLACES:
            ids = list(range(t, t + 5))
            rows += [track(i, [root, style], [place]) for i in ids]
            clusters.append(cluster(f"{style.lower()}__{place.lower()}", ids, style, lineage, place))
            t += 5
        for _ in range(orphans_per_cluster):
            rows.append(track(t, [root, style]))
            t += 1
    tracks = frame(rows)
    return ClusterSet(clusters=clusters, all_track_ids=tracks["track_id"].tolist()), tracks


class Recording:
    """Records requests; answers offline, or by ``script(request) -> dict | Exception | None``."""

    name = "recording"

    def __init__(self, script: Any = None):
        self.requests: list[LLMRequest] = []
        self.script = script
        self.lock = threading.Lock()

    def complete(self, request: LLMRequest, model: str) -> ProviderAnswer:
        with self.lock:
            self.requests.append(request)
        answer = self.script(request) if self.script else None
        if isinstance(answer, Exception):
            raise answer
        text = OfflineProvider().complete(request, model).text if answer is None else json.dumps(answer)
        return ProviderAnswer(text=text, priced=False)


def run(named: ClusterSet, tracks: pd.DataFrame, provider: Any, params: ReassignParams) -> tuple[ClusterSet, Any]:
    client = LLMClient(provider, max_concurrency=8, invalid_answer_retries=0)
    return reassign_tracks(named, tracks, client.for_phase("assigned_clusters"), params), client


class Schedule:
    """Places each track on the n-th time it is offered (n from ``when``; never if absent), into the
    first cluster it may choose; "unassigned" otherwise. Lets a test fix how many move per pass."""

    def __init__(self, when: dict[int, int]):
        self.when = when
        self.offered: dict[int, int] = {}

    def __call__(self, request: LLMRequest) -> dict[str, Any]:
        out = []
        for item in request.payload["tracks"]:
            t = item["track_id"]
            self.offered[t] = self.offered.get(t, 0) + 1
            first = (item.get("candidates") or [request.payload["clusters"][0]["cluster_id"]])[0]
            out.append({"track_id": t, "cluster_id": first if self.when.get(t) == self.offered[t] else "unassigned"})
        return {"assignments": out}


# ------------------------------------------------------------------------------------ step 1 and 2
def test_greedy_dedup_by_coherence_then_size_then_id():
    clusters = [
        Cluster(id="b", track_ids=[1, 2, 3], coherence=7.0),
        Cluster(id="a", track_ids=[3, 4], coherence=9.0),
        Cluster(id="c", track_ids=[2, 5, 6, 7], coherence=7.0),  # same coherence as b, larger: first
        Cluster(id="d", track_ids=[5, 8], coherence=None),  # unmeasured: neutral 5
        Cluster(id="e", track_ids=[4], coherence=6.0),  # emptied by the dedup
        Cluster(id="f", track_ids=[6, 9], coherence=7.0),  # same coherence and size as b... smaller than c
    ]
    assert [c.id for c in dedup_order(clusters)] == ["a", "c", "b", "f", "e", "d"]
    kept, owner = greedy_dedup(clusters, scope=set(range(1, 10)))
    assert [(c.id, c.track_ids) for c in kept] == [("a", [3, 4]), ("c", [2, 5, 6, 7]), ("b", [1]), ("f", [9]),
                                                  ("d", [8])]
    assert owner == {3: "a", 4: "a", 2: "c", 5: "c", 6: "c", 7: "c", 1: "b", 9: "f", 8: "d"}


def test_ties_in_size_break_by_id():
    clusters = [Cluster(id="z", track_ids=[1, 2], coherence=8.0), Cluster(id="y", track_ids=[2, 3], coherence=8.0)]
    kept, _ = greedy_dedup(clusters, scope={1, 2, 3})
    assert [(c.id, c.track_ids) for c in kept] == [("y", [2, 3]), ("z", [1])]


def test_poor_fits_leave_the_cluster_that_flagged_them_and_are_placed_again():
    named, tracks = world(orphans_per_cluster=0)
    metal_usa, metal_uk = named.clusters[0], named.clusters[1]
    # 1 (in metal_usa) is flagged by its own cluster; 6 (in metal_uk) is flagged by metal_usa: moot.
    metal_usa.poor_fit_track_ids = [1, 6]
    seen: list[int] = []

    def script(request: LLMRequest) -> dict[str, Any]:
        seen.extend(t["track_id"] for t in request.payload["tracks"])
        return {"assignments": [{"track_id": t["track_id"], "cluster_id": metal_uk.id}
                                for t in request.payload["tracks"]]}

    result, _ = run(named, tracks, Recording(script), ReassignParams.for_profile("seed"))
    assert seen == [1]
    assert result.report.poor_fits == 1 and result.report.orphans == 0
    by_id = {c.id: c for c in result.clusters}
    assert 1 in by_id[metal_uk.id].track_ids and 1 not in by_id[metal_usa.id].track_ids
    assert 6 in by_id[metal_uk.id].track_ids
    assert result.membership_problems() == NO_PROBLEMS


# ------------------------------------------------------------------------------ seed profile = reference
def test_seed_profile_call_pattern_is_the_references():
    named, tracks = world(orphans_per_cluster=50)  # 200 orphans -> batches of 80, 80, 40
    provider = Recording()
    client = LLMClient(provider, max_concurrency=8)
    result = reassign_tracks(named, tracks, client.for_phase("assigned_clusters"), ReassignParams.for_profile("seed"))
    assert [len(r.payload["tracks"]) for r in provider.requests] == [80, 80, 40]
    assert client.max_in_flight == 1  # serial
    for request in provider.requests:
        assert request.tier == "mechanical" and request.max_tokens == 8192
        summaries = request.payload["clusters"]
        assert [s["cluster_id"] for s in summaries] == [c.id for c in dedup_order(named.clusters)]
        assert all(set(s) == {"cluster_id", "title", "track_count"} for s in summaries)
        assert all(set(t) == {"track_id", "title", "artist", "year", "comment"} for t in request.payload["tracks"])
        assert all(len(t["comment"]) <= 100 for t in request.payload["tracks"])
    # serial: the second batch sees the counts the first one left
    first_counts = {s["cluster_id"]: s["track_count"] for s in provider.requests[0].payload["clusters"]}
    second_counts = {s["cluster_id"]: s["track_count"] for s in provider.requests[1].payload["clusters"]}
    placed_by_first = sum(a["cluster_id"] != "unassigned"
                          for a in TASK.solve_offline(provider.requests[0].payload)["assignments"])
    assert placed_by_first > 0
    assert sum(second_counts.values()) == sum(first_counts.values()) + placed_by_first
    assert result.report.passes[0]["serial_calls"] == 3 == result.report.passes[0]["calls"]
    assert result.membership_problems() == NO_PROBLEMS and not result.unplaced


def test_seed_profile_stops_after_three_passes():
    named, tracks = world(orphans_per_cluster=25)  # 100 orphans
    orphans = [t for t in tracks["track_id"] if t not in {i for c in named.clusters for i in c.track_ids}]
    # 40 placed in pass 1, 30 in pass 2, 15 in pass 3, 15 would need a 4th pass
    when = {t: 1 for t in orphans[:40]} | {t: 2 for t in orphans[40:70]} | {t: 3 for t in orphans[70:85]}
    when |= {t: 4 for t in orphans[85:]}
    result, _ = run(named, tracks, Recording(Schedule(when)), ReassignParams.for_profile("seed"))
    passes = result.report.passes
    assert [(p["tracks_sent"], p["moved"], p["calls"]) for p in passes] == [(100, 40, 2), (60, 30, 1), (30, 15, 1)]
    assert [p["pct_moved"] for p in passes] == [40.0, 50.0, 50.0]
    assert result.report.fallback_assigned == 15 and result.report.llm_assigned == 85
    assert result.membership_problems() == NO_PROBLEMS and not result.unplaced


def test_seed_profile_stops_when_fewer_than_5_percent_move():
    named, tracks = world(orphans_per_cluster=25)
    orphans = [t for t in tracks["track_id"] if t not in {i for c in named.clusters for i in c.track_ids}]
    when = {t: 1 for t in orphans[:50]} | {orphans[50]: 2}  # pass 2: 1 of 50 = 2% -> converged
    when |= {t: 3 for t in orphans[51:]}  # would move in pass 3, which must not run
    result, _ = run(named, tracks, Recording(Schedule(when)), ReassignParams.for_profile("seed"))
    assert [(p["tracks_sent"], p["moved"]) for p in result.report.passes] == [(100, 50), (50, 1)]
    assert result.report.fallback_assigned == 49


# ------------------------------------------------------------------------------ default profile (ours)
def test_default_profile_preassigns_clear_cases_and_offers_candidates():
    named, tracks = world(orphans_per_cluster=20)  # 80 ambiguous orphans (no scene tag)
    clear = [track(9001, ["Rock", "Metal"], ["UK"], 2003), track(9002, ["Country", "Bluegrass"], ["Jamaica"], 2001)]
    tracks = frame([*tracks.to_dict("records"), *clear])
    named.all_track_ids += [9001, 9002]
    provider = Recording()
    params = ReassignParams.for_profile("default").with_overrides(candidates=2, batch_size=30, workers=2)
    result, client = run(named, tracks, provider, params)
    by_track = {t: c.id for c in result.clusters for t in c.track_ids}
    assert by_track[9001] == "metal__uk" and by_track[9002] == "bluegrass__jamaica"
    assert result.report.preassigned == 2
    sent = [t["track_id"] for r in provider.requests for t in r.payload["tracks"]]
    assert 9001 not in sent and 9002 not in sent and len(sent) == len(set(sent)) == 80
    for request in provider.requests:
        genre_of = {s["cluster_id"]: s["genre"] for s in request.payload["clusters"]}
        assert all(set(s) == {"cluster_id", "title", "track_count", "genre", "scene"}
                   for s in request.payload["clusters"])
        for item in request.payload["tracks"]:
            assert len(item["candidates"]) == 2 and set(item["candidates"]) <= set(genre_of)
            style = tracks.set_index("track_id").loc[item["track_id"], "genre"][1]
            assert all(genre_of[c] == style for c in item["candidates"])  # the style's clusters first
    # 80 tracks in batches of 30 would be 3 calls, two waves on 2 workers: 2 evenly filled calls instead
    first = result.report.passes[0]
    assert first["calls"] == 2 and first["serial_calls"] == 1
    assert sorted(len(r.payload["tracks"]) for r in provider.requests[:2]) == [40, 40]
    assert client.max_in_flight <= 2
    assert result.membership_problems() == NO_PROBLEMS


def test_rejected_tracks_get_their_next_candidates():
    named, tracks = world(orphans_per_cluster=2)
    offers: dict[int, list[list[str]]] = {}

    def script(request: LLMRequest) -> dict[str, Any]:
        for item in request.payload["tracks"]:
            offers.setdefault(item["track_id"], []).append(item["candidates"])
        return {"assignments": [{"track_id": t["track_id"], "cluster_id": "unassigned"}
                                for t in request.payload["tracks"]]}

    params = ReassignParams.for_profile("default").with_overrides(candidates=2, stop_below=0.0,
                                                                   stop_below_batch=False)
    result, _ = run(named, tracks, Recording(script), params)
    for rounds in offers.values():
        flat = [c for r in rounds for c in r]
        assert len(flat) == len(set(flat))  # never the same candidate twice
    assert max(len(r) for r in offers.values()) == 3  # up to three passes
    assert result.report.fallback_assigned == 8 and result.membership_problems() == NO_PROBLEMS

    # stop_below_batch (the default): no second pass for fewer tracks than one batch (8 < 100); the
    # similarity model places them, past the candidates the model turned down (fallback_skips_rejected)
    offers.clear()
    provider = Recording(script)
    params = params.with_overrides(stop_below_batch=True)
    result, _ = run(named, tracks, provider, params)
    assert len(provider.requests) == 1 and len(result.report.passes) == 1
    assert result.report.fallback_assigned == 8 and result.membership_problems() == NO_PROBLEMS
    [request] = provider.requests
    title_of = {s["cluster_id"]: s["title"] for s in request.payload["clusters"]}
    placed_in = {t: c.title for c in result.clusters for t in c.track_ids}
    assert all(placed_in[t] not in {title_of[c] for c in rounds[0]} for t, rounds in offers.items())
    # ... which the reference's fallback does not do: there they go back to their best (rejected) cluster
    offers.clear()
    result, _ = run(named, tracks, Recording(script), params.with_overrides(fallback_skips_rejected=False))
    placed_in = {t: c.title for c in result.clusters for t in c.track_ids}
    assert all(placed_in[t] == title_of[rounds[0][0]] for t, rounds in offers.items())
    # ... while a pass of at least a batch's worth still goes out
    provider = Recording(script)
    result, _ = run(named, tracks, provider, params.with_overrides(batch_size=8))
    assert len(result.report.passes) == 3


def test_clusters_go_out_as_short_handles_and_answers_are_mapped_back():
    named, tracks = world(orphans_per_cluster=2)
    real_ids = {c.id for c in named.clusters}

    def script(request: LLMRequest) -> dict[str, Any]:
        tracks_sent = request.payload["tracks"]
        # the first track answers a real id (not offered: dropped), the second a handle it was not offered
        # (dropped), the rest their second candidate
        out = [{"track_id": tracks_sent[0]["track_id"], "cluster_id": sorted(real_ids)[0]},
               {"track_id": tracks_sent[1]["track_id"], "cluster_id": "c999"}]
        out += [{"track_id": t["track_id"], "cluster_id": t["candidates"][1]} for t in tracks_sent[2:]]
        return {"assignments": out}

    provider = Recording(script)
    params = ReassignParams.for_profile("default").with_overrides(candidates=2, preassign=False)
    result, _ = run(named, tracks, provider, params)
    [request] = provider.requests
    handles = [s["cluster_id"] for s in request.payload["clusters"]]
    assert all(h.startswith("c") and h[1:].isdigit() for h in handles) and not set(handles) & real_ids
    title_of = {s["cluster_id"]: s["title"] for s in request.payload["clusters"]}
    placed_in = {t: c.title for c in result.clusters for t in c.track_ids}
    items = request.payload["tracks"]
    assert all(placed_in[t["track_id"]] == title_of[t["candidates"][1]] for t in items[2:])
    assert result.report.llm_assigned == len(items) - 2 and result.report.fallback_assigned == 2
    assert result.membership_problems() == NO_PROBLEMS


def test_exactly_once_on_both_profiles_with_hard_tracks():
    named, tracks = world(orphans_per_cluster=10)
    odd = [
        track(8001, ["Rock"], year=2003),  # only the lineage root: genre lineage tier
        track(8002, [], ["Jamaica"], year=None),  # no genre, a scene tag matching a cluster filter
        track(8003, ["Jazz"], ["Japan"], year=2004),  # matches nothing but the year
        track(8004, [], [], year=None),  # nothing at all
    ]
    tracks = frame([*tracks.to_dict("records"), *odd])
    named.all_track_ids += [8001, 8002, 8003, 8004, 8005]  # 8005: not in the tracks table
    named.clusters[0].track_ids.append(7777)  # out of scope: dropped by the dedup
    for profile in ("seed", "default"):
        result, _ = run(named, tracks, Recording(), ReassignParams.for_profile(profile))
        assert result.membership_problems() == NO_PROBLEMS, profile
        unplaced = {u["track_id"]: u["reason"] for u in result.unplaced}
        assert set(unplaced) == {8004, 8005}
        assert "no genre, scene tag or year" in unplaced[8004] and "tracks table" in unplaced[8005]
        placed = sum(c.track_count for c in result.clusters)
        assert placed + len(unplaced) == len(set(named.all_track_ids))


def test_fallback_places_by_similarity_when_the_llm_places_nothing():
    named, tracks = world(orphans_per_cluster=0)
    odd = [track(8001, ["Country"], year=2003), track(8002, ["Jazz"], ["Jamaica"], year=2001),
           track(8003, ["Jazz"], year=2030), track(8004, ["Pop", "Metal"], year=2001)]
    tracks = frame([*tracks.to_dict("records"), *odd])
    named.all_track_ids += [8001, 8002, 8003, 8004]
    failing = Recording(lambda r: LLMError("reassign_tracks", "down", kind="unavailable"))
    result, _ = run(named, tracks, failing, ReassignParams.for_profile("default"))
    by_track = {t: c.id for c in result.clusters for t in c.track_ids}
    assert by_track[8001].startswith("bluegrass__")  # only the bluegrass tracks carry "Country"
    assert by_track[8002] == "bluegrass__jamaica"  # the Jamaica scene; ties: dedup order (same size: id)
    assert by_track[8004].startswith("metal__")  # the specific end of the genre path weighs most
    assert result.report.fallback_by == {"similarity": 4}  # 8003 shares its era with every cluster
    assert result.report.passes[0]["failed_batches"] == result.report.passes[0]["calls"] == 1
    assert result.membership_problems() == NO_PROBLEMS and not result.unplaced


def test_quirky_answers_are_normalised_and_unknown_ids_dropped():
    payload = TASK.example()
    answer = {"assignments": [
        {"track_id": {"track_id": 1}, "cluster_id": {"cluster_id": "rock-nu-metal__usa-metal-2000-2004"}},
        {"track_id": "2", "cluster_id": "rock-nu-metal__usa-metal-2000-2004"},  # offered, fine (no candidates)
        {"track_id": 7, "cluster_id": "invented-cluster"},  # dropped
        {"track_id": 99, "cluster_id": "country-bluegrass__usa-2000-2004"},  # unknown track: dropped
        {"track_id": 1, "cluster_id": "rock-pop-punk__pop-punk-2005-2010"},  # repeat: dropped
    ]}
    assert TASK.normalise(answer, payload) == {"assignments": [
        {"track_id": 1, "cluster_id": "rock-nu-metal__usa-metal-2000-2004"},
        {"track_id": 2, "cluster_id": "rock-nu-metal__usa-metal-2000-2004"}]}
    # a cluster outside the track's candidates is not allowed; "none"/null mean unassigned; dict keyed by id
    keyed = {"assignments": {"1": "country-bluegrass__usa-2000-2004", "2": None, "7": "None"}}
    assert TASK.normalise(keyed, payload) == {"assignments": [
        {"track_id": 2, "cluster_id": "unassigned"}, {"track_id": 7, "cluster_id": "unassigned"}]}


def test_offline_solver_matches_words_and_says_unassigned():
    payload = TASK.example()
    answer = TASK.solve_offline(payload)
    jsonschema.validate(answer, TASK.schema)
    assert answer == {"assignments": [
        {"track_id": 1, "cluster_id": "rock-nu-metal__usa-metal-2000-2004"},
        {"track_id": 2, "cluster_id": "country-bluegrass__usa-2000-2004"},
        {"track_id": 7, "cluster_id": "unassigned"}]}  # jazz matches no offered cluster
    payload["tracks"][0]["candidates"] = ["rock-pop-punk__pop-punk-2005-2010"]
    assert TASK.solve_offline(payload)["assignments"][0]["cluster_id"] == "unassigned"


def test_stop_propagates_in_the_serial_passes():
    named, tracks = world(orphans_per_cluster=50)

    class StopAfterFirst:
        def __init__(self):
            self.stop_event = threading.Event()
            self.calls = 0

        def call(self, request: LLMRequest) -> dict[str, Any]:
            self.calls += 1
            self.stop_event.set()
            return TASK.solve_offline(request.payload)

    llm = StopAfterFirst()
    with pytest.raises(StopRequested):
        reassign_tracks(named, tracks, llm, ReassignParams.for_profile("seed"))
    assert llm.calls == 1


def test_params_overrides_and_profiles():
    seed = ReassignParams.for_profile("seed")
    assert (seed.batch_size, seed.max_passes, seed.stop_below, seed.workers, seed.preassign, seed.candidates) == (
        80, 3, 0.05, 1, False, 0)
    assert ReassignParams.for_profile("default").with_overrides(batch_size=None, workers=3).workers == 3
    with pytest.raises(ValueError):
        ReassignParams.for_profile("default").with_overrides(batch_size=0)
    with pytest.raises(ValueError):
        ReassignParams.for_profile("fast")


def test_a_bare_llm_cannot_put_unknown_tracks_or_clusters_into_the_result():
    named, tracks = world(orphans_per_cluster=3)

    class Bare:  # no client in between: nothing normalised the answer
        stop_event = threading.Event()

        def call(self, request: LLMRequest) -> dict[str, Any]:
            return {"assignments": [{"track_id": t["track_id"], "cluster_id": "invented"}
                                    for t in request.payload["tracks"]] + [{"track_id": 55555,
                                                                            "cluster_id": named.clusters[0].id}]}

    result = reassign_tracks(named, tracks, Bare(), ReassignParams.for_profile("seed"))
    assert result.report.llm_assigned == 0 and result.report.fallback_assigned == 12
    assert result.membership_problems() == NO_PROBLEMS
    assert "invented" not in {c.id for c in result.clusters}


def test_small_clusters_fold_into_their_tracks_best_cluster():
    from collection_tree.core.similarity import TrackSimilarity
    from collection_tree.phases.placement import fold_small_clusters

    frame = pd.DataFrame({
        "track_id": list(range(1, 13)), "title": ["t"] * 12, "artist": ["a"] * 12, "year": [2001] * 12,
        "comment": [""] * 12, "era": [""] * 12, "descriptors": [[] for _ in range(12)],
        "genre": [["House"]] * 6 + [["Techno"]] * 4 + [["House"], ["Polka"]],
        "scene_tags": [[] for _ in range(12)],
    })
    house = Cluster(id="house", track_ids=[1, 2, 3, 4, 5, 6], filters={"genre": ["House"]}, genre_title="House")
    techno = Cluster(id="techno", track_ids=[7, 8, 9, 10], filters={"genre": ["Techno"]}, genre_title="Techno")
    tiny = Cluster(id="tiny", track_ids=[11, 12], filters={"genre": ["Polka"]}, genre_title="Polka")
    model = TrackSimilarity(frame)
    out = fold_small_clusters([house, techno, tiny], model, None, 5)
    by_id = {c.id: c.track_ids for c in out.clusters}
    # techno (4 < 5) and tiny dissolve; 11 (House) joins house; 7-10 and 12 share nothing with house (no
    # lineage either: without a tree nothing says where they belong)
    assert by_id["house"] == [1, 2, 3, 4, 5, 6, 11]
    assert by_id["techno"] == [7, 8, 9, 10] and by_id["tiny"] == [12]  # kept rather than losing tracks
    assert (out.folded_clusters, out.moved_tracks) == (0, 1)
    assert sorted(t for ids in by_id.values() for t in ids) == list(range(1, 13))
    # folding off (the reference) changes nothing
    assert fold_small_clusters([house, techno, tiny], model, None, 0).clusters == [house, techno, tiny]


# ------------------------------------------------------------------------------------ lineage guard
def world_tree(tracks: pd.DataFrame, extra: dict[str, dict[str, list[int]]] | None = None,
               branch: dict[str, list[int]] | None = None) -> dict[str, Any]:
    """The world's genre tree: Rock (Metal, Pop-Punk), Country (Bluegrass), Pop (Dancehall); leaf ids are
    the cluster ids' genre part; a leaf holds the tracks whose genre names it."""
    lineages: dict[str, dict[str, list[int]]] = {}
    for style, path in STYLES:
        root = path.split(" > ")[0].lower()
        ids = [int(t) for t, g in zip(tracks["track_id"], tracks["genre"], strict=True) if style in g]
        lineages.setdefault(root, {})[style.lower()] = ids
    for root, leaves in (extra or {}).items():
        lineages.setdefault(root, {}).update(leaves)
    roots = []
    for root, leaves in lineages.items():
        direct = (branch or {}).get(root, [])
        roots.append({"id": root, "title": root.title(), "description": "", "filters": {},
                      "track_ids": sorted({t for ids in leaves.values() for t in ids} | set(direct)),
                      "children": [{"id": leaf, "title": leaf.title(), "description": "", "filters": {},
                                    "track_ids": ids, "children": []} for leaf, ids in leaves.items()]})
    return {"id": "genre-world", "tree_type": "genre", "created_at": "2026-01-01T00:00:00Z", "lineages": roots}


def run_guarded(named: ClusterSet, tracks: pd.DataFrame, provider: Any, params: ReassignParams,
                genre_tree: dict[str, Any]) -> ClusterSet:
    client = LLMClient(provider, max_concurrency=8, invalid_answer_retries=0)
    return reassign_tracks(named, tracks, client.for_phase("assigned_clusters"), params, genre_tree=genre_tree)


def test_the_guard_refuses_llm_answers_across_lineages():
    from collection_tree.core.lineage import GenreLineages

    named, tracks = world(orphans_per_cluster=20)
    doc = world_tree(tracks)
    lineages = GenreLineages.from_tree(doc)

    def everything_to_dancehall(request: LLMRequest) -> dict[str, Any]:  # an LLM ignoring lineages
        return {"assignments": [{"track_id": t["track_id"], "cluster_id": "dancehall__jamaica"}
                                for t in request.payload["tracks"]]}

    result = run_guarded(named, tracks, Recording(everything_to_dancehall), ReassignParams.for_profile("seed"), doc)
    by_track = {t: c for c in result.clusters for t in c.track_ids}
    assert lineages.violations(result.clusters) == [] and result.report.lineage_guard["violations"] == 0
    dancehall = [t for t in tracks["track_id"] if "Dancehall" in tracks.set_index("track_id").loc[t, "genre"]]
    seeded = {t for c in named.clusters for t in c.track_ids}
    orphans = [t for t in tracks["track_id"] if t not in seeded]
    assert all(by_track[t].id == "dancehall__jamaica" for t in orphans if t in dancehall)
    refused = result.report.lineage_guard["refused"]
    assert refused["llm"] >= 60  # the 60 orphans of the other three styles, once per pass at least
    assert result.report.llm_assigned == 20 and result.report.fallback_assigned == 60
    assert result.membership_problems() == NO_PROBLEMS and not result.unplaced


def test_candidates_are_clusters_of_the_tracks_own_lineage():
    from collection_tree.core.lineage import GenreLineages

    named, tracks = world(orphans_per_cluster=10)
    # a Pop-Punk track with a Jamaica scene and the year of every cluster: by similarity alone, the
    # Jamaica clusters of Country and Pop would be among its best candidates
    tracks = frame([*tracks.to_dict("records"), track(7001, ["Rock", "Pop-Punk"], ["Jamaica"], 2002)])
    named.all_track_ids.append(7001)
    doc = world_tree(tracks)
    lineages = GenreLineages.from_tree(doc)
    provider = Recording()
    # the clusters' own ids in the payload (not handles): the test reads their lineage
    params = ReassignParams.for_profile("default").with_overrides(candidates=12, preassign=False, short_ids=False)
    result = run_guarded(named, tracks, provider, params, doc)
    root_of = {c.id: lineages.of_cluster(c) for c in named.clusters}
    offered = 0
    for request in provider.requests:
        for item in request.payload["tracks"]:
            own = set(lineages.of_track(item["track_id"]))
            assert {root_of[c] for c in item["candidates"]} <= own
            offered += 1
    assert offered == 41
    assert lineages.violations(result.clusters) == []
    assert {t: c.id for c in result.clusters for t in c.track_ids}[7001] == "pop-punk__jamaica"


def test_a_lineage_without_clusters_leaves_its_tracks_unplaced_with_a_reason():
    named, tracks = world(orphans_per_cluster=2)
    tracks = frame([*tracks.to_dict("records"), track(7001, ["Jazz", "Bebop"], ["Jamaica"], 2002)])
    named.all_track_ids.append(7001)
    doc = world_tree(tracks, extra={"jazz": {"jazz-bebop": [7001]}})
    for profile in ("seed", "default"):
        result = run_guarded(named, tracks, Recording(), ReassignParams.for_profile(profile), doc)
        assert result.unplaced == [{"track_id": 7001,
                                    "reason": "no playlist of its genre lineage (Jazz) to place it in"}]
        assert result.report.lineage_guard["unplaced_no_cluster_of_lineage"] == 1
        assert result.membership_problems() == NO_PROBLEMS


def test_a_track_only_in_a_branch_stays_in_its_branch_lineage():
    named, tracks = world(orphans_per_cluster=0)
    # tagged "Rock" and UK, but the tree puts it in the Country branch (in no leaf): by similarity alone it
    # would join a Rock cluster
    tracks = frame([*tracks.to_dict("records"), track(7001, ["Rock"], ["UK"], 2002)])
    named.all_track_ids.append(7001)
    doc = world_tree(tracks, branch={"country": [7001]})
    failing = Recording(lambda r: LLMError("reassign_tracks", "down", kind="unavailable"))
    result = run_guarded(named, tracks, failing, ReassignParams.for_profile("default"), doc)
    assert {t: c.id for c in result.clusters for t in c.track_ids}[7001] == "bluegrass__uk"
    unguarded, _ = run(named, tracks, failing, ReassignParams.for_profile("default"))
    assert {t: c.id for c in unguarded.clusters for t in c.track_ids}[7001] in {"metal__uk", "pop-punk__uk"}


def test_similarity_poor_fits_move_to_the_cluster_they_resemble():
    named, tracks = world(orphans_per_cluster=0)
    # track 3 sits in metal__usa but is tagged UK, like the metal__uk members
    rows = tracks.to_dict("records")
    rows[2] = track(3, ["Rock", "Metal"], ["UK"])
    tracks = frame(rows)
    doc = world_tree(tracks)
    result = run_guarded(named, tracks, Recording(), ReassignParams.for_profile("default"), doc)
    assert result.report.similarity_poor_fits == 1
    assert 3 in {c.id: c for c in result.clusters}["metal__uk"].track_ids
    seed = run_guarded(named, tracks, Recording(), ReassignParams.for_profile("seed"), doc)
    assert seed.report.similarity_poor_fits == 0 and 3 in {c.id: c for c in seed.clusters}["metal__usa"].track_ids


def test_guard_allows_one_pair_as_the_matrix_does():
    """``Guard.allows`` (one track, one cluster, O(1)) agrees with ``Guard.allowed`` (the tracks x clusters
    matrix) on every pair: tracks of each lineage, a branch-only track, a track the tree does not name;
    clusters of each lineage and one of unknown lineage."""
    import numpy as np

    from collection_tree.core.lineage import GenreLineages
    from collection_tree.phases.placement import Guard

    named, tracks = world(orphans_per_cluster=3)
    doc = world_tree(tracks, branch={"rock": [9001]})
    clusters = [*named.clusters, Cluster(id="nowhere__x", track_ids=[1])]
    guard = Guard(GenreLineages.from_tree(doc), clusters)
    ids = np.array([*tracks["track_id"].tolist(), 9001, 9999], dtype=np.int64)
    matrix = guard.allowed(ids)
    pairs = [[guard.allows(int(t), j) for j in range(len(clusters))] for t in ids.tolist()]
    assert np.array_equal(np.array(pairs), matrix)
    assert not matrix.all() and matrix[-1].all() and matrix[:, -1].all()  # both outcomes occur
    lineages = GenreLineages.from_tree(doc)
    assert [guard.has_lineage(int(t)) for t in ids] == [bool(lineages.of_track(int(t))) for t in ids]
    assert guard.has_lineage(9001) and not guard.has_lineage(9999) and not Guard(None, clusters).has_lineage(1)


def test_a_first_build_ranks_deep_only_the_tracks_pre_assignment_leaves():
    """Pre-assignment reads each track's best two clusters; the deep candidate lists (candidates x
    passes) are ranked only for the tracks it leaves. The result is the one of ranking every track deep
    at once (what a build with a previous placement does: here one naming no track of this world)."""
    import numpy as np

    from collection_tree.phases.placement import Guard
    from collection_tree.phases.reassignment import PreviousPlacement

    named, tracks = world(orphans_per_cluster=6)
    rows = tracks.to_dict("records")
    extra = max(r["track_id"] for r in rows)
    for i, (style, lineage) in enumerate(STYLES):  # orphans of one style and place: clear cases
        root = lineage.split(" > ")[0]
        rows += [track(extra + 1 + 4 * i + j, [root, style], [PLACES[j % 3]]) for j in range(4)]
    tracks = frame(rows)
    named = ClusterSet(clusters=named.clusters, all_track_ids=tracks["track_id"].tolist())
    doc = world_tree(tracks)
    params = ReassignParams.for_profile("default")
    depth = params.candidates * params.max_passes

    calls: list[tuple[int, int]] = []
    real_ranked = Guard.ranked

    def recording(self, model, track_ids, centroids, k):
        calls.append((len(track_ids), k))
        return real_ranked(self, model, track_ids, centroids, k)

    def place(previous: PreviousPlacement | None) -> ClusterSet:
        client = LLMClient(OfflineProvider(), max_concurrency=8, invalid_answer_retries=0)
        return reassign_tracks(named, tracks, client.for_phase("assigned_clusters"), params, genre_tree=doc,
                               previous=previous)

    original = Guard.ranked
    Guard.ranked = recording
    try:
        first = place(None)
        shallow_calls = list(calls)
        calls.clear()
        deep = place(PreviousPlacement({}, {999999: "nowhere"}))
        deep_calls = list(calls)
    finally:
        Guard.ranked = original
    placeable = first.report.to_reassign
    assert first.report.preassigned > 0 and first.report.llm_assigned > 0  # both kinds of track occur
    # the poor-fit check (k=2), then the best two of every track to place, then deep for the rest only
    assert shallow_calls[-2:] == [(placeable, 2), (placeable - first.report.preassigned, depth)]
    assert deep_calls[-1] == (placeable, depth)
    assert [(c.id, c.track_ids) for c in first.clusters] == [(c.id, c.track_ids) for c in deep.clusters]
    assert first.report.placed_owners == deep.report.placed_owners
    assert (first.report.preassigned, first.report.llm_assigned, first.report.fallback_assigned) == \
        (deep.report.preassigned, deep.report.llm_assigned, deep.report.fallback_assigned)
    assert np.array_equal(np.sort([t for c in first.clusters for t in c.track_ids]), np.sort(tracks["track_id"]))
