"""Phase 4 (refined_clusters): the quality pass's loop, limits, fallbacks and invariants, its three
tasks, and a run on the real genius-2000s collection."""

import json
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from helpers import collection_resources

from collection_tree.core.clusters import Cluster, ClusterSet, clusters_from_seeds
from collection_tree.core.inputs import load_tracks, load_tree
from collection_tree.core.lineage import GenreLineages
from collection_tree.core.search import FacetIndex, assign_tracks_to_branches
from collection_tree.llm.client import LLMClient, ProviderAnswer
from collection_tree.llm.interface import LLMError, LLMRequest, StopRequested
from collection_tree.llm.offline import OfflineProvider
from collection_tree.phases.refinement import RefineParams, refine_clusters, split_cluster
from collection_tree.phases.seed_clusters import build_seed_clusters
from collection_tree.tasks import define_subclusters, rename_merged_cluster, score_clusters

GENIUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "genius-2000s"
NO_PROBLEMS = {"duplicated": [], "out_of_scope": [], "orphaned": []}


# ------------------------------------------------------------------------------------ helpers
class Scripted:
    """A provider answering each task with a script (a function of the request) or the offline solver;
    a script may raise LLMError. Records every request."""

    name = "scripted"

    def __init__(self, **scripts: Callable[[LLMRequest], dict[str, Any]]):
        self.scripts = scripts
        self.requests: list[LLMRequest] = []
        self.lock = threading.Lock()

    def complete(self, request: LLMRequest, model: str) -> ProviderAnswer:
        with self.lock:
            self.requests.append(request)
        script = self.scripts.get(request.task)
        answer = script(request) if script else OfflineProvider().complete(request, model).text
        return ProviderAnswer(text=answer if isinstance(answer, str) else json.dumps(answer))

    def tasks(self) -> list[str]:
        return [r.task for r in self.requests]


def run(cluster_set: ClusterSet, tracks: pd.DataFrame, provider: Any, profile: str = "default",
        **overrides: Any) -> ClusterSet:
    client = LLMClient(provider, invalid_answer_retries=0)
    params = RefineParams.for_profile(profile).with_overrides(**overrides)
    return refine_clusters(cluster_set, tracks, client.for_phase("refined_clusters"), params)


def make_tracks(rows: list[dict[str, Any]]) -> pd.DataFrame:
    out = pd.DataFrame({
        "track_id": [r["track_id"] for r in rows],
        "title": [f"Song {r['track_id']}" for r in rows],
        "artist": [r.get("artist", f"Artist {r['track_id'] % 7}") for r in rows],
        "year": pd.array([r.get("year") for r in rows], dtype="Int64"),
        "comment": [r.get("comment", "") for r in rows],
        "genre": [r.get("genre", []) for r in rows],
        "scene_tags": [r.get("scene_tags", []) for r in rows],
        "descriptors": [r.get("descriptors", []) for r in rows],
        "era": [r.get("era", "") for r in rows],
    })
    return out


def cluster(cid: str, ids: list[int], genre: str = "Nu-Metal", scene: str = "USA Metal 2000-2004",
            lineage: str = "USA > USA 2000-2004 > USA Metal 2000-2004", **kw: Any) -> Cluster:
    return Cluster(id=cid, track_ids=sorted(ids), genre_title=genre, scene_title=scene, scene_lineage=lineage,
                   genre_lineage=f"Rock > {genre}", title=kw.pop("title", f"{genre}, {scene}"),
                   description=kw.pop("description", f"Tracks of {genre} in {scene}."),
                   filters=kw.pop("filters", {"genre": [genre], "scene_tags": ["USA"]}), **kw)


@pytest.fixture
def small_world() -> tuple[ClusterSet, pd.DataFrame]:
    """Two small era slices of one genre x scene (merge material), a 60-track cluster with two year
    groups (split material), a uniform 40-track cluster, and one unplaced track."""
    rows = [{"track_id": t, "year": 2001 + t % 3, "genre": ["Rock", "Nu-Metal"], "scene_tags": ["USA"]}
            for t in range(1, 7)]
    rows += [{"track_id": t, "year": 2006 + t % 3, "genre": ["Rock", "Nu-Metal"], "scene_tags": ["USA"]}
             for t in range(7, 12)]
    rows += [{"track_id": t, "year": 2000 + t % 2, "genre": ["Rock", "Pop-Punk"], "scene_tags": ["Pop-Punk"]}
             for t in range(100, 130)]
    rows += [{"track_id": t, "year": 2008 + t % 2, "genre": ["Rock", "Pop-Punk"], "scene_tags": ["Pop-Punk"]}
             for t in range(130, 160)]
    rows += [{"track_id": t, "year": 2005, "genre": ["Pop", "Dance"], "scene_tags": ["UK"]} for t in range(200, 240)]
    rows += [{"track_id": 999}]
    tracks = make_tracks(rows)
    clusters = [
        cluster("punk", list(range(100, 160)), genre="Pop-Punk", scene="Pop-Punk 2000-2010",
                lineage="Scenes > Pop-Punk > Pop-Punk 2000-2010", filters={"genre": ["Pop-Punk"]}),
        cluster("dance", list(range(200, 240)), genre="Dance", scene="UK Dance 2005-2010",
                lineage="UK > UK 2005-2010 > UK Dance 2005-2010", filters={"genre": ["Dance"], "scene_tags": ["UK"]}),
        cluster("nu-early", list(range(1, 7))),
        cluster("nu-late", list(range(7, 12)), scene="USA Metal 2005-2010",
                lineage="USA > USA 2005-2010 > USA Metal 2005-2010"),
    ]
    cs = ClusterSet(clusters, all_track_ids=tracks["track_id"].tolist(),
                    unplaced=[{"track_id": 999, "reason": "no facets"}])
    assert cs.membership_problems() == NO_PROBLEMS
    return cs, tracks


def scores_answer(request: LLMRequest, score: Any = 8, merges: list | None = None,
                  splits: list | None = None) -> dict[str, Any]:
    return {"scores": [{"cluster_id": c["cluster_id"], "score": score} for c in request.payload["clusters"]],
            "merge_suggestions": merges or [], "split_suggestions": splits or []}


