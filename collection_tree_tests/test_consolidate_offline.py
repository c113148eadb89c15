"""The offline consolidation's Ward merging with cached pair costs makes the merges a full rescan of
every pair makes (the previous implementation, kept here as the reference), ties included."""

from __future__ import annotations

import random

import numpy as np
import pytest

from collection_tree.core.vectors import Vectoriser
from collection_tree.tasks import consolidate_categories as task


def rescan_groups(payload: dict) -> list[list[str]]:
    """The merged groups' candidate names by the full rescan per merge (the code before the cache)."""
    items = payload["candidates"]  # names are distinct: nothing to deduplicate
    lo, hi = payload["min_categories"], payload["max_categories"]
    target = min(max(payload["target_categories"], lo), hi, len(items))
    docs = [task.candidate_features(c) for c in items]
    vectors = Vectoriser.fit(docs, min_df=1).transform(docs)
    groups = [[i] for i in range(len(items))]
    weights = [float(max(1, c["cluster_count"])) for c in items]
    centres = [vectors[i].copy() for i in range(len(items))]
    while len(groups) > target:
        best = None
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                na, nb = np.linalg.norm(centres[a]), np.linalg.norm(centres[b])
                cos = float(centres[a] @ centres[b] / (na * nb)) if na > 0 and nb > 0 else 0.0
                cost = weights[a] * weights[b] / (weights[a] + weights[b]) * (1.0 - cos)
                if best is None or cost < best[0] - 1e-12:
                    best = (cost, a, b)
        _, a, b = best
        total = weights[a] + weights[b]
        centres[a] = (centres[a] * weights[a] + centres.pop(b) * weights[b]) / total
        weights[a] = total
        weights.pop(b)
        groups[a] += groups.pop(b)
    return sorted(sorted(str(items[i]["name"]) for i in g) for g in groups)


def random_payload(seed: int, n: int) -> dict:
    rng = random.Random(seed)
    roots = ["Rock", "Pop", "Rap", "House", "Jazz", "Country"]
    words = ["Metal", "Punk", "Soul", "Deep", "Acid", "Cool", "Dirty", "South", "Dream", "Noise", "Folk"]
    candidates = []
    for i in range(n):
        root = rng.choice(roots)
        name = f"{rng.choice(words)} {root} {i}"
        # few distinct counts and contexts: near and exact cost ties between pairs
        count = rng.choice([1, 3, 3, 3, 10, 40])
        contexts = [f"{root} > {rng.choice(words)}" for _ in range(rng.randint(0, 3))]
        candidates.append({"name": name, "description": "", "cluster_count": count, "contexts": contexts,
                           "examples": [f"{rng.choice(words)} {rng.choice(words)}"]})
    return {"min_categories": 8, "max_categories": 12, "target_categories": 10, "candidates": candidates}


@pytest.mark.parametrize("seed, n", [(1, 14), (2, 40), (3, 90), (4, 25)])
def test_cached_ward_merges_as_the_full_rescan(seed, n):
    payload = random_payload(seed, n)
    answer = task.solve_offline(payload)["categories"]
    got = sorted(sorted(c["merged_from"]) for c in answer)
    assert got == rescan_groups(payload)
    assert 8 <= len(got) <= 12


def test_first_cheapest_keeps_the_earlier_of_near_ties():
    costs = np.full((4, 4), np.inf)
    pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    for (a, b), cost in zip(pairs, [5.0, 3.0, 3.0 - 5e-13, 2.0 + 5e-13, 2.0, 2.0 - 2e-12], strict=True):
        costs[a, b] = cost
    # 3.0 beats 5.0; 3.0-5e-13 is not 1e-12 better; 2.0+5e-13 is; 2.0 is not; 2.0-2e-12 is
    assert task._first_cheapest(costs) == (2, 3)
    costs[2, 3] = 2.0 - 5e-13
    assert task._first_cheapest(costs) == (1, 2)
