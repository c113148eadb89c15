"""Genre lineages and the lineage guard.

A genre tree's roots are its lineages (Rock, Pop, House ...). A track's lineages are the roots whose
leaves hold it (a track may sit in leaves of several lineages); a track in no leaf but in a branch
("Metal" alone) takes the roots of the branches holding it; a track the tree does not name has none
and may go anywhere. A cluster's lineage is the root of its genre leaf (``genre_leaf_id``, else the
part of its id before ``__``, as curation reads it).

The guard: a track with lineages is never placed in a cluster of another lineage. Checks are
vectorised: a boolean tracks x roots matrix (roots are few), gathered per batch of tracks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from collection_tree.core.arrays import sorted_unique
from collection_tree.core.clusters import Cluster


@dataclass(frozen=True)
class GenreLineages:
    """Which lineage (genre-tree root) every track and genre leaf belongs to."""

    roots: tuple[str, ...]  # root ids, tree order
    titles: dict[str, str]  # root id -> title
    leaf_root: dict[str, str]  # genre leaf id -> root id
    position: pd.Index  # track id -> row of ``mask``
    mask: np.ndarray  # bool, tracks x roots
    by_leaf: np.ndarray  # bool per row: the lineage comes from a leaf (else from a branch only)

    @classmethod
    def from_tree(cls, tree: dict[str, Any]) -> GenreLineages:
        roots = [str(r["id"]) for r in tree.get("lineages", [])]
        column = {r: j for j, r in enumerate(roots)}
        titles = {str(r["id"]): str(r.get("title", r["id"])) for r in tree.get("lineages", [])}
        leaf_root: dict[str, str] = {}
        # (track ids, root column) per node, one array each: a million tracks as Python pairs took seconds
        leaf_parts: list[tuple[np.ndarray, int]] = []
        branch_parts: list[tuple[np.ndarray, int]] = []

        def walk(node: dict[str, Any], j: int) -> None:
            children = node.get("children") or []
            if not children:
                leaf_root[str(node["id"])] = roots[j]
            ids = np.asarray(node.get("track_ids") or [], dtype=np.int64)
            if ids.size:
                (branch_parts if children else leaf_parts).append((ids, j))
            for child in children:
                walk(child, j)

        for root in tree.get("lineages", []):
            walk(root, column[str(root["id"])])
        leaf, branch = _pairs(leaf_parts), _pairs(branch_parts)
        ids = sorted_unique(np.concatenate([leaf[:, 0], branch[:, 0]]))
        position = pd.Index(ids)
        mask = np.zeros((len(ids), len(roots)), dtype=bool)
        mask[position.get_indexer(leaf[:, 0]), leaf[:, 1]] = True
        by_leaf = mask.any(axis=1)
        branch_rows = position.get_indexer(branch[:, 0])
        only_branch = ~by_leaf[branch_rows]  # a leaf lineage, when there is one, is the track's lineage
        mask[branch_rows[only_branch], branch[only_branch, 1]] = True
        return cls(tuple(roots), titles, leaf_root, position, mask, by_leaf)

    # ------------------------------------------------------------------------------------- lookups
    def of_track(self, track_id: int) -> tuple[str, ...]:
        row = self.position.get_indexer([int(track_id)])[0]
        if row < 0:
            return ()
        return tuple(r for r, on in zip(self.roots, self.mask[row], strict=True) if on)

    def of_cluster(self, cluster: Cluster) -> str | None:
        """The root of the cluster's genre leaf, or None when it names no leaf of the tree."""
        return self.leaf_root.get(cluster.genre_leaf_id) or self.leaf_root.get(cluster.id.split("__")[0])

    def title(self, root: str | None) -> str:
        return self.titles.get(root or "", root or "no lineage")

    def describe(self, track_id: int) -> str:
        return ", ".join(self.title(r) for r in self.of_track(track_id)) or "no lineage"

    # ------------------------------------------------------------------------------------- guard
    def root_columns(self, clusters: Sequence[Cluster]) -> np.ndarray:
        """Per cluster: the column of its root in ``mask`` (-1: unknown lineage, open to every track)."""
        column = {r: j for j, r in enumerate(self.roots)}
        return np.array([column.get(self.of_cluster(c) or "", -1) for c in clusters], dtype=np.int64)

    def allowed(self, track_ids: Iterable[int], cluster_columns: np.ndarray) -> np.ndarray:
        """bool, tracks x clusters: may the track sit in the cluster? A track without lineage may go
        anywhere; a cluster of unknown lineage takes anyone."""
        ids = np.asarray(list(track_ids), dtype=np.int64)
        rows = self.position.get_indexer(ids)
        known = rows >= 0
        out = np.ones((len(ids), len(cluster_columns)), dtype=bool)
        if not known.any() or len(cluster_columns) == 0:
            return out
        cols = np.where(cluster_columns >= 0, cluster_columns, 0)
        gathered = self.mask[rows[known]][:, cols]
        gathered[:, cluster_columns < 0] = True
        out[known] = gathered
        return out

    def allows(self, track_id: int, cluster: Cluster) -> bool:
        root = self.of_cluster(cluster)
        own = self.of_track(track_id)
        return root is None or not own or root in own

    def violations(self, clusters: Sequence[Cluster]) -> list[tuple[int, str]]:
        """(track id, cluster id) for every member sitting in a cluster of none of its lineages, clusters
        and members in order. Every member is looked up at once (a lookup per cluster was a second of
        phase 3 at 300K tracks)."""
        columns = self.root_columns(clusters)
        checked = [(c, column) for c, column in zip(clusters, columns.tolist(), strict=True)
                   if column >= 0 and c.track_ids]
        sizes = [len(c.track_ids) for c, _ in checked]
        ids = np.fromiter((int(t) for c, _ in checked for t in c.track_ids), dtype=np.int64, count=sum(sizes))
        column = np.repeat(np.array([j for _, j in checked], dtype=np.int64), sizes)
        owner = np.repeat(np.arange(len(checked)), sizes)
        rows = self.position.get_indexer(ids)
        known = np.flatnonzero(rows >= 0)  # a track without lineage may sit anywhere
        bad = known[~self.mask[rows[known], column[known]]]
        return [(int(ids[i]), checked[int(owner[i])][0].id) for i in bad.tolist()]


def _pairs(parts: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """int64, n x 2: (track id, root column) rows of every part."""
    if not parts:
        return np.empty((0, 2), dtype=np.int64)
    ids = np.concatenate([ids for ids, _ in parts])
    columns = np.repeat(np.array([j for _, j in parts], dtype=np.int64), [len(ids) for ids, _ in parts])
    return np.column_stack([ids, columns])