# ------------------------------------------------------------------------------- the whole loop
def test_offline_run_merges_splits_and_keeps_every_track_once(small_world):
    cs, tracks = small_world
    out = run(cs, tracks, OfflineProvider())
    assert out.membership_problems() == NO_PROBLEMS
    assert out.unplaced == cs.unplaced and out.all_track_ids == cs.all_track_ids
    by_id = {c.id: c for c in out.clusters}
    # The two Nu-Metal era slices became one cluster, renamed, under the larger one's id.
    merged = by_id["nu-early"]
    assert "nu-late" not in by_id and merged.origin == "merged" and merged.track_ids == list(range(1, 12))
    assert merged.title == "Nu-Metal, USA Metal 2000-2010" and merged.named_by == "offline"
    # The Pop-Punk cluster with two year groups was split by year; its sub-clusters inherit the context.
    subs = [c for c in out.clusters if c.id.startswith("punk~")]
    assert [c.track_count for c in subs] == [30, 30] and "punk" not in by_id
    assert all(c.origin == "split" and c.genre_title == "Pop-Punk" and c.filters["genre"] == ["Pop-Punk"]
               for c in subs)
    assert {tuple(c.filters["year_range"]) for c in subs} == {(2000, 2001), (2008, 2009)}
    assert by_id["dance"].track_ids == cs.clusters[1].track_ids  # uniform: untouched
    report = out.report
    assert report.merges == 1 and report.splits == 1
    assert report.clusters_in == 4 and report.clusters_out == len(out.clusters) == 4
    # Overlapped rounds: round 1 scores all 4; round 2 merges and splits; round 3 scores the 3 clusters
    # round 2 created (nothing else is suggested, so no round 4).
    scoring, acting, rescoring = report.iterations
    assert scoring["clusters_scored"] == 4 and scoring["merges"] == 0 and scoring["calls"] == 1
    assert acting["clusters_scored"] == 0 and acting["merges"] == 1 and acting["splits"] == 1
    assert acting["calls"] == 2  # one rename, one split definition
    assert rescoring["clusters_scored"] == 3 and rescoring["calls"] == 1 and rescoring["merges"] == 0
    assert report.calls == sum(r["calls"] for r in report.iterations) == 4 and report.serial_calls == 3
    assert report.stop_reason in ("converged", "unchanged") and report.final_scoring_calls == 0


def test_default_scores_new_clusters_in_the_rename_and_split_answers(small_world):
    cs, tracks = small_world
    provider = Scripted()
    out = run(cs, tracks, provider, "default", max_iterations=1)
    # One scoring round, then the merge and the split; their answers score the clusters they create.
    assert sorted(provider.tasks()) == ["define_subclusters", "rename_merged_cluster", "score_clusters"]
    rename = next(r for r in provider.requests if r.task == "rename_merged_cluster")
    split = next(r for r in provider.requests if r.task == "define_subclusters")
    assert rename.payload["with_score"] is True and rename.payload["features"]["tracks"] == 11
    assert "score" in rename.schema["required"]
    assert rename.system == rename_merged_cluster.SYSTEM + rename_merged_cluster.SCORE_INSTRUCTIONS
    assert split.payload["with_score"] is True and split.payload["cluster"]["quality_score"] is not None
    assert split.system == define_subclusters.SYSTEM + define_subclusters.SCORE_INSTRUCTIONS
    by_id = {c.id: c for c in out.clusters}
    assert by_id["nu-early"].quality_score == score_clusters.offline_score(rename.payload)
    parent_score = split.payload["cluster"]["quality_score"]
    assert by_id["punk~1"].quality_score == by_id["punk~2"].quality_score == min(10, parent_score + 1)
    assert out.report.final_scoring_calls == 0 and out.report.calls == 1 + 2 and out.report.serial_calls == 2
    # Without scores in the answers, a final round scores the 3 new clusters (suggestions ignored).
    provider = Scripted()
    out = run(cs, tracks, provider, "default", max_iterations=1, score_in_answers=False)
    assert provider.tasks().count("score_clusters") == 2
    final = [r for r in provider.requests if r.task == "score_clusters"][-1]
    assert sorted(c["cluster_id"] for c in final.payload["clusters"]) == ["nu-early", "punk~1", "punk~2"]
    assert all(c.quality_score is not None for c in out.clusters)
    assert out.report.final_scoring_calls == 1 and out.report.calls == 1 + 2 + 1
    provider = Scripted()
    seed = run(cs, tracks, provider, "seed", max_iterations=1)  # the reference leaves them unscored
    assert seed.report.final_scoring_calls == 0 and "unscored" in seed.report.score_distribution
    rename = next(r for r in provider.requests if r.task == "rename_merged_cluster")  # the reference's prompt
    assert rename.system == rename_merged_cluster.SYSTEM and "with_score" not in rename.payload
    assert rename.schema == rename_merged_cluster.SCHEMA


def test_a_failed_rename_leaves_only_its_cluster_to_the_final_scoring(small_world):
    cs, tracks = small_world

    def fail(request: LLMRequest) -> dict[str, Any]:
        raise LLMError(request.task, "overloaded", kind="unavailable")

    provider = Scripted(rename_merged_cluster=fail)
    out = run(cs, tracks, provider, "default", max_iterations=1)
    final = [r for r in provider.requests if r.task == "score_clusters"][-1]
    assert [c["cluster_id"] for c in final.payload["clusters"]] == ["nu-early"]
    assert out.report.final_scoring_calls == 1 and all(c.quality_score is not None for c in out.clusters)


def test_rename_and_split_answers_scores_are_normalised():
    payload = {**rename_merged_cluster.TASK.example(), "with_score": True}
    assert rename_merged_cluster.normalise({"title": "T", "score": {"value": "12"}}, payload)["score"] == 10
    assert rename_merged_cluster.normalise({"title": "T"}, payload)["score"] == score_clusters.DEFAULT_SCORE
    assert "score" not in rename_merged_cluster.normalise({"title": "T", "score": 3},
                                                          rename_merged_cluster.TASK.example())
    assert rename_merged_cluster.schema_for(rename_merged_cluster.TASK.example()) == rename_merged_cluster.SCHEMA
    split = {**define_subclusters.TASK.example(), "with_score": True}
    answer = define_subclusters.solve_offline(split)
    assert [s["score"] for s in answer["subclusters"]] == [8, 8]  # no parent score: neutral 7, plus one
    answer["subclusters"][0]["score"] = "junk"
    del answer["subclusters"][1]["score"]
    scores = [s["score"] for s in define_subclusters.normalise(answer, split)["subclusters"]]
    assert scores == [score_clusters.DEFAULT_SCORE] * 2
    assert "score" in define_subclusters.schema_for(split)["properties"]["subclusters"]["items"]["required"]
    assert "score" not in define_subclusters.schema_for(define_subclusters.TASK.example())[
        "properties"]["subclusters"]["items"]["properties"]
    assert all("score" not in s for s in define_subclusters.solve_offline(define_subclusters.TASK.example())[
        "subclusters"])


