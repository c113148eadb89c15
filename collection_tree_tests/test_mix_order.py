"""Mix order: Camelot parsing and compatibility rules, the solver (better than a BPM sort, deterministic,
an energy arc), the playlist_order modes, the tree's additive fields and the asset's run config."""

import numpy as np
import pandas as pd
import pytest

from collection_tree.core.clusters import Cluster, ClusterSet
from collection_tree.core.mix import (
    camelot_code,
    camelot_codes,
    camelot_label,
    compatible,
    harmonic_compatible,
    mix_order,
    tempo_step,
    transition_flags,
)
from collection_tree.phases.assembly import validate_collection_tree
from collection_tree.phases.playlist_order import (
    PlaylistOrderParams,
    TrackFacts,
    apply_orders,
    order_leaf,
    order_playlists,
)


@pytest.mark.parametrize(("key", "label"), [
    ("Am", "8A"), ("A minor", "8A"), ("a min", "8A"), ("C", "8B"), ("C major", "8B"), ("G", "9B"), ("F", "7B"),
    ("F#", "2B"), ("Gb", "2B"), ("Bbm", "3A"), ("A#m", "3A"), ("C# minor", "12A"), ("Ebm", "2A"), ("B", "1B"),
    ("8A", "8A"), ("08b", "8B"), ("12A", "12A"), ("1m", "8A"), ("1d", "8B"), ("6d", "1B"),
    ("", ""), ("H", ""), ("13A", ""), ("Am7", ""),
])
def test_keys_read_in_musical_camelot_and_open_key_notation(key, label):
    assert camelot_label(camelot_code(key)) == label


def test_camelot_codes_treat_missing_values_as_unknown():
    assert camelot_codes(["Am", None, float("nan"), "x"]).tolist() == [camelot_code("Am"), -1, -1, -1]


@pytest.mark.parametrize(("a", "b", "ok"), [
    ("8A", "8A", True), ("8A", "9A", True), ("8A", "7A", True), ("8A", "8B", True), ("12A", "1A", True),
    ("1B", "12B", True), ("8A", "9B", False), ("8A", "10A", False), ("8A", "7B", False), ("8A", "2A", False),
])
def test_harmonic_compatibility_on_the_wheel(a, b, ok):
    codes = camelot_codes([a, b])
    assert bool(harmonic_compatible(codes[:1], codes[1:])[0]) is ok
    assert bool(harmonic_compatible(codes[1:], codes[:1])[0]) is ok  # symmetric


@pytest.mark.parametrize(("a", "b", "ok"), [
    (120, 127, True), (127, 120, True), (120, 128, False), (70, 140, True), (140, 70, True), (64, 128, True),
    (85, 174, True), (100, 150, False), (120, float("nan"), False), (0, 120, False),
])
def test_tempo_within_six_percent_half_and_double_time_count(a, b, ok):
    key = camelot_codes(["8A"])
    assert bool(compatible(np.array([a]), key, np.array([b]), key, 0.06)[0]) is ok
    assert tempo_step(np.array([a]), np.array([b]))[0] == tempo_step(np.array([b]), np.array([a]))[0] or not ok


def random_leaf(rng, n):
    return (rng.normal(124, 3, n).round(), rng.integers(0, 24, n), rng.integers(1, 11, n).astype(float))


def share(bpm, keys, order):
    return transition_flags(bpm[order], keys[order], 0.06).mean()


def test_mix_order_beats_a_bpm_sort_and_library_order():
    rng = np.random.default_rng(3)
    mix = bpm_sorted = library = 0.0
    for n in (6, 9, 15, 24, 40, 80):
        bpm, keys, energy = random_leaf(rng, n)
        order = mix_order(bpm, keys, energy)
        assert sorted(order.tolist()) == list(range(n))  # a permutation: every track once
        mix += share(bpm, keys, order)
        bpm_sorted += share(bpm, keys, np.argsort(bpm, kind="stable"))
        library += share(bpm, keys, np.arange(n))
    assert mix >= 1.5 * bpm_sorted and mix >= 3 * library


