"""Playlist order: the order every export plays a leaf in (DESIGN section 5, leaf ``order`` and
``transitions``).

Modes (``playlist_order``):

- ``mix`` (default): a DJ-playable order (:func:`collection_tree.core.mix.mix_order`) of the tracks
  with a tempo and a key; the leaf's other tracks follow, exemplars first, then by year. A leaf with
  fewer than two such tracks (a collection without BPM or key) keeps exemplars first, then by year.
- ``exemplars``: the reference's order: exemplars first, then library order (``track_ids``).
- ``library``: ``track_ids`` as they are.

``transitions`` is the share of compatible adjacent pairs among the tracks that have a tempo and a
key, in the chosen order (absent when a leaf has fewer than two). The report also measures, over
the same leaves, the shares the same tracks would have sorted by BPM and in library order.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from itertools import compress, repeat
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from collection_tree.core.clusters import ClusterSet
from collection_tree.core.mix import camelot_codes, compatible, compatible_share, mix_order, mixable
from collection_tree.core.workers import (
    POOL_MIN_TRACKS,
    end_broken_pool,
    shared_pool,
    spawn_pool,
    workers_for,
)
from collection_tree.phases.common import PhaseParams, Progress, no_progress, param

ORDERS = ("mix", "exemplars", "library")


@dataclass(frozen=True)
class PlaylistOrderParams(PhaseParams):
    PHASE: ClassVar[str] = "playlist_order"
    SEED: ClassVar[dict[str, Any]] = {"playlist_order": "exemplars"}  # the reference: exemplars first

    playlist_order: str = param("mix", "Order of every leaf's tracks in every export: mix (Camelot key, BPM "
                                       "and an energy arc where tracks have them), exemplars (exemplars first, "
                                       "then by year) or library (the tracks file's order)")
    # +-6%: what a pitch fader covers; half and double time count.
    tempo_tolerance: float = param(0.06, "Tempo step two consecutive tracks may differ by and still mix")
    energy_weight: float = param(0.03, "Cost per energy point off the warm-up/peak/release arc, against 1 per "
                                       "incompatible transition")

    def validate(self) -> None:
        if self.playlist_order not in ORDERS:
            raise ValueError(f"playlist_order: expected one of {', '.join(ORDERS)}, got {self.playlist_order!r}")
        if not 0.0 < self.tempo_tolerance < 0.5:
            raise ValueError(f"tempo_tolerance: expected a share in (0, 0.5), got {self.tempo_tolerance}")
        if self.energy_weight < 0:
            raise ValueError("energy_weight must be >= 0")


@dataclass(frozen=True)
class LeafOrder:
    order: list[int]
    transitions: float | None  # compatible share in ``order``; None: not measurable


@dataclass
class OrderReport:
    """Compatible transitions over all measurable leaves, counted as pairs (so big leaves weigh more)."""

    mode: str = "mix"
    leaves: int = 0
    leaves_measured: int = 0
    leaves_mixed: int = 0
    tracks_without_tempo_or_key: int = 0
    pairs: int = 0
    compatible: dict[str, int] = field(default_factory=lambda: {"order": 0, "bpm_sorted": 0, "library": 0})

    def add(self, tally: LeafTally) -> None:
        self.leaves += 1
        self.tracks_without_tempo_or_key += tally.without_tempo_or_key
        if tally.pairs:
            self.leaves_measured += 1
            self.leaves_mixed += self.mode == "mix"
            self.pairs += tally.pairs
            for which in ("order", "bpm_sorted", "library"):
                self.compatible[which] += getattr(tally, which)

    def share(self, which: str) -> float | None:
        return round(self.compatible[which] / self.pairs, 4) if self.pairs else None

    def to_metadata(self) -> dict[str, Any]:
        def ratio(a: float | None, b: float | None) -> float | None:
            return round(a / b, 2) if a is not None and b else None

        order, bpm, library = self.share("order"), self.share("bpm_sorted"), self.share("library")
        return {"playlist_order": self.mode, "leaves_ordered": self.leaves, "leaves_measured": self.leaves_measured,
                "leaves_mixed": self.leaves_mixed, "tracks_without_tempo_or_key": self.tracks_without_tempo_or_key,
                "transition_pairs": self.pairs, "transitions_compatible_share": order,
                "transitions_bpm_sorted_share": bpm, "transitions_library_share": library,
                "transitions_vs_bpm_sorted": ratio(order, bpm), "transitions_vs_library": ratio(order, library)}


@dataclass(frozen=True)
class TrackFacts:
    """The columns ordering needs, by track id."""

    bpm: dict[int, float]
    key: dict[int, int]
    energy: dict[int, float]
    year: dict[int, float]

    @classmethod
    def from_tracks(cls, tracks: pd.DataFrame) -> TrackFacts:
        ids = [int(t) for t in tracks["track_id"]]

        def numbers(column: str) -> dict[int, float]:
            if column not in tracks.columns:
                return {}
            values = pd.to_numeric(tracks[column], errors="coerce").astype("float64").to_numpy()
            finite = np.isfinite(values)
            return dict(zip(compress(ids, finite.tolist()), values[finite].tolist(), strict=True))

        keys = camelot_codes(tracks["key"].tolist()) if "key" in tracks.columns else np.array([], dtype=np.int64)
        return cls(bpm=numbers("bpm"), key={t: int(k) for t, k in zip(ids, keys.tolist(), strict=False) if k >= 0},
                   energy=numbers("energy"), year=numbers("year"))

    def arrays(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (np.array(list(map(self.bpm.get, ids, repeat(np.nan))), dtype=np.float64),
                np.array(list(map(self.key.get, ids, repeat(-1))), dtype=np.int64),
                np.array(list(map(self.energy.get, ids, repeat(np.nan))), dtype=np.float64))


def exemplars_then_year(ids: Iterable[int], exemplars: list[int], facts: TrackFacts) -> list[int]:
    """Exemplars (in their order) first, then the rest by year (unknown last), then library order."""
    position = {t: i for i, t in enumerate(ids)}
    first = [t for t in dict.fromkeys(exemplars) if t in position]
    chosen = set(first)
    rest = sorted((t for t in position if t not in chosen), key=lambda t: (facts.year.get(t, math.inf), position[t]))
    return first + rest


def leaf_order(track_ids: list[int], exemplars: list[int], facts: TrackFacts,
               params: PlaylistOrderParams) -> list[int]:
    """One leaf's play order."""
    ids = [int(t) for t in track_ids]
    if params.playlist_order == "library":
        return ids
    if params.playlist_order == "exemplars":
        members = set(ids)
        first = [t for t in dict.fromkeys(exemplars) if t in members]
        chosen = set(first)
        return first + [t for t in ids if t not in chosen]
    bpm, keys, energy = facts.arrays(ids)
    ok = mixable(bpm, keys)
    if ok.sum() < 2:
        return exemplars_then_year(ids, exemplars, facts)
    playable = [t for t, good in zip(ids, ok.tolist(), strict=True) if good]
    path = mix_order(bpm[ok], keys[ok], energy[ok], tolerance=params.tempo_tolerance,
                     energy_weight=params.energy_weight)
    mixed = [playable[i] for i in path.tolist()]
    placed = set(mixed)
    return mixed + exemplars_then_year((t for t in ids if t not in placed), exemplars, facts)