def test_stops_early_when_all_scores_good_and_nothing_suggested(small_world):
    cs, tracks = small_world
    provider = Scripted(score_clusters=lambda r: scores_answer(r, 8))
    out = run(cs, tracks, provider, "seed")
    assert provider.tasks() == ["score_clusters"]
    assert out.report.converged is True and out.report.stop_reason == "converged"
    assert out.report.iterations_run == 1
    assert [c.quality_score for c in out.clusters] == [8.0] * 4
    assert [c.track_ids for c in out.clusters] == [c.track_ids for c in cs.clusters]


def test_low_score_or_suggestion_keeps_iterating_up_to_the_limit(small_world):
    cs, tracks = small_world
    # Seed profile: a suggestion (even one that cannot be acted on) blocks the early stop, as the reference.
    provider = Scripted(score_clusters=lambda r: scores_answer(r, 9, splits=[{"cluster_id": "nu-early",
                                                                             "reason": "x"}]))
    out = run(cs, tracks, provider, "seed")
    assert provider.tasks() == ["score_clusters"] * 3 and out.report.converged is False
    assert out.report.stop_reason == "max_iterations" and out.report.splits == 0
    # Default profile: nothing changed in an iteration, so re-scoring would repeat itself: stop.
    provider = Scripted(score_clusters=lambda r: scores_answer(r, 4))
    out = run(cs, tracks, provider, "default")
    assert provider.tasks() == ["score_clusters"] and out.report.stop_reason == "unchanged"
    assert out.report.iterations[0]["below_stop_score"] == 4


def test_seed_profile_call_pattern_batches_of_15_serial():
    rows = [{"track_id": t, "year": 2001, "genre": ["Rock"]} for t in range(1, 201)]
    tracks = make_tracks(rows)
    clusters = [cluster(f"c{i:02d}", list(range(5 * i + 1, 5 * i + 6)), genre=f"G{i}", scene=f"S{i}",
                        description="x" * 500) for i in range(40)]
    cs = ClusterSet(clusters, all_track_ids=tracks["track_id"].tolist())
    provider = Scripted(score_clusters=lambda r: scores_answer(r, 8))
    client = LLMClient(provider)
    out = refine_clusters(cs, tracks, client.for_phase("refined_clusters"), RefineParams.for_profile("seed"))
    sizes = [len(r.payload["clusters"]) for r in provider.requests]
    assert sizes == [15, 15, 10]
    ids = [c["cluster_id"] for r in provider.requests for c in r.payload["clusters"]]
    assert ids == [c.id for c in clusters]  # the reference's order, no regrouping
    first = provider.requests[0].payload["clusters"][0]
    assert set(first) == {"cluster_id", "title", "description", "track_count"} and len(first["description"]) == 200
    assert client.max_in_flight == 1  # serial
    assert out.report.serial_calls == out.report.calls == 3


def test_default_profile_payload_has_features_and_bigger_parallel_batches():
    rows = [{"track_id": t, "year": 2001, "genre": ["Rock"]} for t in range(1, 501)]
    tracks = make_tracks(rows)
    clusters = [cluster(f"c{i:03d}", list(range(5 * i + 1, 5 * i + 6)), genre=f"G{99 - i:03d}", scene=f"S{i}")
                for i in range(100)]
    cs = ClusterSet(clusters, all_track_ids=tracks["track_id"].tolist())
    provider = Scripted(score_clusters=lambda r: scores_answer(r, 8))
    out = run(cs, tracks, provider, "default")
    # 100 clusters in batches of about 40, evenly filled (common.wave_chunks), in any order.
    assert sorted(len(r.payload["clusters"]) for r in provider.requests) == [33, 33, 34]
    # Batches cut from clusters sorted by genre lineage (G000 = c099 first): neighbours share a batch.
    assert {r.payload["clusters"][0]["cluster_id"] for r in provider.requests} == {"c099", "c066", "c032"}
    first = next(r for r in provider.requests if r.payload["clusters"][0]["cluster_id"] == "c099").payload[
        "clusters"][0]
    assert first["features"]["filter_agreement"] == {"genre": 0.0, "scene_tags": 0.0}
    assert first["features"]["year"]["median"] == 2001
    assert out.report.calls == 3 and out.report.serial_calls == 1  # 3 batches on 8 workers
    assert out.report.stop_reason == "converged"  # every score >= 7, nothing suggested: no second round
    # On 2 workers the batches grow (up to max_batch_size) to fill one wave instead of taking two.
    provider = Scripted(score_clusters=lambda r: scores_answer(r, 8))
    out = run(cs, tracks, provider, "default", workers=2)
    assert sorted(len(r.payload["clusters"]) for r in provider.requests) == [50, 50]
    assert out.report.serial_calls == 1
    provider = Scripted(score_clusters=lambda r: scores_answer(r, 8))
    run(cs, tracks, provider, "default", workers=2, max_batch_size=40)  # they may not grow: two waves
    assert sorted(len(r.payload["clusters"]) for r in provider.requests) == [33, 33, 34]


# ---------------------------------------------------------------------------- limits and rules
def merge_suggestions(n_pairs: int = 8):
    """24 clusters of 5 tracks; every scoring answer suggests merging ``n_pairs`` pairs of them."""
    rows = [{"track_id": t, "year": 2001, "genre": ["Rock"]} for t in range(1, 121)]
    tracks = make_tracks(rows)
    clusters = [cluster(f"c{i:02d}", list(range(5 * i + 1, 5 * i + 6)), genre=f"G{i}", scene=f"S{i}")
                for i in range(24)]
    cs = ClusterSet(clusters, all_track_ids=tracks["track_id"].tolist())
    pairs = [[f"c{2 * i:02d}", f"c{2 * i + 1:02d}"] for i in range(n_pairs)]
    provider = Scripted(score_clusters=lambda r: scores_answer(
        r, 6, merges=[{"cluster_ids": p, "reason": "same"} for p in pairs]))
    return tracks, cs, pairs, provider


def test_at_most_five_merges_per_iteration():
    tracks, cs, pairs, provider = merge_suggestions()
    out = run(cs, tracks, provider, "seed", max_iterations=1)
    assert provider.tasks().count("rename_merged_cluster") == 5
    assert {r.tier for r in provider.requests if r.task == "rename_merged_cluster"} == {"creative"}  # the reference
    assert out.report.merges == 5 and len(out.clusters) == 24 - 5
    merged = [c for c in out.clusters if c.origin == "merged"]
    assert [c.id for c in merged] == [p[0] for p in pairs[:5]]
    assert all(c.track_count == 10 for c in merged)
    assert out.membership_problems() == NO_PROBLEMS


