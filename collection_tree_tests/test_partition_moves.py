"""``core.partition``'s merge loops keep each group's centroid (and size) beside the groups instead of
computing every group's again per merge; the moves must stay exactly those of the plain loops, which
this file keeps as the reference."""

import numpy as np
import pytest

from collection_tree.core.partition import _same_home, _size, balance, centroid, fit_count, merge_small


def _nearest(groups, vectors, index, among=None):
    own = centroid(vectors, groups[index])
    best, best_sim = -1, -np.inf
    for j in among if among is not None else range(len(groups)):
        if j != index:
            sim = float(own @ centroid(vectors, groups[j]))
            if sim > best_sim + 1e-12:
                best, best_sim = j, sim
    return best


def reference_merge_small(groups, vectors, min_size, max_size=None, home=None):
    groups = [list(g) for g in groups]
    lonely = set()
    while len(groups) > 1:
        small = [i for i, g in enumerate(groups) if len(g) < min_size and min(g) not in lonely]
        if not small:
            break
        i = min(small, key=lambda j: (len(groups[j]), min(groups[j])))
        partners = _same_home(groups, i, home)
        fits = [k for k in partners if max_size is None or len(groups[k]) + len(groups[i]) <= max_size]
        if not fits:
            lonely.add(min(groups[i]))
            continue
        j = _nearest(groups, vectors, i, among=fits)
        groups[j].extend(groups.pop(i))
    return groups


def reference_fit_merges(groups, vectors, weights, hi, home=None):
    groups = [list(g) for g in groups if g]
    while len(groups) > hi:
        by_size = sorted(range(len(groups)), key=lambda j: (*_size(groups[j], weights), j))
        i = next((j for j in by_size if _same_home(groups, j, home)), by_size[0])
        partners = _same_home(groups, i, home)
        j = _nearest(groups, vectors, i, among=partners or None)
        groups[j].extend(groups.pop(i))
    return groups


def _case(seed, rows=400, groups=60):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(rows, 12))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = rng.integers(0, groups, size=rows)
    parts = [list(np.flatnonzero(labels == k)) for k in range(groups)]
    home = [f"h{r % 3}" for r in range(rows)]
    weights = rng.integers(1, 50, size=rows).astype(float)
    return vectors, [[int(r) for r in p] for p in parts if p], home, weights


@pytest.mark.parametrize("seed", range(6))
def test_merges_are_the_plain_loops_moves(seed):
    vectors, groups, home, weights = _case(seed)
    for min_size, max_size, homes in ((9, None, None), (9, 25, home), (30, 60, home)):
        assert merge_small(groups, vectors, min_size, max_size, homes) == \
            reference_merge_small(groups, vectors, min_size, max_size, homes)
    for hi, homes in ((5, None), (12, home)):
        merged, moves = fit_count(groups, vectors, weights, lo=1, hi=hi, home=homes)
        assert merged == reference_fit_merges(groups, vectors, weights, hi, homes)
        assert moves["merged"] == len([g for g in groups if g]) - hi


def reference_balance(groups, vectors, weights, cap, home=None):
    groups = [list(g) for g in groups]
    n, total = sum(len(g) for g in groups), float(weights.sum())
    cap_count, cap_weight = max(1, int(cap * n)), cap * total
    moves, stuck = 0, set()
    for _ in range(n * len(groups)):
        over = [i for i, g in enumerate(groups) if i not in stuck and len(g) > 1
                and (len(g) > cap_count or _size(g, weights)[1] > cap_weight)]
        if not over:
            break
        i = max(over, key=lambda j: (max(len(groups[j]) / n, _size(groups[j], weights)[1] / max(total, 1)), -j))
        receivers = set(_same_home(groups, i, home))
        centres = np.stack([centroid(vectors, g) for g in groups])
        best = None
        for member in groups[i]:
            sims = centres @ vectors[member]
            for j in np.argsort(-sims, kind="stable"):
                j = int(j)
                if j == i or j not in receivers:
                    continue
                count, weight = _size(groups[j], weights)
                if count + 1 <= cap_count and weight + weights[member] <= cap_weight:
                    margin = float(sims[i] - sims[j])
                    if best is None or (margin, member) < (best[0], best[1]):
                        best = (margin, member, j)
                    break
        if best is None:
            stuck.add(i)
            continue
        _, member, j = best
        groups[i].remove(member)
        groups[j].append(member)
        moves += 1
    return groups, moves


@pytest.mark.parametrize("seed", range(4))
def test_balance_makes_the_plain_loops_moves(seed):
    vectors, groups, home, weights = _case(seed + 10, rows=300, groups=4)
    big = [sorted(groups[0] + groups[1] + groups[2]), groups[3]]
    for homes in (None, home):
        balanced, moves = balance(big, vectors, weights, cap=0.6, home=homes)
        assert (balanced, moves) == reference_balance(big, vectors, weights, 0.6, homes)
    assert balance(big, vectors, weights, cap=0.6)[1] > 0