@dataclass(frozen=True)
class LeafTally:
    """One leaf's share of the report: what :meth:`OrderReport.add` sums."""

    without_tempo_or_key: int
    pairs: int  # 0: fewer than two measurable tracks
    order: int
    bpm_sorted: int
    library: int


def tally_leaf(order: list[int], facts: TrackFacts, tolerance: float) -> tuple[float | None, LeafTally]:
    """The compatible share of the adjacent pairs of ``order``'s tracks that have a tempo and a key
    (None: fewer than two), and the compatible pairs among them as ordered, sorted by BPM and by id."""
    bpm, keys, _ = facts.arrays(order)
    ok = mixable(bpm, keys)
    without = int((~ok).sum())
    if ok.sum() < 2:
        return None, LeafTally(without, 0, 0, 0, 0)
    p_bpm, p_keys = bpm[ok], keys[ok]
    m = len(p_bpm)
    library = np.argsort(np.array(order, dtype=np.int64)[ok], kind="stable")
    # the three orders' adjacent pairs judged in one call (element-wise: the same flags as three calls)
    sequences = np.stack([np.arange(m), np.argsort(p_bpm, kind="stable"), library])
    a, b = sequences[:, :-1].ravel(), sequences[:, 1:].ravel()
    flags = compatible(p_bpm[a], p_keys[a], p_bpm[b], p_keys[b], tolerance).reshape(3, m - 1)
    counts = flags.sum(axis=1).tolist()
    return compatible_share(flags[0]), LeafTally(without, m - 1, *counts)


LeafJob = tuple[list[int], list[int]]  # a leaf's track ids and exemplar ids


def order_and_tally(job: LeafJob, facts: TrackFacts, params: PlaylistOrderParams) -> tuple[LeafOrder, LeafTally]:
    order = leaf_order(job[0], job[1], facts, params)
    transitions, tally = tally_leaf(order, facts, params.tempo_tolerance)
    return LeafOrder(order=order, transitions=transitions), tally


def order_leaf(track_ids: list[int], exemplars: list[int], facts: TrackFacts,
               params: PlaylistOrderParams) -> LeafOrder:
    """One leaf's play order and its compatible share."""
    return order_and_tally((track_ids, exemplars), facts, params)[0]


