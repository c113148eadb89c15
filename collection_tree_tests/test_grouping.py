"""Phase 5: 8-12 categories, every cluster in exactly one, on real-data cluster sets, with faults
injected into every step; the reference's single-call seed profile and its fallback."""

import json
import math
import re
import threading
from collections import Counter
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from dagster import AssetKey, DagsterInstance, SourceAsset, materialize
from helpers import collection_resources

from collection_tree.assets.categories import build_categories_asset, build_categories_checks
from collection_tree.assets.modes import FULL
from collection_tree.core.clusters import Cluster, ClusterSet, clusters_from_seeds
from collection_tree.core.curation import fit_share, title_word_count, track_facet_words
from collection_tree.core.inputs import load_tracks, load_tree
from collection_tree.core.neighbourhoods import (
    ClusterSpace,
    lineage_groups,
    neighbourhoods,
    packed,
    structural_partition,
)
from collection_tree.core.partition import balance
from collection_tree.llm.client import LLMClient, ProviderAnswer
from collection_tree.llm.interface import LLMError, StopRequested
from collection_tree.llm.offline import OfflineProvider
from collection_tree.phases.common import wave_chunks
from collection_tree.phases.grouping import (
    GroupingParams,
    category_problems,
    facets_from_filters,
    group_into_categories,
    has_problems,
    makespan,
)
from collection_tree.phases.seed_clusters import build_seed_clusters
from collection_tree.tasks import assign_categories, describe_categories, describe_category

GENIUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "genius-2000s"
DEFAULT = GroupingParams.for_profile("default")
SEED = GroupingParams.for_profile("seed")
PHASE5_TASKS = ("propose_categories", "consolidate_categories", "assign_categories", "describe_categories")


# ---------------------------------------------------------------------------------------- fixtures
def genius_clusters(min_tracks: int) -> ClusterSet:
    known = set(load_tracks(GENIUS / "tracks.csv")["track_id"].tolist())
    genre = load_tree(GENIUS / "genre_tree.json", "genre", known).doc
    scene = load_tree(GENIUS / "scene_tree.json", "scene", known).doc
    clusters = clusters_from_seeds(build_seed_clusters(genre, scene, min_tracks=min_tracks))
    for c in clusters:  # what phases 2-4 would have written, from the leaves' own text
        c.title = f"{c.genre_title} — {c.scene_title}"
        c.description = f"{c.genre_description} {c.scene_description}"
    return ClusterSet(clusters, sorted({t for c in clusters for t in c.track_ids}))


@pytest.fixture(scope="module")
def clusters300() -> ClusterSet:
    cs = genius_clusters(8)
    assert 290 <= len(cs.clusters) <= 330
    return cs