def test_overlapped_rounds_act_on_standing_suggestions_while_scoring_only_what_changed():
    tracks, cs, pairs, provider = merge_suggestions()
    out = run(cs, tracks, provider, "default", max_leaf_tracks=0)
    rounds = out.report.iterations
    assert [(r["clusters_scored"], r["merges"]) for r in rounds] == [(24, 0), (0, 5), (5, 3)]
    # Round 3 scored only the 5 clusters round 2 merged, in the same wave as the 3 merges left standing.
    scored = [[c["cluster_id"] for c in r.payload["clusters"]] for r in provider.requests if r.task == "score_clusters"]
    assert sorted(i for batch in scored for i in batch).count("c20") == 1  # unchanged: scored once only
    assert sorted(scored[-1]) == [p[0] for p in pairs[:5]]
    renames = [r for r in provider.requests if r.task == "rename_merged_cluster"]  # in order of the rounds
    assert sorted(r.payload["clusters"][0]["cluster_id"] for r in renames[5:]) == [p[0] for p in pairs[5:]]
    assert all(r["calls"] <= 8 for r in rounds) and out.report.serial_calls == 3
    assert out.report.merges == 8 and all(c.quality_score is not None for c in out.clusters)
    assert out.report.final_scoring_calls == 0 and out.membership_problems() == NO_PROBLEMS


def test_a_round_acts_on_no_more_than_its_wave_leaves_room_for():
    tracks, cs, _, provider = merge_suggestions(12)
    out = run(cs, tracks, provider, "default", max_leaf_tracks=0, workers=4, max_merges=5)
    # 4 workers: round 2 merges 4 (not max_merges' 5); round 3 scores them in one batch and merges 3.
    assert [(r["scoring_batches"], r["merges"]) for r in out.report.iterations] == [(1, 0), (0, 4), (1, 3), (0, 4)]
    assert all(r["calls"] <= 4 for r in out.report.iterations) and out.report.merges == 11


def test_default_renames_merged_clusters_on_the_mechanical_tier():
    """A merged cluster's name is a working title: phase 6 writes the public one on the creative tier."""
    tracks = make_tracks([{"track_id": t, "year": 2001, "genre": ["Rock"]} for t in range(1, 21)])
    clusters = [cluster(f"c{i:02d}", list(range(5 * i + 1, 5 * i + 6)), genre=f"G{i}", scene=f"S{i}") for i in range(4)]
    cs = ClusterSet(clusters, all_track_ids=tracks["track_id"].tolist())
    provider = Scripted(score_clusters=lambda r: scores_answer(
        r, 6, merges=[{"cluster_ids": ["c00", "c01"], "reason": "same"}]))
    run(cs, tracks, provider, "default", max_iterations=1, max_leaf_tracks=0)
    assert [r.tier for r in provider.requests if r.task == "rename_merged_cluster"] == ["mechanical"]


def test_at_most_three_splits_and_only_above_min_split_size():
    rows = []
    clusters = []
    for i, size in enumerate((60, 50, 40, 35, 31, 30)):
        ids = list(range(1000 * i + 1, 1000 * i + size + 1))
        rows += [{"track_id": t, "year": 2000 if t % 2 else 2009, "genre": ["Rock"]} for t in ids]
        clusters.append(cluster(f"c{i}", ids, genre=f"G{i}", scene=f"S{i}"))
    tracks = make_tracks(rows)
    cs = ClusterSet(clusters, all_track_ids=tracks["track_id"].tolist())
    # Suggested smallest first; the 30-track cluster is not above the threshold.
    suggested = ["c5", "c4", "c3", "c2", "c1", "c0"]
    provider = Scripted(score_clusters=lambda r: scores_answer(
        r, 5, splits=[{"cluster_id": c, "reason": "two eras"} for c in suggested]))
    seed = run(cs, tracks, provider, "seed", max_iterations=1)
    split_payloads = [r.payload["cluster"]["cluster_id"] for r in provider.requests if r.task == "define_subclusters"]
    assert split_payloads == ["c4", "c3", "c2"]  # the reference: in suggestion order, > 30 only, 3 at most
    assert seed.report.splits == 3
    provider = Scripted(score_clusters=provider.scripts["score_clusters"])
    run(cs, tracks, provider, "default", max_iterations=1)
    split_payloads = [r.payload["cluster"]["cluster_id"] for r in provider.requests if r.task == "define_subclusters"]
    assert sorted(split_payloads) == ["c0", "c1", "c2"]  # default: the largest first


def test_parts_of_a_split_are_not_merged_back(small_world):
    cs, tracks = small_world

    def scorer(request: LLMRequest) -> dict[str, Any]:
        ids = {c["cluster_id"] for c in request.payload["clusters"]}
        if "punk" in ids:
            return scores_answer(request, 5, splits=[{"cluster_id": "punk", "reason": "two eras"}])
        return scores_answer(request, 5, merges=[{"cluster_ids": ["punk~1", "punk~2", "dance"], "reason": "?"},
                                                 {"cluster_ids": ["punk~2", "punk~1"], "reason": "?"}])

    out = run(cs, tracks, Scripted(score_clusters=scorer), "seed", max_iterations=2)
    assert {"punk~1", "punk~2"} <= {c.id for c in out.clusters}
    assert out.report.merged == [{"iteration": 2, "into": "punk~1", "from": ["dance"], "tracks": 70,
                                     "title": out.report.merged[0]["title"], "renamed": True}]
    assert out.membership_problems() == NO_PROBLEMS


def test_scores_as_nested_dicts_and_unknown_ids_are_normalised(small_world):
    cs, tracks = small_world
    answer = {
        "scores": [{"cluster_id": "punk", "score": {"value": 9, "reason": "tight"}},
                   {"cluster_id": "dance", "score": {"reason": "no number"}},
                   {"cluster_id": {"id": "nu-early"}, "score": "8"},
                   {"cluster_id": "ghost", "score": 3}],
        "merge_suggestions": [{"cluster_ids": ["nu-early", "ghost"], "reason": "one real id"},
                              {"cluster_ids": ["nu-early", "nu-late", "ghost"], "reason": "two real ids"}],
        "split_suggestions": [{"cluster_id": "ghost", "reason": "?"}, "punk"],
    }
    payload = {"clusters": [{"cluster_id": c.id} for c in cs.clusters]}
    normalised = score_clusters.normalise(answer, payload)
    assert normalised["scores"] == [{"cluster_id": "punk", "score": 9}, {"cluster_id": "dance", "score": 5},
                                    {"cluster_id": "nu-early", "score": 8}]
    assert [m["cluster_ids"] for m in normalised["merge_suggestions"]] == [["nu-early", "nu-late"]]
    assert normalised["split_suggestions"] == [{"cluster_id": "punk", "reason": ""}]
    # A dict keyed by cluster id, scores out of range: clipped.
    keyed = score_clusters.normalise({"scores": {"punk": 14, "dance": {"score": 0}}}, payload)
    assert keyed["scores"] == [{"cluster_id": "punk", "score": 10}, {"cluster_id": "dance", "score": 1}]

    provider = Scripted(score_clusters=lambda r: answer)
    out = run(cs, tracks, provider, "seed", max_iterations=1)
    scores = {c.id: c.quality_score for c in out.clusters}
    assert scores["punk~1"] is None  # split after scoring: not scored yet
    assert scores["dance"] == 5.0 and out.report.merges == 1
    assert out.membership_problems() == NO_PROBLEMS