def test_small_playlists_are_solved_exactly():
    # 8A 9A 10A 11A shuffled, tempos equal: the only fully compatible paths walk the wheel in a line.
    keys = camelot_codes(["10A", "8A", "11A", "9A"])
    order = mix_order(np.full(4, 124.0), keys)
    assert [camelot_label(int(k)) for k in keys[order]] in (["8A", "9A", "10A", "11A"], ["11A", "10A", "9A", "8A"])


def test_mix_order_is_deterministic_and_follows_an_energy_arc():
    rng = np.random.default_rng(5)
    bpm, keys, energy = random_leaf(rng, 30)
    assert mix_order(bpm, keys, energy).tolist() == mix_order(bpm.copy(), keys.copy(), energy.copy()).tolist()
    # Every pair compatible (one key, one tempo): the order is the arc alone, warm-up -> peak -> release.
    energy = np.arange(1, 21, dtype=float)
    order = mix_order(np.full(20, 124.0), np.full(20, camelot_code("8A")), energy)
    played = energy[order]
    peak = int(np.argmax(played))
    assert 10 <= peak <= 17 and played[0] <= 3
    assert played[:peak].mean() < played[peak] and played[-1] < played[peak]


def facts_frame(rows):
    return pd.DataFrame(rows, columns=["track_id", "year", "bpm", "key", "energy"])


def test_modes_and_the_fallback_without_tempo_or_key():
    tracks = facts_frame([(1, 2004, 124, "8A", 5), (2, 2001, 124, "3B", 5), (3, 2003, 125, "9A", 5),
                          (4, 2002, None, None, 5), (5, None, 124, "8B", 5)])
    facts = TrackFacts.from_tracks(tracks)
    mix = order_leaf([1, 2, 3, 4, 5], [4], facts, PlaylistOrderParams())
    assert sorted(mix.order) == [1, 2, 3, 4, 5] and mix.order[-1] == 4  # no tempo or key: after the mixed part
    assert mix.transitions == 0.6667 and 2 in (mix.order[0], mix.order[3])  # 8B-8A-9A chain; 3B fits nowhere
    assert order_leaf([1, 2, 3, 4, 5], [4], facts, PlaylistOrderParams(playlist_order="exemplars")).order == [
        4, 1, 2, 3, 5]
    assert order_leaf([1, 2, 3, 4, 5], [4], facts, PlaylistOrderParams(playlist_order="library")).order == [
        1, 2, 3, 4, 5]
    # A collection without BPM or key (the Genius data): exemplars first, then by year, unknown years last.
    bare = TrackFacts.from_tracks(tracks[["track_id", "year"]])
    fallback = order_leaf([1, 2, 3, 4, 5], [3], bare, PlaylistOrderParams())
    assert fallback.order == [3, 2, 4, 1, 5] and fallback.transitions is None


def test_params_validate_and_the_seed_profile_keeps_the_reference_order():
    assert PlaylistOrderParams.for_profile("seed").playlist_order == "exemplars"
    assert PlaylistOrderParams.for_profile("default").playlist_order == "mix"
    with pytest.raises(ValueError, match="playlist_order: expected one of mix, exemplars, library"):
        PlaylistOrderParams().with_overrides(playlist_order="camelot")
    with pytest.raises(ValueError, match="tempo_tolerance"):
        PlaylistOrderParams().with_overrides(tempo_tolerance=0.9)


def tree_of(clusters):
    leaves = [{"id": c.id, "title": c.id, "description": "", "track_ids": c.track_ids, "track_count": len(c.track_ids),
               "examples": [], "genre_context": "", "scene_context": "", "metadata_suggestions": []} for c in clusters]
    ids = [t for c in clusters for t in c.track_ids]
    return {"id": "t", "tree_type": "collection", "created_at": "2026-01-01T00:00:00Z", "total_tracks": len(ids),
            "assigned_tracks": len(ids), "ungrouped_track_ids": [],
            "source_trees": {"genre": {"id": "g", "created_at": "x"}, "scene": {"id": "s", "created_at": "x"}},
            "categories": [{"id": "c", "title": "C", "description": "", "track_ids": ids, "track_count": len(ids),
                            "leaves": leaves}], "status": "complete"}


