"""Stable identity across builds (issue 15 part 2): a new tree's leaves and categories keep the ids and
titles of the previous build's ones they continue.

Pure, on the Collection Tree JSON (``phases/assembly.py``'s dict), so the full build and the
incremental ``update`` share it. Interface:

- ``match_leaves(previous, current, min_jaccard)`` -> ``{current leaf id: previous leaf id}``: one-to-one,
  best total overlap (scipy's ``linear_sum_assignment`` on the pairs that share tracks), a pair kept only
  when its membership Jaccard is at least ``min_jaccard``.
- ``match_categories(previous, current, leaf_match, min_jaccard)``: the same on categories, with each
  category's membership being its (previous-id-mapped) leaves.
- ``carry_identity(previous, current, params, words_of)`` -> ``(tree, IdentityReport)``: a new tree
  whose matched leaves and categories carry the previous id and title (descriptions stay fresh),
  every reference to a leaf id (category ``leaves``, ``sections``) rewritten. ``previous=None`` returns
  the tree unchanged. An unmatched leaf or category never takes a previous build's id
  (it gets a ``-2``, ``-3`` suffix).

A previous title is carried only while it still says what the tracks are: with ``words_of`` (track
ids -> each track's facet words), a carried title must bear on nearly as many of the leaf's (or
category's) tracks as the fresh title does (``IdentityParams.title_fit_margin``, the judge's title
fit) and must not be broken. Otherwise the fresh title wins and the diff shows a rename: a DJ's
playlist named for what it no longer holds is the defect the curation work removed. An upgrade
whose titles fit better reaches builds made over an older output this way; the user's own renames
(``overrides.json``) are applied after this and always win.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from collection_tree.core.curation import broken_title, fit_share
from collection_tree.core.json_text import copy_document
from collection_tree.core.report import PhaseReport
from collection_tree.phases.common import PhaseParams, param

WordsOf = Callable[[Sequence[int]], list[set[str]]]


@dataclass(frozen=True)
class IdentityParams(PhaseParams):
    PHASE = "identity"

    min_jaccard: float = param(0.5, "A new leaf (category) continues a previous one, keeping its id and title, "
                                    "when their tracks (leaves) overlap by at least this Jaccard share")
    title_fit_margin: float = param(
        0.1, "A continued leaf or category keeps its previous title while that title bears on at least the fresh "
             "title's share of its tracks minus this margin (the share of tracks carrying a word of the title)")

    def validate(self) -> None:
        if not 0.0 < self.min_jaccard <= 1.0:
            raise ValueError(f"min_jaccard must be in (0, 1], got {self.min_jaccard!r}")
        if not 0.0 <= self.title_fit_margin <= 1.0:
            raise ValueError(f"title_fit_margin must be in [0, 1], got {self.title_fit_margin!r}")


MIN_JACCARD = IdentityParams().min_jaccard


@dataclass(frozen=True)
class IdentityReport(PhaseReport):
    leaves: int
    leaves_kept: int
    categories: int
    categories_kept: int
    titles_kept: int
    titles_refreshed: int = 0  # continued leaves and categories whose previous title no longer fit their tracks


def _leaves(tree: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {leaf["id"]: leaf for category in tree.get("categories", []) for leaf in category.get("leaves", [])}


def match_sets(previous: Mapping[str, Iterable[str]], current: Mapping[str, Iterable[str]],
               min_jaccard: float = MIN_JACCARD) -> dict[str, str]:
    """One-to-one matching of ``current`` sets to ``previous`` sets maximising total Jaccard, keeping
    only pairs with Jaccard >= ``min_jaccard``. Keys are set ids, values their members."""
    prev_ids, cur_ids = sorted(previous), sorted(current)
    if not prev_ids or not cur_ids:
        return {}
    prev_sets = [set(previous[key]) for key in prev_ids]
    cur_sets = [set(current[key]) for key in cur_ids]
    owner: dict[str, list[int]] = {}
    for row, members in enumerate(prev_sets):
        for member in members:
            owner.setdefault(member, []).append(row)
    overlap: dict[tuple[int, int], int] = {}
    for col, members in enumerate(cur_sets):
        for member in members:
            for row in owner.get(member, ()):
                overlap[(row, col)] = overlap.get((row, col), 0) + 1
    if not overlap:
        return {}
    rows, cols, scores = [], [], []
    for (row, col), shared in overlap.items():
        union = len(prev_sets[row]) + len(cur_sets[col]) - shared
        jaccard = shared / union if union else 0.0
        if jaccard >= min_jaccard:
            rows.append(row)
            cols.append(col)
            scores.append(jaccard)
    if not scores:
        return {}
    # Only pairs over the threshold enter; with Jaccard >= 0.5 each set has at most one such partner
    # on most data, but the assignment keeps it one-to-one and best in total when it does not. It is
    # solved per connected group of pairs (a prev x cur matrix is 1 GiB at 11K leaves, 10 at 35K).
    n_prev = len(prev_sets)
    graph = coo_matrix((np.ones(len(rows)), (rows, [n_prev + c for c in cols])),
                       shape=(n_prev + len(cur_sets),) * 2)
    _, label = connected_components(graph, directed=False)
    groups: dict[int, list[int]] = {}
    for k, row in enumerate(rows):
        groups.setdefault(int(label[row]), []).append(k)
    out: dict[str, str] = {}
    for pairs in groups.values():
        if len(pairs) == 1:
            k = pairs[0]
            if not np.isclose(scores[k], 0.0):
                out[cur_ids[cols[k]]] = prev_ids[rows[k]]
            continue
        group_rows = sorted({rows[k] for k in pairs})
        group_cols = sorted({cols[k] for k in pairs})
        dense = np.zeros((len(group_rows), len(group_cols)))
        for k in pairs:
            dense[group_rows.index(rows[k]), group_cols.index(cols[k])] = scores[k]
        from scipy.optimize import linear_sum_assignment  # 0.16 s to import: only where leaves tie

        picked_rows, picked_cols = linear_sum_assignment(dense, maximize=True)
        out.update({cur_ids[group_cols[c]]: prev_ids[group_rows[r]]
                    for r, c in zip(picked_rows, picked_cols, strict=True)
                    if dense[r, c] >= min_jaccard and not np.isclose(dense[r, c], 0.0)})
    return dict(sorted(out.items(), key=lambda pair: pair[1]))  # by previous id, as one assignment gives them


def match_leaves(previous: Mapping[str, Any], current: Mapping[str, Any],
                 min_jaccard: float = MIN_JACCARD) -> dict[str, str]:
    prev = {key: leaf["track_ids"] for key, leaf in _leaves(previous).items()}
    cur = {key: leaf["track_ids"] for key, leaf in _leaves(current).items()}
    return match_sets(prev, cur, min_jaccard)


def match_categories(previous: Mapping[str, Any], current: Mapping[str, Any], leaf_match: Mapping[str, str],
                     min_jaccard: float = MIN_JACCARD) -> dict[str, str]:
    prev = {cat["id"]: [leaf["id"] for leaf in cat.get("leaves", [])] for cat in previous.get("categories", [])}
    cur = {cat["id"]: [leaf_match.get(leaf["id"], "new:" + leaf["id"]) for leaf in cat.get("leaves", [])]
           for cat in current.get("categories", [])}
    return match_sets(prev, cur, min_jaccard)


def _free_id(wanted: str, taken: set[str]) -> str:
    candidate, n = wanted, 2
    while candidate in taken:
        candidate, n = f"{wanted}-{n}", n + 1
    return candidate


def _keeps_title(old: str, fresh: str, track_ids: Sequence[int], words_of: WordsOf | None, margin: float) -> bool:
    if old == fresh or words_of is None:
        return True
    if broken_title(old):
        return False
    rows = words_of(track_ids)
    return fit_share(old, rows) >= fit_share(fresh, rows) - margin


def carry_identity(previous: Mapping[str, Any] | None, current: Mapping[str, Any],
                   params: IdentityParams | None = None,
                   words_of: WordsOf | None = None) -> tuple[dict[str, Any], IdentityReport]:
    """``words_of`` None: titles are carried unchecked (the diff of two stored trees)."""
    params = params or IdentityParams()
    if not previous:  # nothing to carry: the tree as it is (no copy of a big tree to change nothing)
        tree = dict(current)
        return tree, IdentityReport(len(_leaves(tree)), 0, len(tree.get("categories", [])), 0, 0)
    tree = copy_document(dict(current))
    cur_leaves = _leaves(tree)
    n_categories = len(tree.get("categories", []))
    prev_leaves = _leaves(previous)
    prev_categories = {cat["id"]: cat for cat in previous.get("categories", [])}
    leaf_match = match_leaves(previous, tree, params.min_jaccard)
    category_match = match_categories(previous, tree, leaf_match, params.min_jaccard)

    # An unmatched leaf never takes a previous id: equal ids must mean the same leaf to the diff and the exports.
    taken = set(leaf_match.values()) | set(prev_leaves)
    new_leaf_id: dict[str, str] = {}
    for key in sorted(cur_leaves):
        if key in leaf_match:
            new_leaf_id[key] = leaf_match[key]
        else:
            new_leaf_id[key] = _free_id(key, taken)
            taken.add(new_leaf_id[key])
    titles_kept = refreshed = 0
    cat_taken = set(category_match.values()) | set(prev_categories)
    for category in tree.get("categories", []):
        old = category_match.get(category["id"])
        if old is not None:
            category["id"] = old
            members = [t for leaf in category.get("leaves", []) for t in leaf["track_ids"]]
            if _keeps_title(prev_categories[old]["title"], category["title"], members, words_of,
                            params.title_fit_margin):
                category["title"] = prev_categories[old]["title"]
            else:
                refreshed += 1
        else:
            category["id"] = _free_id(category["id"], cat_taken)
            cat_taken.add(category["id"])
        for leaf in category.get("leaves", []):
            old_leaf = leaf_match.get(leaf["id"])
            leaf["id"] = new_leaf_id[leaf["id"]]
            if old_leaf is None:
                continue
            if _keeps_title(prev_leaves[old_leaf]["title"], leaf["title"], leaf["track_ids"], words_of,
                            params.title_fit_margin):
                leaf["title"] = prev_leaves[old_leaf]["title"]
                titles_kept += 1
            else:
                refreshed += 1
        for section in category.get("sections", []) or []:
            section["leaf_ids"] = [new_leaf_id.get(key, key) for key in section["leaf_ids"]]
    report = IdentityReport(len(cur_leaves), len(leaf_match), n_categories, len(category_match), titles_kept,
                            refreshed)
    return tree, report