def test_failed_rename_keeps_first_title_and_failed_split_keeps_cluster(small_world):
    cs, tracks = small_world

    def fail(request: LLMRequest) -> dict[str, Any]:
        raise LLMError(request.task, "overloaded", kind="unavailable")

    provider = Scripted(score_clusters=lambda r: scores_answer(
        r, 5, merges=[{"cluster_ids": ["nu-early", "nu-late"], "reason": "x"}],
        splits=[{"cluster_id": "punk", "reason": "y"}]), rename_merged_cluster=fail, define_subclusters=fail)
    out = run(cs, tracks, provider, "seed", max_iterations=1)
    by_id = {c.id: c for c in out.clusters}
    assert by_id["nu-early"].title == cs.clusters[2].title and by_id["nu-early"].origin == "merged"
    assert by_id["nu-early"].track_ids == list(range(1, 12))
    assert by_id["punk"].track_ids == cs.clusters[0].track_ids and by_id["punk"].origin == "seed"
    row = out.report.iterations[0]
    assert row["rename_failures"] == 1 and row["split_failures"] == 1 and row["splits"] == 0
    assert out.membership_problems() == NO_PROBLEMS


def test_failed_scoring_batch_keeps_scores_and_blocks_convergence(small_world):
    cs, tracks = small_world
    calls = {"n": 0}

    def flaky(request: LLMRequest) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise LLMError(request.task, "timeout", kind="timeout")
        return scores_answer(request, 9)

    out = run(cs, tracks, Scripted(score_clusters=flaky), "seed")
    rows = out.report.iterations
    assert rows[0]["scoring_failures"] == 1 and rows[0]["clusters_scored"] == 0
    assert len(rows) == 2 and out.report.converged is True  # the second round scored everything >= 7
    # Overlapped rounds: the failed batch's clusters are scored again in the next round, then it converges.
    calls["n"] = 0
    out = run(cs, tracks, Scripted(score_clusters=flaky), "default")
    rows = out.report.iterations
    assert [(r["scoring_failures"], r["clusters_scored"]) for r in rows] == [(1, 0), (0, 4)]
    assert out.report.converged is True and out.report.stop_reason == "converged"
    assert [c.quality_score for c in out.clusters] == [9.0] * 4


def test_stop_requested_propagates(small_world):
    cs, tracks = small_world
    client = LLMClient(OfflineProvider())

    class StopAfterScoring(Scripted):
        def complete(self, request: LLMRequest, model: str) -> ProviderAnswer:
            client.stop_event.set()  # Terminate pressed while the first call runs
            return super().complete(request, model)

    client.provider = StopAfterScoring()
    with pytest.raises(StopRequested):
        refine_clusters(cs, tracks, client.for_phase("refined_clusters"), RefineParams.for_profile("default"))
    assert [r.task for r in client.provider.requests] == ["score_clusters"]


def test_parallel_default_equals_serial(small_world):
    cs, tracks = small_world
    parallel = run(cs, tracks, OfflineProvider(), "default", workers=4)
    serial = run(cs, tracks, OfflineProvider(), "default", workers=1)
    assert [c.to_dict() for c in parallel.clusters] == [c.to_dict() for c in serial.clusters]


# -------------------------------------------------------------------------------- split placement
def split_fixture() -> tuple[Cluster, FacetIndex]:
    rows = ([{"track_id": t, "year": 2001, "scene_tags": ["Sverige"]} for t in range(1, 21)]
            + [{"track_id": t, "year": 2002, "scene_tags": ["Norge"]} for t in range(21, 24)]
            + [{"track_id": t, "year": 2003, "scene_tags": ["Suomi"]} for t in range(24, 38)]
            + [{"track_id": t, "year": 2004, "scene_tags": []} for t in range(38, 44)])
    tracks = make_tracks(rows)
    parent = cluster("scandi", list(range(1, 44)), genre="Metal", scene="Scandinavia 2000-2004",
                     filters={"genre": ["Metal"], "scene_tags": ["Sverige", "Norge", "Suomi"]},
                     poor_fit_track_ids=[2, 40])
    return parent, FacetIndex(tracks)


def sub(title: str, **filters: Any) -> dict[str, Any]:
    full = {k: [] for k in define_subclusters.FILTER_KEYS}
    full.update(filters)
    return {"title": title, "description": f"{title}.", "filters": full}


def test_split_folds_small_subclusters_and_keeps_unmatched_in_parent():
    parent, index = split_fixture()
    params = RefineParams()
    taken = {parent.id}
    parts = split_cluster(parent, [sub("Swedish", scene_tags=["Sverige"]), sub("Norwegian", scene_tags=["Norge"]),
                                   sub("Finnish", scene_tags=["Suomi"])], index, params, taken, "llm")
    assert parts is not None
    by_id = {p.id: p for p in parts}
    # Norway (3 tracks) was folded back; its tracks match no other sub-cluster and, with the 6
    # untagged tracks, stay in the parent as its remainder.
    assert by_id["scandi"].track_ids == [21, 22, 23, *range(38, 44)] and by_id["scandi"].origin == "seed"
    assert by_id["scandi~1"].track_ids == list(range(1, 21)) and by_id["scandi~1"].title == "Swedish"
    assert by_id["scandi~2"].track_ids == list(range(24, 38)) and by_id["scandi~2"].title == "Finnish"
    assert by_id["scandi~1"].filters == {"genre": ["Metal"], "scene_tags": ["Sverige"]}
    assert by_id["scandi~1"].poor_fit_track_ids == [2] and by_id["scandi"].poor_fit_track_ids == [40]
    assert all(p.genre_title == "Metal" and p.scene_title == "Scandinavia 2000-2004" for p in parts)
    assert sorted(t for p in parts for t in p.track_ids) == parent.track_ids
    assert taken == {"scandi", "scandi~1", "scandi~2"}