def subset(cs: ClusterSet, n: int) -> ClusterSet:
    """Every k-th cluster: a small set that still spans the lineages."""
    step = max(1, len(cs.clusters) // n)
    picked = cs.clusters[::step][:n]
    return ClusterSet(picked, sorted({t for c in picked for t in c.track_ids}))


def offline_llm():
    return LLMClient(OfflineProvider()).for_phase("categories")


class Scripted:
    """Offline answers, except: tasks in ``fail`` raise LLMError ("*": every task); ``rewrite`` maps a
    task to a function that edits the offline answer dict before it is returned as text."""

    name = "scripted"

    def __init__(self, fail=(), rewrite=None, fail_when=None):
        self.fail = set(fail)
        self.fail_when = fail_when or (lambda request: False)
        self.rewrite = rewrite or {}
        self.offline = OfflineProvider()
        self.calls: Counter = Counter()
        self._lock = threading.Lock()

    def complete(self, request, model):
        with self._lock:
            self.calls[request.task] += 1
        if request.task in self.fail or "*" in self.fail or self.fail_when(request):
            raise LLMError(request.task, "scripted outage", kind="unavailable")
        reply = self.offline.complete(request, model)
        if request.task in self.rewrite:
            answer = self.rewrite[request.task](json.loads(reply.text), request.payload)
            return ProviderAnswer(text=json.dumps(answer), usage=reply.usage, priced=False)
        return reply


def pairs(answer: dict) -> list[tuple[str, str]]:
    """An assign_categories answer as (cluster id, category) pairs."""
    return [(cid, item["category"]) for item in answer["assignments"] for cid in item["cluster_ids"]]


def grouped(assignments) -> dict:
    """(cluster id, category) pairs as an assign_categories answer: one list of ids per category."""
    by: dict = {}
    for cid, category in assignments:
        by.setdefault(category, []).append(cid)
    return {"assignments": [{"category": category, "cluster_ids": ids} for category, ids in by.items()]}


def run(cs: ClusterSet, provider=None, params: GroupingParams = DEFAULT) -> dict:
    llm = LLMClient(provider or OfflineProvider()).for_phase("categories")
    return group_into_categories(cs, llm, params)


def assert_contract(result: dict, cs: ClusterSet) -> None:
    problems = category_problems(result["categories"], [c.id for c in cs.clusters])
    assert not has_problems(problems), problems
    assert 8 <= len(result["categories"]) <= 12
    assert all(c["title"] and c["description"] for c in result["categories"])
    assert len({c["title"].casefold() for c in result["categories"]}) == len(result["categories"])


def assert_balanced(result: dict, cs: ClusterSet, cap: float = DEFAULT.balance_cap) -> None:
    sizes = {c.id: c.track_count for c in cs.clusters}
    total = sum(sizes.values())
    for cat in result["categories"]:
        if len(cat["cluster_ids"]) == 1:
            continue  # one cluster above the cap cannot be split by this phase
        assert len(cat["cluster_ids"]) <= math.floor(cap * len(cs.clusters)), cat["title"]
        assert sum(sizes[c] for c in cat["cluster_ids"]) <= cap * total, cat["title"]


# ------------------------------------------------------------------------------ default profile
def test_default_profile_offline_on_300_real_clusters(clusters300):
    result = run(clusters300)
    assert_contract(result, clusters300)
    assert_balanced(result, clusters300)
    report = result["report"]
    assert not report.fallback_used and report.fallbacks["assigned_by_vector"] == 0
    steps = {s["step"]: s for s in report.steps}
    # each cluster is offered only its own lineage group's categories: nothing breaks the guard, no re-ask
    assert list(steps) == ["propose", "consolidate", "assign", "describe"]
    guard = report.guard
    assert guard["lineage_units"] == len(report.lineage_groups) and guard["clusters_offered_all"] == 0
    assert guard["breaking_clusters"] == 0 and report.categories_mixing_lineage_groups == 0
    hoods = report.neighbourhood_sizes
    assert sum(hoods) == len(clusters300.clusters) and steps["propose"]["units"] == len(hoods) == DEFAULT.workers
    assert steps["assign"]["units"] == DEFAULT.workers  # 308 clusters: 8 batches of about 40, one per worker
    assert steps["describe"]["units"] == len(wave_chunks(result["categories"], DEFAULT.describe_batch_size,
                                                         DEFAULT.workers, DEFAULT.describe_max_batch))
    assert steps["describe"]["units"] < len(result["categories"])
    assert report.calls == sum(s["calls"] for s in steps.values())
    # Critical path: four round-trips (propose, consolidate, assign and describe each one wave).
    assert report.serial_calls == 4 < report.calls
    sizes = {s["id"]: (s["clusters"], s["tracks"]) for s in report.category_sizes}
    assert sum(c for c, _ in sizes.values()) == len(clusters300.clusters)
    assert sum(t for _, t in sizes.values()) == sum(c.track_count for c in clusters300.clusters)


def test_categories_follow_the_genre_lineages(clusters300):
    """Offline grouping is musically sensible: most categories are dominated by one lineage root, and the
    rap clusters are not scattered over the collection."""
    result = run(clusters300)
    root = {c.id: c.genre_lineage.split(" > ")[0] for c in clusters300.clusters}
    dominated = sum(Counter(root[i] for i in cat["cluster_ids"]).most_common(1)[0][1] >= 0.6 * len(cat["cluster_ids"])
                    for cat in result["categories"])
    assert dominated >= 0.7 * len(result["categories"])
    rap_homes = Counter(next(c["id"] for c in result["categories"] if cid in c["cluster_ids"])
                        for cid, r in root.items() if r == "Rap")
    assert rap_homes.most_common(1)[0][1] >= 0.6 * sum(rap_homes.values())


def test_same_input_same_categories(clusters300):
    assert run(clusters300)["categories"] == run(clusters300)["categories"]


@pytest.mark.parametrize("failing", [
    ("consolidate_categories",), ("assign_categories",), ("describe_categories",), ("propose_categories",), ("*",),
])
def test_failed_steps_still_give_8_to_12_categories(clusters300, failing):
    provider = Scripted(fail=failing)
    result = run(clusters300, provider)
    assert_contract(result, clusters300)
    assert_balanced(result, clusters300)
    report, fallbacks = result["report"], result["report"].fallbacks
    steps = {s["step"]: s for s in report.steps}
    n = len(clusters300.clusters)
    if failing == ("consolidate_categories",):
        assert fallbacks["consolidation"] == "deterministic"
        assert steps["consolidate"]["calls"] == 2 and steps["consolidate"]["retries"] == 1  # step retried once
        assert provider.calls["consolidate_categories"] == 2
    if failing == ("assign_categories",):
        assert fallbacks["assigned_by_vector"] == n
        assert steps["assign"]["retries"] == steps["assign"]["units"]
    if failing == ("describe_categories",):
        assert fallbacks["named_deterministically"] == len(result["categories"])
        assert not report.fallback_used
    if "propose_categories" in failing or failing == ("*",):
        assert report.fallback_used and fallbacks["lineage_grouping"]
        # The LLM never answered: no consolidation, assignment or description calls are wasted.
        assert set(provider.calls) == {"propose_categories"}
        assert list(steps) == ["propose"]


def test_some_neighbourhoods_failing_is_not_a_fallback(clusters300):
    provider = Scripted(fail_when=lambda r: r.task == "propose_categories" and len(r.payload["clusters"]) % 2 == 0)
    result = run(clusters300, provider)
    assert_contract(result, clusters300)
    steps = {s["step"]: s for s in result["report"].steps}
    assert 0 < steps["propose"]["failed_units"] < steps["propose"]["units"]
    assert steps["propose"]["calls"] == steps["propose"]["units"] + steps["propose"]["failed_units"]
    assert not result["report"].fallback_used and result["report"].fallbacks["assigned_by_vector"] == 0


def test_invented_category_names_are_rejected_and_placed_by_vector(clusters300):
    invented: Counter = Counter()

    def invent(answer, payload):
        out = []
        for k, (cid, category) in enumerate(pairs(answer)):
            if k % 3 == 0:
                category = "Invented Shelf"
                invented["clusters"] += 1
            elif k % 3 == 1:
                category = category.upper()  # a case slip is repaired (and merged with its name), not rejected
            out.append((cid, category))
        return grouped(out)

    result = run(clusters300, Scripted(rewrite={"assign_categories": invent}))
    assert_contract(result, clusters300)
    assert invented["clusters"] > 0
    assert result["report"].fallbacks["assigned_by_vector"] == invented["clusters"]
    assert result["report"].categories_mixing_lineage_groups == 0


def test_assignment_schema_enumerates_names_and_ids():
    payload = assign_categories.example()
    request = assign_categories.request_for(payload)
    items = request.schema["properties"]["assignments"]["items"]["properties"]
    names = [c["name"] for c in payload["categories"]]
    ids = [c["id"] for c in payload["clusters"]]
    assert items["category"]["enum"] == names
    assert items["cluster_ids"]["items"]["enum"] == ids
    good = {"assignments": [{"category": names[0], "cluster_ids": ids[:2]}]}
    jsonschema.validate(good, request.schema)
    for bad in ({"assignments": [{"category": "Invented Shelf", "cluster_ids": ids[:1]}]},
                {"assignments": [{"category": names[0], "cluster_ids": ["invented__id"]}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, request.schema)
    # normalise keeps offered names (case repaired, a name given twice merged), drops invented names and
    # unknown clusters, keeps a cluster in its first category, and reads one record per cluster too
    raw = {"assignments": [{"category": "invented shelf", "cluster_ids": [ids[0]]},
                           {"category": names[0], "cluster_ids": ["nope", ids[1]]},
                           {"category": f"  {names[1].lower()} ", "cluster_ids": [ids[0], ids[1]]},
                           {"cluster_id": ids[2], "category": names[1]}]}
    assert assign_categories.normalise(raw, payload) == {"assignments": [
        {"category": names[0], "cluster_ids": [ids[1]]}, {"category": names[1], "cluster_ids": [ids[0], ids[2]]}]}
    assert assign_categories.normalise({"assignments": {ids[0]: names[1], names[0]: [ids[1]]}}, payload) == {
        "assignments": [{"category": names[1], "cluster_ids": [ids[0]]},
                        {"category": names[0], "cluster_ids": [ids[1]]}]}


def test_lazy_assignment_is_balanced(clusters300):
    """An LLM that shelves 4 of 5 clusters in its first category: the balance rule spreads them out."""

    def lazy(answer, payload):
        first = payload["categories"][0]["name"]
        return grouped((cid, first if k % 5 else category) for k, (cid, category) in enumerate(pairs(answer)))

    result = run(clusters300, Scripted(rewrite={"assign_categories": lazy}))
    assert_contract(result, clusters300)
    assert_balanced(result, clusters300)
    assert result["report"].balance_moves > 0


def test_everything_in_one_category_is_split_to_eight(clusters300):
    """A model that shelves every playlist of a request in the first category offered: each request
    offers one lineage group's categories, so each group ends in one category; split up to eight."""
    def all_in_one(answer, payload):
        return {"assignments": [{"category": payload["categories"][0]["name"],
                                 "cluster_ids": [c["id"] for c in payload["clusters"]]}]}

    result = run(clusters300, Scripted(rewrite={"assign_categories": all_in_one}))
    assert_contract(result, clusters300)
    assert_balanced(result, clusters300)
    report = result["report"]
    lineage_groups = len(report.lineage_groups)
    assert 1 < lineage_groups < DEFAULT.min_categories
    assert report.guard["breaking_clusters"] == 0
    assert report.count_fix["split"] == DEFAULT.min_categories - lineage_groups
    assert report.categories_mixing_lineage_groups == 0


def test_consolidation_out_of_range_is_reasked_then_repaired(clusters300):
    """Too many names twice: re-asked once, then merged down to 12; too few twice: split to 8."""
    def too_many(answer, payload):
        return {"categories": [{"name": c["name"], "description": c["description"], "merged_from": [c["name"]]}
                               for c in payload["candidates"]]}

    def too_few(answer, payload):
        names = [c["name"] for c in payload["candidates"]]
        return {"categories": [{"name": "Everything Loud", "description": "x", "merged_from": names[::2]},
                               {"name": "Everything Else", "description": "y", "merged_from": names[1::2]}]}

    for rewrite, key in ((too_many, "names_merged"), (too_few, "count_fix")):
        provider = Scripted(rewrite={"consolidate_categories": rewrite})
        result = run(clusters300, provider)
        assert_contract(result, clusters300)
        assert provider.calls["consolidate_categories"] == 2
        report = result["report"]
        assert report.fallbacks["consolidation"] == "llm_reasked"
        if key == "names_merged":
            assert report.names_merged > 0
        else:  # two names: the lineage groups without a category get one before assignment, the rest is split
            added = report.guard["categories_added"]
            assert len(report.lineage_groups) - 2 <= added <= len(report.lineage_groups) - 1 and added > 0
            assert report.count_fix["split"] + added >= 6


def test_small_inputs():
    cs = subset(genius_clusters(8), 30)
    for n in (0, 1, 5):
        small = ClusterSet(cs.clusters[:n], [])
        provider = Scripted()
        result = run(small, provider)
        assert len(result["categories"]) == n and not provider.calls
        assert not has_problems(category_problems(result["categories"], [c.id for c in small.clusters]))
    for n in (8, 13, 30):
        small = ClusterSet(cs.clusters[:n], [])
        result = run(small)
        assert_contract(result, small)


def test_stop_is_not_a_fallback(clusters300):
    client = LLMClient(OfflineProvider())
    client.stop_event.set()
    with pytest.raises(StopRequested):
        group_into_categories(clusters300, client.for_phase("categories"), DEFAULT)


# --------------------------------------------------------------------------------- seed profile
def test_seed_profile_is_one_call(clusters300):
    provider = Scripted()
    result = run(clusters300, provider, SEED)
    assert dict(provider.calls) == {"group_clusters": 1}
    assert result["report"].calls == result["report"].serial_calls == 1
    assert_contract(result, clusters300)


def test_seed_profile_falls_back_to_all_collections(clusters300):
    result = run(clusters300, Scripted(fail=("group_clusters",)), SEED)
    assert [c["title"] for c in result["categories"]] == ["All Collections"]
    assert result["categories"][0]["cluster_ids"] == [c.id for c in clusters300.clusters]
    assert result["report"].fallback_used
    # ...which is exactly what the default profile never does
    assert category_problems(result["categories"], [c.id for c in clusters300.clusters])["count_out_of_range"]


def test_seed_profile_puts_unassigned_clusters_in_the_largest_category(clusters300):
    def drop_some(answer, payload):
        for cat in answer["categories"]:
            cat["cluster_ids"] = cat["cluster_ids"][1:]
        return answer

    result = run(clusters300, Scripted(rewrite={"group_clusters": drop_some}), SEED)
    assert not has_problems(category_problems(result["categories"], [c.id for c in clusters300.clusters]))
    left_out = result["report"].fallbacks["unassigned_to_largest"]
    assert left_out == len(result["categories"])
    biggest = max(result["categories"], key=lambda c: len(c["cluster_ids"]))
    offline = run(clusters300, None, SEED)["categories"]
    assert len(biggest["cluster_ids"]) == max(len(c["cluster_ids"]) for c in offline) - 1 + left_out


# ------------------------------------------------------------------------------- building blocks
def test_category_problems_finds_every_kind():
    cats = [{"id": "a", "cluster_ids": ["x", "y"]}, {"id": "a", "cluster_ids": ["y", "zz"]},
            {"id": "Bad Id", "cluster_ids": []}]
    problems = category_problems(cats, ["x", "y", "w"])
    assert problems["duplicated"] == ["y"] and problems["missing"] == ["w"] and problems["unknown"] == ["zz"]
    assert problems["empty_categories"] == ["Bad Id"] and problems["duplicate_category_ids"] == ["a"]
    assert problems["bad_category_ids"] == ["Bad Id"] and not problems["count_out_of_range"]  # 3 clusters: 3
    assert category_problems(cats, [f"c{i}" for i in range(20)])["count_out_of_range"]


def test_balance_moves_the_least_fitting_clusters_to_their_next_best_group():
    rng = np.random.default_rng(0)
    vectors = np.abs(rng.normal(size=(40, 6)))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    groups = [list(range(30)), list(range(30, 35)), list(range(35, 40))]
    weights = np.ones(40)
    balanced, moves = balance(groups, vectors, weights, cap=0.35)
    assert moves == 30 - 14 and sorted(i for g in balanced for i in g) == list(range(40))
    assert all(len(g) <= 14 for g in balanced)
    moved = set(groups[0]) - set(balanced[0])
    centre = vectors[groups[0]].mean(axis=0)
    # the clusters kept fit the over-full group better (on average) than those moved out
    assert (vectors[sorted(set(groups[0]) - moved)] @ centre).mean() > (vectors[sorted(moved)] @ centre).mean()


def test_neighbourhoods_partition_and_are_deterministic(clusters300):
    facets = facets_from_filters(clusters300.clusters)
    space = ClusterSpace.build(clusters300.clusters, facets)
    groups = lineage_groups(space, 10, DEFAULT.min_lineage_share)
    structure = structural_partition(space, groups, 10)
    hoods = neighbourhoods(space, structure, 40, groups.home)
    n = len(clusters300.clusters)
    for partition in (structure, hoods):
        assert sorted(i for h in partition for i in h) == list(range(n))
        assert all(len({groups.home[i] for i in h}) == 1 for h in partition)  # never across lineage groups
    assert len(structure) == 10 and all(len(h) <= 80 for h in hoods) and 4 <= len(hoods) <= 14
    again = ClusterSpace.build(clusters300.clusters, facets)
    assert hoods == neighbourhoods(again, structural_partition(again, lineage_groups(again, 10, 0.3), 10), 40,
                                   groups.home)


def test_neighbourhoods_are_packed_into_one_wave_within_their_lineage_groups(clusters300):
    facets = facets_from_filters(clusters300.clusters)
    space = ClusterSpace.build(clusters300.clusters, facets)
    groups = lineage_groups(space, 10, DEFAULT.min_lineage_share)
    hoods = neighbourhoods(space, structural_partition(space, groups, 10), 20, groups.home)
    homes = {groups.home[h[0]] for h in hoods}
    assert len(hoods) > 8 > len(homes)
    for count in (8, len(homes)):
        packs = packed(space, hoods, count, groups.home)
        assert len(packs) == count
        assert sorted(i for p in packs for i in p) == list(range(len(clusters300.clusters)))
        assert all(len({groups.home[i] for i in p}) == 1 for p in packs)  # lineage groups are never mixed
        assert all(any(set(h) <= set(p) for p in packs) for h in hoods)  # neighbourhoods are joined, never cut
    one = packed(space, hoods, 1, groups.home)
    assert one == [list(range(len(clusters300.clusters)))]
    assert packed(space, hoods, len(hoods), groups.home) == hoods


def test_makespan():
    assert makespan([1] * 8, 8) == 1 and makespan([1] * 9, 8) == 2
    assert makespan([2, 1, 1], 2) == 2 and makespan([], 4) == 0


def test_offline_names_read_like_shelves():
    ex = describe_category.example()
    named = describe_category.solve_offline(ex)
    assert "Metal" in named["title"] and named["title"] not in ex["other_titles"]
    sentences = [s for s in named["description"].split(". ") if s]
    assert 2 <= len(sentences) <= 3 and "3 playlists and 200 tracks" in named["description"]
    again = describe_category.solve_offline({**ex, "other_titles": [named["title"]]})
    assert again["title"] != named["title"]


# ------------------------------------------------------------------------------------ the asset
def test_asset_materialises_with_passing_checks(tmp_path):
    cs = subset(genius_clusters(8), 60)
    store = tmp_path / "store"
    store.mkdir()
    (store / "refined_clusters.json").write_text(json.dumps(cs.to_dict()))
    load_tracks(GENIUS / "tracks.csv").to_parquet(store / "tracks.parquet")
    upstream = [SourceAsset(FULL.key("refined_clusters"), io_manager_key="json_io_manager"),
                SourceAsset(FULL.key("tracks"), io_manager_key="parquet_io_manager")]
    result = materialize(
        [*upstream, build_categories_asset(FULL), *build_categories_checks(FULL)],
        resources=collection_resources(tmp_path, GENIUS, llm_cache="off"),
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    stored = json.loads((store / "categories.json").read_text())
    assert_contract(stored, cs)
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"category_count": True, "clusters_exactly_once": True}
    meta = result.get_asset_materialization_events()[0].event_specific_data.materialization.metadata
    assert meta["categories"].value == len(stored["categories"]) and meta["fallback_used"].value is False
    assert meta["llm_calls"].value == stored["report"]["calls"]
    assert result.get_asset_materialization_events()[0].asset_key == AssetKey("categories")


def test_cluster_titles_fall_back_to_genre_x_scene():
    c = Cluster(id="a__b", track_ids=[1], genre_title="Rock", scene_title="USA")
    result = group_into_categories(ClusterSet([c], [1]), offline_llm(), DEFAULT)
    assert result["categories"][0]["title"] == "Rock × USA"


# ------------------------------------------------------------------------------- lineage guard
def _homes(result: dict, cs: ClusterSet) -> list[set[str]]:
    """Per category, the lineage groups of its clusters."""
    home = dict(zip([c.id for c in cs.clusters], _lineage_homes(cs), strict=True))
    return [{home[cid] for cid in cat["cluster_ids"]} for cat in result["categories"]]


def _lineage_homes(cs: ClusterSet) -> list[str]:
    space = ClusterSpace.build(cs.clusters, facets_from_filters(cs.clusters))
    return lineage_groups(space, DEFAULT.target_categories, DEFAULT.min_lineage_share).home


def _rap_with_rock(answer, payload):
    """A model that shelves every rap playlist with the rock ones (naming a category it was not
    offered when the request has no rock category)."""
    rock = next((c["name"] for c in payload["categories"] if c["contexts"] and
                 c["contexts"][0].startswith("Rock")), "Rock Shelf Not Offered")
    genre = {c["id"]: c["genre_context"] for c in payload["clusters"]}
    return grouped((cid, rock if genre[cid].startswith("Rap") else category) for cid, category in pairs(answer))


def test_rap_is_never_offered_the_rock_categories(clusters300):
    """Each request offers only its clusters' own lineage group's categories: the rock name a model
    insists on is rejected and the rap playlists go to the most similar rap category, without a re-ask."""
    provider = Scripted(rewrite={"assign_categories": _rap_with_rock})
    result = run(clusters300, provider)
    assert_contract(result, clusters300)
    report = result["report"]
    rap = sum(c.genre_lineage.startswith("Rap") for c in clusters300.clusters)
    assert report.fallbacks["assigned_by_vector"] == rap > 0
    assert report.guard["breaking_clusters"] == 0
    assert [s["step"] for s in report.steps] == ["propose", "consolidate", "assign", "describe"]
    assert all(len(homes) == 1 for homes in _homes(result, clusters300))


def test_lineage_groups_sharing_a_call_are_repaired_without_a_reask(clusters300):
    """One assignment call for the whole set (more lineage groups than calls): it offers every group's
    categories, the model shelves rap with rock, and the guard repairs that by similarity."""
    params = GroupingParams.for_profile("default", workers=1, assign_batch_size=400, assign_max_batch=400)
    provider = Scripted(rewrite={"assign_categories": _rap_with_rock})
    result = run(clusters300, provider, params)
    assert_contract(result, clusters300)
    report = result["report"]
    guard = report.guard
    steps = {s["step"]: s for s in report.steps}
    rap = sum(c.genre_lineage.startswith("Rap") for c in clusters300.clusters)
    assert steps["assign"]["units"] == 1 and guard["clusters_offered_all"] == len(clusters300.clusters)
    assert guard["breaking_clusters"] >= rap > 0 and "guard" not in steps
    assert guard["repaired"] + guard["new_categories"] == guard["breaking_clusters"] and guard["left_across"] == 0
    assert all(len(homes) == 1 for homes in _homes(result, clusters300))
    assert report.categories_mixing_lineage_groups == 0


def test_offline_categories_never_mix_lineage_groups_and_titles_fit(clusters300):
    """With the tracks: every category inside one lineage group, titled (1-5 words) by what at least
    90% of its tracks carry in their own tags, no title a bare year range or country."""
    tracks = load_tracks(GENIUS / "tracks.csv")
    llm = LLMClient(OfflineProvider()).for_phase("categories")
    result = group_into_categories(clusters300, llm, DEFAULT, tracks=tracks)
    assert_contract(result, clusters300)
    assert result["report"].categories_mixing_lineage_groups == 0
    own = track_facet_words(tracks)
    by_id = {c.id: c for c in clusters300.clusters}
    countries = {str(v).casefold() for v in tracks["country"] if str(v).strip()}
    for cat in result["categories"]:
        assert 1 <= title_word_count(cat["title"]) <= 5
        assert cat["title"].casefold() not in countries and not re.fullmatch(r"[\d\s\-–]+", cat["title"])
        ids = [t for cid in cat["cluster_ids"] for t in by_id[cid].track_ids]
        assert fit_share(cat["title"], [own[t] for t in ids]) >= 0.9, cat["title"]


def test_big_categories_get_sections_covering_each_cluster_once(clusters300):
    params = GroupingParams.for_profile("default", section_min_leaves=20, section_size=8)
    result = run(clusters300, params=params)
    big = [c for c in result["categories"] if len(c["cluster_ids"]) > 20]
    assert big and any(len(c["cluster_ids"]) <= 20 for c in result["categories"])
    for cat in result["categories"]:
        if len(cat["cluster_ids"]) <= 20:
            assert "sections" not in cat
            continue
        sections = cat["sections"]
        assert len(sections) >= 2
        listed = [cid for s in sections for cid in s["leaf_ids"]]
        assert sorted(listed) == sorted(cat["cluster_ids"]) and len(set(listed)) == len(listed)
        assert cat["cluster_ids"] == listed  # the flat list follows the sections
        titles = [s["title"] for s in sections]
        assert all(titles) and len({t.casefold() for t in titles}) == len(titles) and cat["title"] not in titles
    assert result["report"].sections == sum(len(c["sections"]) for c in big)


def test_categories_do_not_depend_on_the_hash_seed(clusters300):
    """Two processes (different PYTHONHASHSEED) group the same clusters into the same categories."""
    import os
    import subprocess
    import sys

    cs = subset(clusters300, 60)
    script = ("import json, sys; from collection_tree.core.clusters import ClusterSet; "
              "from collection_tree.llm.client import LLMClient; "
              "from collection_tree.llm.offline import OfflineProvider; "
              "from collection_tree.phases.grouping import GroupingParams, group_into_categories; "
              "cs = ClusterSet.from_dict(json.loads(sys.stdin.read())); "
              "r = group_into_categories(cs, LLMClient(OfflineProvider()).for_phase('categories'), GroupingParams()); "
              "print(json.dumps(r['categories'], sort_keys=True))")
    answers = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", script], input=json.dumps(cs.to_dict()), env=env,
                              capture_output=True, text=True, timeout=600, check=True)
        answers.add(done.stdout)
    assert len(answers) == 1 and json.loads(answers.pop())


# ------------------------------------------------------------------------- describe_categories
def test_describe_categories_schema_and_normalise_keep_only_the_requested_ids():
    payload = describe_categories.example()
    request = describe_categories.request_for(payload)
    ids = [c["id"] for c in payload["categories"]]
    assert request.schema["properties"]["categories"]["items"]["properties"]["id"]["enum"] == ids
    jsonschema.validate({"categories": [{"id": ids[0], "title": "Heavy Shelf", "description": "Loud."}]},
                        request.schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"categories": [{"id": "k9", "title": "Heavy Shelf", "description": "Loud."}]},
                            request.schema)
    punk_title = payload["categories"][1]["title"]
    raw = {"categories": [
        {"id": "k9", "title": "Invented", "description": "x"},  # not in the request
        {"id": ids[0], "title": punk_title, "description": "y"},  # another category's working name
        {"id": ids[1], "title": f" “{punk_title}” ", "description": "Bright guitars."},  # its own name is fine
        {"id": ids[1], "title": "Second Try", "description": "z"},  # a repeat
    ]}
    assert describe_categories.normalise(raw, payload) == {
        "categories": [{"id": ids[1], "title": punk_title, "description": "Bright guitars."}]}


def test_describe_categories_offline_is_describe_category_per_item():
    payload = describe_categories.example()
    answer = describe_categories.solve_offline(payload)
    assert [a["id"] for a in answer["categories"]] == [c["id"] for c in payload["categories"]]
    for item, named in zip(payload["categories"], answer["categories"], strict=True):
        others = [t for t in payload["titles"] if t != item["title"]]
        single = {k: v for k, v in item.items() if k != "id"}
        expected = describe_category.solve_offline({**single, "other_titles": others})
        assert {"title": named["title"], "description": named["description"]} == expected
        assert named["title"] not in others


def test_a_category_left_out_of_a_description_answer_is_named_deterministically(clusters300):
    dropped: list[str] = []

    def drop_first(answer, payload):
        dropped.append(payload["categories"][0]["suggested_title"])
        return {"categories": [{**c, "title": f"Shelf {c['id']}"} for c in answer["categories"][1:]]}

    result = run(clusters300, Scripted(rewrite={"describe_categories": drop_first}))
    assert_contract(result, clusters300)
    steps = {s["step"]: s for s in result["report"].steps}
    assert result["report"].fallbacks["named_deterministically"] == len(dropped) == steps["describe"]["units"] > 1
    titles = [c["title"] for c in result["categories"]]
    assert sum(t.startswith("Shelf k") for t in titles) == len(titles) - len(dropped)
    assert sorted(t for t in titles if not t.startswith("Shelf k")) == sorted(dropped)


@pytest.fixture(scope="module")
def demo_clusters(tmp_path_factory) -> ClusterSet:
    """The demo collection's seed clusters: lineage groups of several lineages (House + Jazz ...)."""
    from collection_tree.demo import write_demo_collection

    paths = write_demo_collection(tmp_path_factory.mktemp("demo"))
    known = set(load_tracks(paths["tracks"])["track_id"].tolist())
    genre = load_tree(paths["genre_tree"], "genre", known).doc
    scene = load_tree(paths["scene_tree"], "scene", known).doc
    clusters = clusters_from_seeds(build_seed_clusters(genre, scene, min_tracks=5))
    for c in clusters:
        c.title = f"{c.genre_title} — {c.scene_title}"
        c.description = f"{c.genre_description} {c.scene_description}"
    return ClusterSet(clusters, sorted({t for c in clusters for t in c.track_ids}))


def test_own_lineage_first_moves_a_cluster_to_its_own_lineages_category(demo_clusters):
    """A contrary answer (each cluster in the category after the one the offline solver chose, among
    those offered) files clusters under categories of another lineage of their group; own_lineage_first
    moves them to a category of their own lineage."""
    from dataclasses import replace

    from collection_tree.core.neighbourhoods import home_of_group, lineage_of

    def contrary(answer, payload):
        names = [c["name"] for c in payload["categories"]]
        return grouped([(cid, names[(names.index(name) + 1) % len(names)]) for cid, name in pairs(answer)])

    by_id = {c.id: c for c in demo_clusters.clusters}

    def misfiled(result):
        """Clusters in a category whose lineage (most of its tracks) is not theirs, while some category
        of their own lineage exists."""
        owners = []
        for category in result["categories"]:
            members = [by_id[i] for i in category["cluster_ids"]]
            owners.append(home_of_group(range(len(members)), [lineage_of(c) for c in members],
                                        np.array([c.track_count for c in members], dtype=float)))
        return sum(1 for category, owner in zip(result["categories"], owners, strict=True)
                   for i in category["cluster_ids"] if lineage_of(by_id[i]) != owner
                   and lineage_of(by_id[i]) in owners)

    on = run(demo_clusters, Scripted(rewrite={"assign_categories": contrary}))
    off = run(demo_clusters, Scripted(rewrite={"assign_categories": contrary}),
              replace(DEFAULT, own_lineage_first=False))
    assert_contract(on, demo_clusters)
    assert on["report"].guard["moved_to_own_lineage"] > 0
    assert misfiled(on) < misfiled(off)


def previous_of(result: dict, cs: ClusterSet):
    """The PreviousGrouping a tree of ``result``'s categories gives (its leaves: the clusters)."""
    from collection_tree.phases.grouping import PreviousGrouping

    by_id = {c.id: c for c in cs.clusters}
    return PreviousGrouping.from_tree({"categories": [
        {"id": c["id"], "title": c["title"], "description": c["description"],
         "leaves": [{"track_ids": by_id[i].track_ids} for i in c["cluster_ids"]]} for c in result["categories"]]})


def test_keep_previous_puts_clusters_back_in_their_categories_without_proposals(demo_clusters):
    first = run(demo_clusters)
    provider = Scripted()
    again = group_into_categories(demo_clusters, LLMClient(provider).for_phase("categories"), DEFAULT,
                                  previous=previous_of(first, demo_clusters))
    assert_contract(again, demo_clusters)
    kept = again["report"].kept_previous
    assert kept["kept"] and kept["clusters_pinned"] >= 0.9 * len(demo_clusters.clusters)
    assert provider.calls["propose_categories"] == provider.calls["consolidate_categories"] == 0
    before = {frozenset(c["cluster_ids"]) for c in first["categories"]}
    after = {frozenset(c["cluster_ids"]) for c in again["categories"]}
    assert len(before & after) >= len(before) - 2  # the same shelves, give or take what the balance moved
    fresh = run(demo_clusters, Scripted())
    assert fresh["report"].kept_previous == {}


def test_keep_previous_regroups_when_too_little_of_the_collection_was_there_before(demo_clusters):
    first = run(demo_clusters)
    previous = previous_of(first, demo_clusters)
    sparse = type(previous)(previous.categories, {t: k for t, k in previous.category_of.items() if t % 3 == 0})
    provider = Scripted()
    again = group_into_categories(demo_clusters, LLMClient(provider).for_phase("categories"), DEFAULT,
                                  previous=sparse)
    assert again["report"].kept_previous["kept"] is False
    assert provider.calls["propose_categories"] > 0
    assert_contract(again, demo_clusters)