POOL_CHUNK_LEAVES = 48  # leaves per task: small enough to balance uneven leaves, big enough to amortise IPC


def _chunk_facts(jobs: list[LeafJob], facts: TrackFacts) -> TrackFacts:
    """The facts of the chunk's tracks alone: a leaf's order reads only its own tracks' facts, and a
    task then carries a few thousand values instead of the collection's."""
    ids = {t for track_ids, exemplars in jobs for t in (*track_ids, *exemplars)}

    def of(values: dict[int, Any]) -> dict[int, Any]:
        return {t: values[t] for t in ids if t in values}

    return TrackFacts(bpm=of(facts.bpm), key=of(facts.key), energy=of(facts.energy), year=of(facts.year))


def _order_chunk(task: tuple[list[LeafJob], TrackFacts, PlaylistOrderParams]) -> list[tuple[LeafOrder, LeafTally]]:
    jobs, facts, params = task
    return [order_and_tally(job, facts, params) for job in jobs]


def _pooled(jobs: list[LeafJob], facts: TrackFacts, params: PlaylistOrderParams,
            workers: int) -> Generator[tuple[LeafOrder, LeafTally], None, None]:
    """Every job's result, in the jobs' order, computed in ``workers`` processes: the build's pool
    (``core.workers.shared_pool``: started by an earlier phase, its processes already imported)
    when there is one, else a pool started and ended here. Each task carries its leaves' facts."""
    chunks = [jobs[k:k + POOL_CHUNK_LEAVES] for k in range(0, len(jobs), POOL_CHUNK_LEAVES)]
    shared = shared_pool(workers)
    pool = shared if shared is not None else spawn_pool(min(workers, len(chunks)))
    results = None
    broken = False
    try:
        results = pool.map(_order_chunk, ((chunk, _chunk_facts(chunk, facts), params) for chunk in chunks))
        for chunk in results:
            yield from chunk
    except BrokenProcessPool:  # a worker died (now, or idle since the last phase: then the map raises)
        broken = True
        end_broken_pool(pool)  # the build's: the next phase, or a re-execution, starts another pool
        raise
    finally:
        if results is not None:
            results.close()  # cancels the tasks not started (a stop)
        if shared is None and not broken:
            pool.shutdown(cancel_futures=True)


def order_playlists(leaves: ClusterSet, tracks: pd.DataFrame, params: PlaylistOrderParams,
                    progress: Progress = no_progress, *, pool_min_tracks: int = POOL_MIN_TRACKS,
                    workers: int | None = None) -> tuple[dict[str, LeafOrder], OrderReport]:
    """Every leaf's order (by leaf id) and the report comparing it with BPM-sorted and library order.
    From ``pool_min_tracks`` tracks in mix mode the leaves are ordered in worker processes (``workers``,
    default: the usable CPUs); the results are the same as the serial ones, gathered in leaf order."""
    facts = TrackFacts.from_tracks(tracks)
    report = OrderReport(mode=params.playlist_order)
    orders: dict[str, LeafOrder] = {}
    total = max(len(leaves.clusters), 1)
    jobs: list[LeafJob] = [
        ([int(t) for t in cluster.track_ids],
         [int(e["track_id"]) for e in cluster.examples if isinstance(e, dict) and "track_id" in e])
        for cluster in leaves.clusters]
    workers = workers_for(sum(len(ids) for ids, _ in jobs), min_tracks=pool_min_tracks, workers=workers)
    pooled = params.playlist_order == "mix" and workers > 1 and len(jobs) > 1
    results = (_pooled(jobs, facts, params, workers) if pooled
               else (order_and_tally(job, facts, params) for job in jobs))
    try:
        for n, (cluster, (result, tally)) in enumerate(zip(leaves.clusters, results, strict=True), start=1):
            orders[cluster.id] = result
            report.add(tally)
            if n % 100 == 0 or n == total:
                progress(n / total, f"ordered {n}/{total} playlists ({params.playlist_order})")
    finally:
        results.close()  # a stop raised by ``progress`` ends the workers now, not when the traceback goes
    return orders, report


def apply_orders(doc: dict[str, Any], orders: dict[str, LeafOrder]) -> dict[str, Any]:
    """The tree with each leaf's ``order`` (only where it differs from ``track_ids``) and
    ``transitions`` (where measurable). ``doc`` is changed in place and returned."""
    for category in doc.get("categories", []):
        for leaf in category.get("leaves", []):
            result = orders.get(leaf["id"])
            if result is None:
                continue
            if result.order != list(leaf["track_ids"]):
                leaf["order"] = list(result.order)
            if result.transitions is not None:
                leaf["transitions"] = result.transitions
    return doc