def test_split_parts_take_their_answer_scores_and_the_remainder_its_parents():
    parent, index = split_fixture()
    parent = replace(parent, quality_score=4.0)
    subs = [{**sub("Swedish", scene_tags=["Sverige"]), "score": 9},
            {**sub("Finnish", scene_tags=["Suomi"]), "score": 7}]
    parts = {p.id: p.quality_score for p in split_cluster(parent, subs, index, RefineParams(), {parent.id}, "llm")}
    assert parts == {"scandi": 4.0, "scandi~1": 9.0, "scandi~2": 7.0}
    seed = split_cluster(parent, subs, index, RefineParams.for_profile("seed"), {parent.id}, "llm")
    assert seed is not None and seed[0].id == "scandi" and seed[0].quality_score is None  # the reference


def test_split_gives_a_small_remainder_to_the_largest_and_voids_single_groups():
    parent, index = split_fixture()
    params = RefineParams()
    by_year = split_cluster(parent, [sub("Early", year_range=[2001, 2002]), sub("Late", year_range=[2003, 2004])],
                            index, params, {parent.id}, "llm")
    assert [p.track_count for p in by_year] == [23, 20] and "scandi" not in {p.id for p in by_year}
    # Only one usable group (Sweden; the 23 others would be a remainder... give it a year filter that
    # covers everything else instead): one group is no split.
    void = split_cluster(parent, [sub("All", year_range=[2001, 2004]), sub("Nobody", descriptors=["Live"])],
                         index, params, {parent.id}, "llm")
    assert void is None
    # A remainder under 5 tracks (Norway's 3) joins the largest sub-cluster (Sweden's).
    few = split_cluster(parent, [sub("Swedish", scene_tags=["Sverige"]), sub("Finnish", scene_tags=["Suomi"]),
                                 sub("Untagged", year_range=[2004, 2004])], index, params, {parent.id}, "llm")
    assert [p.track_count for p in few] == [23, 14, 6] and "scandi" not in {p.id for p in few}
    assert few[0].track_ids == list(range(1, 24))


def test_void_split_from_llm_keeps_cluster_and_is_not_retried_in_default(small_world):
    cs, tracks = small_world
    useless = {"subclusters": [sub("A", year_range=[2000, 2010]), sub("B", scene_tags=["Pop-Punk"])]}
    provider = Scripted(score_clusters=lambda r: scores_answer(
        r, 5, merges=[{"cluster_ids": ["nu-early", "nu-late"], "reason": "m"}],
        splits=[{"cluster_id": "punk", "reason": "x"}]), define_subclusters=lambda r: useless)
    seed = run(cs, tracks, provider, "seed")
    assert provider.tasks().count("define_subclusters") == 3  # the reference tries again each iteration
    assert [r["splits_void"] for r in seed.report.iterations] == [1, 1, 1]
    assert {c.id: c.track_ids for c in seed.clusters}["punk"] == cs.clusters[0].track_ids
    provider.requests.clear()
    default = run(cs, tracks, provider, "default")
    # Round 2 merged and tried the split; round 3 scored the merged cluster (it changed) ...
    assert default.report.iterations_run == 3 and default.report.iterations[2]["clusters_scored"] == 1
    assert provider.tasks().count("define_subclusters") == 1  # ... and nobody asked for the same split again


# -------------------------------------------------------------------------------------- tasks
def test_define_subclusters_normalise_validates_against_the_landscape():
    payload = define_subclusters.TASK.example()
    answer = {"sub_clusters": [
        {"title": "USA", "description": "d", "filters": {"country": ["usa", "Mars"], "bogus": ["x"]}},
        {"name": "Germany", "filters": [{"facet": "scene_tags", "values": ["Deutschland"]}]},
        {"title": "Late", "filters": {"year_range": {"min": 2007, "max": 2030}}},
        {"title": "Future", "filters": {"year_range": "2020-2030"}},  # outside the landscape: dropped
        {"title": "Dup", "filters": {"country": ["USA"]}},  # same filters as the first
        {"title": "Noise", "filters": {"genre": ["Polka"]}},  # a value the landscape does not hold
        {"title": "Fifth", "filters": {"genre": ["Rap Metal"]}},
        {"title": "Sixth", "filters": {"genre": ["Metal"]}},
    ]}
    out = define_subclusters.normalise(answer, payload)["subclusters"]
    assert [s["title"] for s in out] == ["USA", "Germany", "Late", "Fifth"]  # at most 4
    assert out[0]["filters"]["country"] == ["USA"] and out[1]["filters"]["scene_tags"] == ["Deutschland"]
    assert out[2]["filters"]["year_range"] == [2007, 2009]  # clipped to the observed years
    assert set(out[0]["filters"]) == set(define_subclusters.FILTER_KEYS)
    assert out[1]["description"] == ""
    with pytest.raises(ValueError):
        define_subclusters.normalise({"subclusters": [answer["sub_clusters"][0], answer["sub_clusters"][5]]}, payload)
    schema = define_subclusters.schema_for(payload)
    country = schema["properties"]["subclusters"]["items"]["properties"]["filters"]["properties"]["country"]
    assert country["items"]["enum"] == ["USA", "Deutschland"]


def test_define_subclusters_offline_prefers_a_clear_tag_split_without_year_modes():
    payload = define_subclusters.TASK.example()
    payload["landscape"]["numeric"]["year"]["histogram"] = [[2001, 2001, 30], [2002, 2002, 30]]
    payload["landscape"]["numeric"]["year"]["max"] = 2002
    payload["landscape"]["values"]["scene_tags"] = [["Nu-Metal", 60], ["USA", 30], ["Deutschland", 24]]
    payload["landscape"]["values"].pop("country")
    out = define_subclusters.solve_offline(payload)["subclusters"]
    assert [s["filters"]["scene_tags"] for s in out] == [["USA"], ["Deutschland"]]  # not the cluster's own tag
    assert all(s["filters"]["year_range"] == [] for s in out)


def test_score_clusters_offline_suggestions():
    payload = score_clusters.TASK.example()
    answer = score_clusters.solve_offline(payload)
    assert [m["cluster_ids"] for m in answer["merge_suggestions"]] == [
        ["rock-nu-metal__usa-metal-2000-2004", "rock-nu-metal__usa-metal-2005-2010"]]
    assert [s["cluster_id"] for s in answer["split_suggestions"]] == ["rock-nu-metal__nu-metal-2000-2004"]
    scores = {s["cluster_id"]: s["score"] for s in answer["scores"]}
    assert scores["rock-nu-metal__nu-metal-2000-2004"] < scores["rock-nu-metal__usa-metal-2000-2004"]
    # A 30-track cluster is never suggested for a split; a merged group stays <= 30 tracks.
    payload["clusters"][0]["track_count"] = 30
    payload["clusters"][1]["track_count"] = payload["clusters"][2]["track_count"] = 14
    payload["clusters"].append({**payload["clusters"][2], "cluster_id": "third", "track_count": 10})
    answer = score_clusters.solve_offline(payload)
    assert answer["split_suggestions"] == []
    assert all(sum(14 if i != "third" else 10 for i in m["cluster_ids"]) <= 30 for m in answer["merge_suggestions"])
    # Without features (the seed payload) titles that differ only by era still merge.
    bare = {"clusters": [{"cluster_id": c, "title": t, "description": "", "track_count": 6}
                         for c, t in (("a", "Nu-Metal, USA early 2000s"), ("b", "Nu-Metal, USA late 2000s"),
                                      ("c", "Soul, UK early 2000s"))]}
    answer = score_clusters.solve_offline(bare)
    assert [m["cluster_ids"] for m in answer["merge_suggestions"]] == [["a", "b"]]
    assert {s["score"] for s in answer["scores"]} == {score_clusters.NEUTRAL_SCORE}


