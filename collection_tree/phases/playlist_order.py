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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from collection_tree.core.clusters import ClusterSet
from collection_tree.core.mix import camelot_codes, compatible_share, mix_order, mixable, transition_flags
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
            return {t: float(v) for t, v in zip(ids, values, strict=True) if math.isfinite(v)}

        keys = camelot_codes(tracks["key"].tolist()) if "key" in tracks.columns else np.array([], dtype=np.int64)
        return cls(bpm=numbers("bpm"), key={t: int(k) for t, k in zip(ids, keys.tolist(), strict=False) if k >= 0},
                   energy=numbers("energy"), year=numbers("year"))

    def arrays(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (np.array([self.bpm.get(t, np.nan) for t in ids], dtype=np.float64),
                np.array([self.key.get(t, -1) for t in ids], dtype=np.int64),
                np.array([self.energy.get(t, np.nan) for t in ids], dtype=np.float64))


def exemplars_then_year(ids: Iterable[int], exemplars: list[int], facts: TrackFacts) -> list[int]:
    """Exemplars (in their order) first, then the rest by year (unknown last), then library order."""
    position = {t: i for i, t in enumerate(ids)}
    first = [t for t in dict.fromkeys(exemplars) if t in position]
    chosen = set(first)
    rest = sorted((t for t in position if t not in chosen), key=lambda t: (facts.year.get(t, math.inf), position[t]))
    return first + rest


def order_leaf(track_ids: list[int], exemplars: list[int], facts: TrackFacts,
               params: PlaylistOrderParams) -> LeafOrder:
    """One leaf's play order and its compatible share."""
    ids = [int(t) for t in track_ids]
    if params.playlist_order == "library":
        order = ids
    elif params.playlist_order == "exemplars":
        first = [t for t in dict.fromkeys(exemplars) if t in set(ids)]
        order = first + [t for t in ids if t not in set(first)]
    else:
        bpm, keys, _ = facts.arrays(ids)
        ok = mixable(bpm, keys)
        if ok.sum() < 2:
            order = exemplars_then_year(ids, exemplars, facts)
        else:
            playable = [t for t, good in zip(ids, ok.tolist(), strict=True) if good]
            p_bpm, p_keys, p_energy = facts.arrays(playable)
            path = mix_order(p_bpm, p_keys, p_energy, tolerance=params.tempo_tolerance,
                             energy_weight=params.energy_weight)
            mixed = [playable[i] for i in path.tolist()]
            order = mixed + exemplars_then_year((t for t in ids if t not in set(mixed)), exemplars, facts)
    return LeafOrder(order=order, transitions=measured_share(order, facts, params.tempo_tolerance))


def measured_share(order: list[int], facts: TrackFacts, tolerance: float) -> float | None:
    """Compatible share of the adjacent pairs of ``order``'s tracks that have a tempo and a key."""
    bpm, keys, _ = facts.arrays(order)
    ok = mixable(bpm, keys)
    return compatible_share(transition_flags(bpm[ok], keys[ok], tolerance)) if ok.sum() >= 2 else None


def order_playlists(leaves: ClusterSet, tracks: pd.DataFrame, params: PlaylistOrderParams,
                    progress: Progress = no_progress) -> tuple[dict[str, LeafOrder], OrderReport]:
    """Every leaf's order (by leaf id) and the report comparing it with BPM-sorted and library order."""
    facts = TrackFacts.from_tracks(tracks)
    report = OrderReport(mode=params.playlist_order)
    orders: dict[str, LeafOrder] = {}
    total = max(len(leaves.clusters), 1)
    for n, cluster in enumerate(leaves.clusters, start=1):
        exemplars = [int(e["track_id"]) for e in cluster.examples if isinstance(e, dict) and "track_id" in e]
        result = order_leaf(list(cluster.track_ids), exemplars, facts, params)
        orders[cluster.id] = result
        report.leaves += 1
        bpm, keys, _ = facts.arrays(result.order)
        ok = mixable(bpm, keys)
        report.tracks_without_tempo_or_key += int((~ok).sum())
        if ok.sum() >= 2:
            playable = [t for t, good in zip(result.order, ok.tolist(), strict=True) if good]
            report.leaves_measured += 1
            report.leaves_mixed += params.playlist_order == "mix"
            report.pairs += len(playable) - 1
            p_bpm, p_keys, _ = facts.arrays(playable)
            report.compatible["order"] += int(transition_flags(p_bpm, p_keys, params.tempo_tolerance).sum())
            by_bpm = np.argsort(p_bpm, kind="stable")
            report.compatible["bpm_sorted"] += int(
                transition_flags(p_bpm[by_bpm], p_keys[by_bpm], params.tempo_tolerance).sum())
            library = sorted(range(len(playable)), key=lambda i: playable[i])
            report.compatible["library"] += int(
                transition_flags(p_bpm[library], p_keys[library], params.tempo_tolerance).sum())
        if n % 100 == 0 or n == total:
            progress(n / total, f"ordered {n}/{total} playlists ({params.playlist_order})")
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