def test_order_playlists_reports_the_three_shares_and_the_tree_carries_order_and_transitions():
    rng = np.random.default_rng(11)
    n = 60
    bpm, keys, energy = random_leaf(rng, n)
    tracks = facts_frame([(i + 1, 2000, bpm[i], camelot_label(int(keys[i])), energy[i]) for i in range(n)])
    clusters = [Cluster(id="a", track_ids=list(range(1, 31)), examples=[{"track_id": 2}]),
                Cluster(id="b", track_ids=list(range(31, 61)))]
    orders, report = order_playlists(ClusterSet(clusters=clusters, all_track_ids=list(range(1, 61))), tracks,
                                     PlaylistOrderParams())
    meta = report.to_metadata()
    assert meta["transition_pairs"] == 58 and meta["leaves_mixed"] == 2
    assert meta["transitions_compatible_share"] >= 1.5 * meta["transitions_bpm_sorted_share"]
    assert meta["transitions_vs_library"] >= 3
    tree = apply_orders(tree_of(clusters), orders)
    leaf = tree["categories"][0]["leaves"][0]
    assert sorted(leaf["order"]) == leaf["track_ids"] and leaf["transitions"] == orders["a"].transitions
    assert validate_collection_tree(tree) == []
    leaf["order"] = leaf["order"][:-1]
    leaf["transitions"] = 1.5
    problems = validate_collection_tree(tree)
    assert any("order: expected a permutation" in p for p in problems)
    assert any("transitions: expected a share in [0, 1]" in p for p in problems)


def test_validator_accepts_sections_covering_every_leaf_once():
    tree = tree_of([Cluster(id="a", track_ids=[1]), Cluster(id="b", track_ids=[2])])
    category = tree["categories"][0]
    category["sections"] = [{"title": "One", "leaf_ids": ["a"]}, {"title": "Two", "leaf_ids": ["b"]}]
    assert validate_collection_tree(tree) == []
    category["sections"] = [{"title": "One", "leaf_ids": ["a", "a"]}, {"title": "Two", "leaf_ids": []}]
    problems = validate_collection_tree(tree)
    assert any("leaves in two sections: ['a']" in p for p in problems)
    assert any("leaf_ids: expected a non-empty list" in p for p in problems)
    category["sections"] = [{"title": "", "leaf_ids": ["a", "b"], "extra": 1}]
    assert validate_collection_tree(tree)
    del category["sections"]
    category["surprise"] = 1
    assert any("extra ['surprise']" in p for p in validate_collection_tree(tree))  # still schema-exact otherwise


@pytest.mark.parametrize("test_flag", [False, True])
def test_build_flag_sets_the_tree_assets_run_config(test_flag):
    from dagster import validate_run_config

    from collection_tree.cli import build_parser
    from collection_tree.commands.build import build_run_config
    from collection_tree.definitions import defs
    from collection_tree.operations import FULL_JOB, TEST_JOB

    args = build_parser().parse_args(["build", "--playlist-order", "library", *(["--test"] if test_flag else [])])
    config = build_run_config(args)
    op = "test_run__collection_tree" if test_flag else "collection_tree"
    assert config["ops"] == {op: {"config": {"playlist_order": "library"}}}
    validate_run_config(defs.resolve_job_def(TEST_JOB if test_flag else FULL_JOB), config)  # raises when wrong
    with pytest.raises(SystemExit):
        build_parser().parse_args(["build", "--playlist-order", "camelot"])


def _full_relocation(obj, path):
    """The relocation search before the local deltas: every candidate path costed in full."""
    n = obj.n
    i, j = np.nonzero(~np.eye(n, dtype=bool))
    rest = np.array([np.delete(path, k) for k in range(n)])
    positions = np.arange(n)[None, :]
    source = np.clip(np.where(positions < j[:, None], positions, positions - 1), 0, n - 2)
    candidates = np.take_along_axis(rest[i], source, axis=1)
    candidates[np.arange(len(i)), j] = path[i]
    delta = obj.costs(candidates) - obj.cost(path)
    best = int(np.argmin(delta))
    return float(delta[best]), int(i[best]), int(j[best])