def test_offline_scores_use_audio_features_when_present():
    base = {"cluster_id": "a", "title": "t", "description": "", "track_count": 20,
            "features": {"tracks": 20, "filter_agreement": {"genre": 1.0}, "year": {"iqr": 1},
                         "key": {"distinct": 3, "top": [["8A", 0.6]]}}}
    tight = {**base, "features": {**base["features"], "bpm": {"iqr": 3, "iqr_ratio": 0.2},
                                  "energy": {"iqr": 0.05, "iqr_ratio": 0.3}}}
    loose = {**base, "features": {**base["features"], "bpm": {"iqr": 40, "iqr_ratio": 1.8},
                                  "energy": {"iqr": 0.5, "iqr_ratio": 1.9},
                                  "key": {"distinct": 20, "top": [["8A", 0.08]]}}}
    assert score_clusters.offline_score(tight) > score_clusters.offline_score(loose)
    modes = [{"range": [90, 100], "share": 0.5}, {"range": [125, 130], "share": 0.5}]
    two_tempos = {**tight, "track_count": 40,
                  "features": {**tight["features"], "bpm": {"iqr": 30, "iqr_ratio": 0.9, "modes": modes}}}
    assert "two bpm groups" in score_clusters.split_reason(two_tempos)
    answer = score_clusters.solve_offline({"clusters": [two_tempos]})
    assert answer["split_suggestions"][0]["cluster_id"] == "a"


def test_rename_normalise_rejects_blank_titles():
    payload = rename_merged_cluster.TASK.example()
    assert rename_merged_cluster.normalise({"name": " Nu  Metal ", "description": {"text": "d"}}, payload) == {
        "title": "Nu Metal", "description": "d"}
    with pytest.raises(ValueError):
        rename_merged_cluster.normalise({"title": "  ", "description": "d"}, payload)


# --------------------------------------------------------------------------- the real collection
def genius_cluster_set() -> tuple[ClusterSet, pd.DataFrame, dict[str, Any]]:
    """Phase 3 stand-in on genius-2000s: seeds deduplicated largest first, leftovers placed by filter
    score (>= 0.5, blind to lineages: some land in a cluster of another lineage), the rest unplaced.
    Also the genre tree."""
    tracks = load_tracks(GENIUS / "tracks.csv")
    known = set(tracks["track_id"].tolist())
    genre = load_tree(GENIUS / "genre_tree.json", "genre", known).doc
    scene = load_tree(GENIUS / "scene_tree.json", "scene", known).doc
    owner: dict[int, str] = {}
    kept = []
    for seed in clusters_from_seeds(build_seed_clusters(genre, scene)):
        mine = [t for t in seed.track_ids if t not in owner]
        owner.update(dict.fromkeys(mine, seed.id))
        if mine:
            kept.append(replace(seed, track_ids=mine, title=seed.fallback_title))
    left = [t for t in tracks["track_id"].tolist() if t not in owner]
    placed = assign_tracks_to_branches(FacetIndex(tracks), [{"id": c.id, "filters": c.filters} for c in kept], 0.5,
                                       track_ids=left)
    by_id = {c.id: c for c in kept}
    unplaced = []
    for t, cid in placed.items():
        if cid is None:
            unplaced.append({"track_id": t, "reason": "no cluster's filters match"})
        else:
            by_id[cid].track_ids.append(t)
    for c in kept:
        c.track_ids.sort()
    return ClusterSet(kept, tracks["track_id"].tolist(), unplaced), tracks, genre


@pytest.fixture(scope="module")
def genius() -> tuple[ClusterSet, pd.DataFrame, dict[str, Any]]:
    return genius_cluster_set()


@pytest.mark.parametrize("profile", ["seed", "default"])
def test_genius_offline_run_is_sane(genius, profile):
    cs, tracks, genre = genius
    assert cs.membership_problems() == NO_PROBLEMS
    lineages = GenreLineages.from_tree(genre)
    crossing = lineages.violations(cs.clusters)
    assert crossing  # the stand-in placed some tracks across lineages: phase 4 must repair them
    client = LLMClient(OfflineProvider())
    out = refine_clusters(cs, tracks, client.for_phase("refined_clusters"), RefineParams.for_profile(profile),
                          genre_tree=genre)
    report = out.report
    assert out.membership_problems() == NO_PROBLEMS
    assert lineages.violations(out.clusters) == [] and report.lineage_guard["violations"] == 0
    # Crossing tracks moved to a cluster of their own lineage, or unplaced when it has none (the stand-in
    # has no Country cluster left), with the reason.
    rootless = {t for t, _ in crossing if not {lineages.of_cluster(c) for c in cs.clusters} & set(lineages.of_track(t))}
    assert rootless and out.unplaced[: len(cs.unplaced)] == cs.unplaced
    extra = out.unplaced[len(cs.unplaced):]
    assert {u["track_id"] for u in extra} == rootless
    assert all(u["reason"].startswith("no playlist of its genre lineage (Country") for u in extra)
    assert report.lineage_guard["repaired_on_entry"] == len({t for t, _ in crossing}) - len(rootless)
    assert sum(c.track_count for c in out.clusters) + len(extra) == sum(c.track_count for c in cs.clusters)
    assert len({c.id for c in out.clusters}) == len(out.clusters)
    # Seed: up to 3 iterations; default: a scoring round and up to 3 overlapped rounds.
    assert 1 <= report.iterations_run <= (3 if profile == "seed" else 4) and report.clusters_in == len(cs.clusters)
    assert report.clusters_out == len(out.clusters)
    bounds = report.bounds
    assert report.clusters_out == report.clusters_in - sum(len(m["from"]) for m in report.merged) + sum(
        len(s["into"]) - 1 for s in report.split) - bounds.get("small_folded", 0) - bounds.get(
        "small_merged", 0) + sum(len(s["into"]) - 1 for s in report.bound_splits)
    for row in report.iterations:
        assert row["merges"] <= 5 and row["split_attempts"] <= 3
    assert all(s["tracks"] > 30 for s in report.split)
    assert all(c.track_count >= 5 for c in out.clusters if c.origin == "split")
    assert report.merges >= 1  # the collection has small era slices of one genre x scene
    stats = client.stats()
    assert stats["llm_calls"] == report.calls and stats["llm_failures"] == 0
    sizes = [c.track_count for c in out.clusters]
    if profile == "seed":  # the reference: no bounds
        assert bounds == {} and max(sizes) > 150 and min(sizes) < 5
        assert report.serial_calls == report.calls
        assert stats["calls_by_task"]["score_clusters"] == sum(-(-r["clusters_in"] // 15) for r in report.iterations)
        assert client.max_in_flight == 1
    else:
        assert min(sizes) >= 5 and max(sizes) <= 150
        assert report.leaves_over_max == report.leaves_under_min == 0 and report.largest_leaf == max(sizes)
        assert bounds["similarity_splits"] >= 1 and bounds["small_folded"] >= 1
        assert report.serial_calls < report.calls
        assert all(row["calls"] <= RefineParams().workers for row in report.iterations)  # one wave per round
        assert report.serial_calls == report.iterations_run + (report.final_scoring_calls > 0)
        assert report.splits >= 1  # features expose two-mode clusters
    assert sum(report.score_distribution.values()) == len(out.clusters)


# ------------------------------------------------------------------------------------ the asset
def asset_resources(tmp: Path, profile: str) -> dict:

    return collection_resources(tmp, GENIUS, profile=profile, llm_cache="off")


def test_asset_materialises_from_stored_assigned_clusters(tmp_path, genius):
    from dagster import AssetKey, DagsterInstance, materialize

    from collection_tree.assets.modes import FULL
    from collection_tree.assets.pipeline import build_assets, build_checks

    cs, _, _ = genius
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "assigned_clusters.json").write_text(json.dumps(cs.to_dict()))
    # Upstream definitions are listed so the graph resolves; only tracks and refined_clusters run, and
    # assigned_clusters is read from the store (as when re-materialising one asset).
    wanted = {FULL.key(n) for n in ("tracks", "genre_tree", "scene_tree", "seed_clusters", "named_clusters",
                                    "assigned_clusters", "refined_clusters")}
    assets = [a for a in build_assets(FULL) if a.key in wanted]
    checks = [c for c in build_checks(FULL) if FULL.key("refined_clusters") in {k.asset_key for k in c.check_keys}]
    result = materialize([*assets, *checks], selection=[FULL.key("tracks"), FULL.key("genre_tree"),
                                                        FULL.key("refined_clusters")],
                         resources=asset_resources(tmp_path, "seed"), instance=DagsterInstance.ephemeral())
    assert result.success
    stored = ClusterSet.from_dict(json.loads((tmp_path / "store" / "refined_clusters.json").read_text()))
    assert stored.membership_problems() == NO_PROBLEMS and stored.unplaced[: len(cs.unplaced)] == cs.unplaced
    meta = {e.asset_key: {k: v.value for k, v in e.event_specific_data.materialization.metadata.items()}
            for e in result.get_asset_materialization_events()}[AssetKey("refined_clusters")]
    assert meta["clusters_in"] == len(cs.clusters) and meta["clusters_out"] == len(stored.clusters)
    assert meta["profile"] == "seed" and meta["llm_calls"] == meta["calls"] == meta["serial_calls"]
    assert meta["exactly_once"].startswith("ok") and "| iteration |" in meta["iterations"]
    checks = result.get_asset_check_evaluations()
    assert [(c.asset_key, c.check_name, c.passed) for c in checks] == [
        (AssetKey("refined_clusters"), "exactly_once", True)]


# ------------------------------------------------------------------------------------ guard and bounds
def test_merges_keep_to_the_first_clusters_lineage_and_to_the_size_bound():
    from collection_tree.phases.refinement import plan_merges

    by_id = {i: Cluster(id=i, track_ids=list(range(n))) for i, n in (("a", 10), ("b", 20), ("c", 30), ("d", 146),
                                                                    ("e", 5))}
    lineage_of = {"a": "rock", "b": "pop", "c": "rock", "d": "rock", "e": "rock"}
    plan = plan_merges([["a", "b", "c"], ["b", "a"], ["d", "e", "a"]], by_id, RefineParams(), None, lineage_of)
    # ["a", "b", "c"] keeps a and c; ["b", "a"] is refused (a alone is left of Pop's b); d + e would hold 151
    assert plan.groups == [["a", "c"]]
    assert (plan.refused_cross_lineage, plan.refused_too_big) == (2, 1)
    # the reference (max_leaf_tracks 0) has no size bound, the guard still holds
    seed = plan_merges([["d", "e", "b"]], by_id, RefineParams.for_profile("seed"), None, lineage_of)
    assert seed.groups == [["d", "e"]] and seed.refused_cross_lineage == 1


def test_an_llm_suggesting_a_merge_across_lineages_is_refused(small_world):
    cs, tracks = small_world
    for c in cs.clusters:  # genre leaves: the punk and nu-metal clusters are Rock, dance is Pop
        c.genre_leaf_id = {"punk": "rock-pop-punk", "dance": "pop-dance"}.get(c.id, "rock-nu-metal")
    leaves = {"rock-pop-punk": list(range(100, 160)), "rock-nu-metal": list(range(1, 12)),
              "pop-dance": list(range(200, 240))}
    genre = {"id": "g", "tree_type": "genre", "created_at": "x", "lineages": [
        {"id": root, "title": root.title(), "description": "", "filters": {},
         "track_ids": sorted(t for leaf, ids in leaves.items() if leaf.startswith(root) for t in ids),
         "children": [{"id": leaf, "title": leaf, "description": "", "filters": {}, "track_ids": ids, "children": []}
                      for leaf, ids in leaves.items() if leaf.startswith(root)]} for root in ("rock", "pop")]}
    provider = Scripted(score_clusters=lambda r: scores_answer(r, merges=[{"cluster_ids": ["dance", "nu-early"]}]))
    client = LLMClient(provider, invalid_answer_retries=0)
    out = refine_clusters(cs, tracks, client.for_phase("refined_clusters"), RefineParams(max_iterations=1),
                          genre_tree=genre)
    assert out.report.merges == 0 and out.report.lineage_guard["merges_refused_cross_lineage"] == 1
    by_id = {c.id: c for c in out.clusters}
    assert by_id["dance"].track_ids == list(range(200, 240))
    assert out.report.lineage_guard["violations"] == 0 and out.membership_problems() == NO_PROBLEMS