@pytest.mark.parametrize("seed", range(12))
def test_relocation_from_local_deltas_is_the_full_search(seed):
    """Same move and bit-identical delta as costing every candidate path, ties included (few distinct
    tempos and keys, energies missing, virtual ends): and so the same play orders."""
    from collection_tree.core import mix

    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 60))
    bpm = rng.choice([90.0, 120.0, 124.0, 128.0, np.nan], size=n)
    keys = rng.choice([-1, 0, 1, 7, 8, 14], size=n)
    energy = np.where(rng.random(n) < 0.3, np.nan, rng.choice([1.0, 2.0, 3.0, 5.0], size=n))
    obj = mix._Objective(bpm, keys, energy, 0.06, 0.03, 0.02)
    for _ in range(5):
        path = rng.permutation(n)
        assert mix._best_relocation(obj, path) == _full_relocation(obj, path)
    local = mix._relocation_deltas(obj, path)
    assert np.allclose(local, [_full_cost_delta(obj, path, i, j) for i, j in zip(*np.nonzero(~np.eye(n, dtype=bool)),
                                                                                 strict=True)], atol=1e-9)


def _full_cost_delta(obj, path, i, j):
    candidate = np.insert(np.delete(path, i), j, path[i])
    return obj.cost(candidate) - obj.cost(path)


def _reversal_without_grid(obj, path):
    """The 2-opt scan as written before its index grid was cached per size."""
    n = obj.n
    padded = np.concatenate([[n], path, [n]])
    i, j = np.triu_indices(n, k=1)
    left, right, a, b = padded[i], padded[j + 2], path[i], path[j]
    edges = obj.edge[left, b] + obj.edge[a, right] - obj.edge[left, a] - obj.edge[b, right]
    place = obj.place[path]
    ks = np.arange(n)
    m = np.arange(2 * n - 1)[:, None] - ks[None, :]
    anti = np.where((m >= 0) & (m < n), place[ks[None, :], np.clip(m, 0, n - 1)], 0.0).cumsum(axis=1)
    diag = np.concatenate([[0.0], np.diagonal(place).cumsum()])
    s = i + j
    new = anti[s, j] - np.where(i > 0, anti[s, np.maximum(i - 1, 0)], 0.0)
    delta = edges + new - (diag[j + 1] - diag[i])
    best = int(np.argmin(delta))
    return float(delta[best]), int(i[best]), int(j[best])


@pytest.mark.parametrize("seed", range(16))
def test_reversal_over_the_cached_grid_is_the_per_round_scan(seed):
    """Same move and bit-identical delta as the direct scan (gathered anti-diagonals), rounds after
    rounds on one size (the grid reused)."""
    from collection_tree.core import mix

    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 160))
    bpm = rng.choice([90.0, 120.0, 124.0, 128.0, np.nan], size=n) if seed % 2 else rng.uniform(80, 140, n)
    keys = rng.choice([-1, 0, 1, 7, 8, 14], size=n)
    energy = np.where(rng.random(n) < 0.3, np.nan, rng.choice([1.0, 2.0, 3.0, 5.0], size=n) if seed % 2
                      else rng.random(n))
    obj = mix._Objective(bpm, keys, energy, 0.06, 0.03, 0.02)
    for _ in range(4):
        path = rng.permutation(n)
        assert mix._best_reversal(obj, path) == _reversal_without_grid(obj, path)


def random_leaf_set(seed, leaves, max_size):
    """Leaves of 1 to ``max_size`` tracks with repeated tempos and keys (ties), some tracks without a
    tempo, key or energy, and exemplars."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, max_size + 1, leaves)
    n = int(sizes.sum())
    bpm = np.where(rng.random(n) < 0.05, np.nan, rng.choice([90.0, 120.0, 124.0, 126.0, 128.0, 174.0], n))
    bpm = np.where(rng.random(n) < 0.5, bpm, rng.normal(124, 4, n).round(1))
    keys = [None if rng.random() < 0.05 else camelot_label(int(k)) for k in rng.integers(0, 24, n)]
    energy = np.where(rng.random(n) < 0.2, np.nan, rng.integers(1, 11, n).astype(float))
    tracks = pd.DataFrame({"track_id": np.arange(1, n + 1), "year": rng.integers(1990, 2020, n),
                           "bpm": bpm, "key": keys, "energy": energy})
    ids = rng.permutation(np.arange(1, n + 1)).tolist()
    clusters, start = [], 0
    for k, size in enumerate(sizes.tolist()):
        members = ids[start:start + size]
        start += size
        clusters.append(Cluster(id=f"leaf-{k}", track_ids=members, examples=[{"track_id": members[-1]}]))
    return ClusterSet(clusters=clusters, all_track_ids=list(range(1, n + 1))), tracks


def test_pooled_order_playlists_gives_the_serial_orders_and_report():
    """The worker processes (forced by a zero threshold) give every leaf the order and transitions
    the serial path gives, in leaf order, and the same report; progress still reaches the end."""
    leaves, tracks = random_leaf_set(7, 300, 40)
    serial_orders, serial_report = order_playlists(leaves, tracks, PlaylistOrderParams(), workers=1)
    calls = []
    orders, report = order_playlists(leaves, tracks, PlaylistOrderParams(), lambda f, m: calls.append(f),
                                     pool_min_tracks=0, workers=2)
    assert list(orders) == [c.id for c in leaves.clusters] == list(serial_orders)
    assert orders == serial_orders
    assert report == serial_report and report.leaves == 300 and report.leaves_mixed > 250
    assert calls[-1] == 1.0


class _ReferenceObjective:
    """The objective as first written (``compatible`` and the tempo steps computed apart)."""

    def __init__(self, bpm, keys, energy, tolerance, energy_weight, tempo_weight):
        from collection_tree.core.mix import energy_targets

        n = len(bpm)
        ok = compatible(bpm[:, None], keys[:, None], bpm[None, :], keys[None, :], tolerance)
        steps = tempo_step(bpm[:, None], bpm[None, :])
        smooth = np.minimum(np.where(np.isfinite(steps), steps, 1.0) / max(tolerance, 1e-6), 3.0)
        edge = (~ok).astype(np.float64) + tempo_weight * smooth
        np.fill_diagonal(edge, 0.0)
        self.edge = np.zeros((n + 1, n + 1))
        self.edge[:n, :n] = edge
        targets = energy_targets(energy, n)
        self.place = energy_weight * np.abs(np.nan_to_num(energy, nan=0.0)[:, None] - targets[None, :])
        self.place[~np.isfinite(energy), :] = 0.0
        self.n = n

    def cost(self, path):
        return float(self.edge[path[:-1], path[1:]].sum() + self.place[path, np.arange(self.n)].sum())

    def costs(self, paths):
        return self.edge[paths[:, :-1], paths[:, 1:]].sum(axis=1) + self.place[paths, np.arange(self.n)].sum(axis=1)


def _reference_greedy(obj, start):
    n = obj.n
    path = [start]
    free = np.ones(n, dtype=bool)
    free[start] = False
    for position in range(1, n):
        score = obj.edge[path[-1], :n] + obj.place[:, position]
        score[~free] = np.inf
        nxt = int(np.argmin(score))
        path.append(nxt)
        free[nxt] = False
    return np.array(path, dtype=np.int64)


def _reference_mix_order(bpm, keys, energy, tolerance=0.06, energy_weight=0.03, tempo_weight=0.02, max_rounds=2000):
    """The solver as first written: greedy start, then the plain per-round scans of every 2-opt move
    and every relocation costed in full (the tests above pin the scans; this pins their use)."""
    import itertools

    from collection_tree.core.mix import EXACT_MAX, RELOCATE_MAX

    n = len(bpm)
    if n <= 2:
        return np.argsort(np.nan_to_num(energy, nan=0.0), kind="stable") if n == 2 else np.arange(n)
    obj = _ReferenceObjective(bpm, keys, energy, tolerance, energy_weight, tempo_weight)
    if n <= EXACT_MAX:
        perms = np.array(list(itertools.permutations(range(n))), dtype=np.int64)
        return perms[int(np.argmin(obj.costs(perms)))]
    start = int(np.lexsort((np.arange(n), np.nan_to_num(bpm, nan=np.inf), np.nan_to_num(energy, nan=np.inf)))[0])
    path = _reference_greedy(obj, start)
    cost = obj.cost(path)
    for _ in range(max_rounds):
        delta, i, j = _reversal_without_grid(obj, path)
        if delta < -1e-9:
            candidate = path.copy()
            candidate[i:j + 1] = path[i:j + 1][::-1]
        elif n <= RELOCATE_MAX and (move := _full_relocation(obj, path))[0] < -1e-9:
            _, i, j = move
            candidate = np.insert(np.delete(path, i), j, path[i])
        else:
            break
        new_cost = obj.cost(candidate)
        if new_cost >= cost - 1e-9:
            break
        path, cost = candidate, new_cost
    return path


def test_mix_order_is_the_reference_solvers_order_on_random_leaves():
    """Bit for bit the first solver's orders on a few hundred leaves of 1 to 130 tracks (sizes
    interleaved, so the per-size caches are reused and evicted), ties included."""
    rng = np.random.default_rng(19)
    for k in range(240):
        n = int(rng.integers(1, 40)) if k % 12 else int(rng.integers(100, 131))
        if k % 2:
            bpm = rng.choice([90.0, 120.0, 124.0, 126.0, 174.0], n)
            keys = rng.choice([0, 1, 7, 8, 14], n)
            energy = np.where(rng.random(n) < 0.3, np.nan, rng.choice([1.0, 3.0, 5.0], n))
        else:
            bpm, keys, energy = random_leaf(rng, n)
        assert mix_order(bpm, keys, energy).tolist() == _reference_mix_order(bpm, keys, energy).tolist(), (k, n)


def test_a_stop_raised_by_progress_ends_the_pooled_ordering():
    leaves, tracks = random_leaf_set(8, 400, 30)

    def stop(fraction, message):
        raise RuntimeError("stop requested")

    with pytest.raises(RuntimeError, match="stop requested"):
        order_playlists(leaves, tracks, PlaylistOrderParams(), stop, pool_min_tracks=0, workers=2)


def test_inside_a_build_the_pooled_ordering_runs_on_the_builds_worker_pool(monkeypatch):
    """A build's pool (``core.workers.build_workers``) is used as it is (no pool of its own is
    started) and outlives the ordering, a stop included; the orders are the serial ones."""
    from collection_tree.core import workers
    from collection_tree.phases import playlist_order

    leaves, tracks = random_leaf_set(9, 200, 30)
    serial_orders, serial_report = order_playlists(leaves, tracks, PlaylistOrderParams(), workers=1)

    def no_pool_of_its_own(*args, **kwargs):
        raise AssertionError("the ordering started its own pool inside a build")

    def stop(fraction, message):
        raise RuntimeError("stop requested")

    monkeypatch.setattr(playlist_order, "spawn_pool", no_pool_of_its_own)
    with workers.build_workers():
        orders, report = order_playlists(leaves, tracks, PlaylistOrderParams(), pool_min_tracks=0, workers=2)
        with pytest.raises(RuntimeError, match="stop requested"):
            order_playlists(leaves, tracks, PlaylistOrderParams(), stop, pool_min_tracks=0, workers=2)
        pool = workers.shared_pool(2)
        assert pool is not None and list(pool.map(abs, [-1, -2])) == [1, 2]  # still serving the build
        again, _ = order_playlists(leaves, tracks, PlaylistOrderParams(), pool_min_tracks=0, workers=2)
    assert orders == serial_orders == again and report == serial_report


def test_a_broken_build_pool_fails_the_ordering_and_is_dropped_for_the_next_phase():
    """A worker of the build's pool that died (here, killed while idle) fails the ordering with
    BrokenProcessPool, not a hang; the broken pool is forgotten, so the next user gets a new one."""
    import os
    import signal
    from concurrent.futures.process import BrokenProcessPool

    from collection_tree.core import workers

    leaves, tracks = random_leaf_set(10, 60, 20)
    with workers.build_workers():
        pool = workers.shared_pool(2)
        assert pool is not None and list(pool.map(abs, [-3, -4])) == [3, 4]  # its workers are up
        victim = next(iter(pool._processes.values()))
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(timeout=30)
        with pytest.raises(BrokenProcessPool):
            order_playlists(leaves, tracks, PlaylistOrderParams(), pool_min_tracks=0, workers=2)
        fresh = workers.shared_pool(2)
        assert fresh is not None and fresh is not pool
        assert list(fresh.map(abs, [-5])) == [5]
