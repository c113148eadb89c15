"""Phase 7: per-track metadata suggestions (genre refinement, scene tags, descriptors, era), stored
for review and never applied to the tracks.

Seed profile = the reference: one creative call per leaf with its first 30 tracks (comments cut to
200 characters), 4 workers, suggestions kept at confidence >= 0.7.

Default profile, tiered and packed (the reference's own "Phase 7 Cost" fix list):
1. skip tracks that already carry every dominant facet of their leaf (nothing to suggest), and
   leaves left with no such track;
2. pack several leaves into one call (up to ~120 tracks) and ask the mechanical tier first; leaves
   with low coherence (phase 4 quality or phase 2 coherence below 5) go straight to the creative tier;
3. escalate to the creative tier only the tracks whose mechanical answer landed just below the threshold
   ([0.6, 0.7), at most 5% of the reviewed tracks), or whose mechanical call failed. Round 2 is the only
   serial wait after round 1.

Each round is one wave of evenly packed calls (issue 17: a wave waits for its longest call): the round's
calls, both tiers together, are as many as fill whole waves of ``workers`` (fewer when a call would hold
under ``min_tracks_per_call`` tracks), shared between the tiers by their expected answer size, and each
tier's leaves (in order) are cut into calls of about equal expected answer size (a group per leaf plus an
id per track: ``tasks.suggest_metadata.answer_tokens``), each holding <= ``max_tracks_per_call`` tracks.

Default answers are lean (issue 17): groups of track ids sharing one suggestion, no reasoning,
``max_tokens`` sized from the request; the evidence shown to reviewers is written here from the leaf's
profile (``tasks.suggest_metadata.evidence``). The seed profile keeps the first version's per-track answers
with the model's reasoning (``suggest_metadata_reference``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import pandas as pd

from collection_tree.core.clusters import Cluster, ClusterSet
from collection_tree.core.report import PhaseReport, figure
from collection_tree.llm.interface import LLM, LLMError, Tier
from collection_tree.phases.common import LLMPhaseParams, Progress, no_progress, param, run_batches
from collection_tree.phases.leaves import TrackTable
from collection_tree.tasks.suggest_metadata import (
    SUGGEST_METADATA,
    SUGGEST_METADATA_REFERENCE,
    LeafGaps,
    answer_tokens,
    evidence,
    max_tokens_for,
    per_track,
)

FIELDS = ("genre_refinement", "scene_tags", "descriptors", "era_refinement")
HISTOGRAM_BINS = ((0.7, 0.8), (0.8, 0.9), (0.9, 1.0001))


@dataclass(frozen=True)
class EnrichParams(LLMPhaseParams):
    tiered: bool = param(True, "Mechanical tier first, creative only for the grey zone (false: the reference's "
                               "one creative call per leaf)")
    workers: int = param(8, "Parallel LLM calls")
    tracks_per_cluster: int = param(30, "Tracks reviewed per leaf at most")
    comment_chars: int = param(200, "Comment characters per track")
    min_confidence: float = param(0.7, "Keep suggestions at or above this confidence")
    # A re-read by the stronger model moves a confidence by a few points, not by 0.2: answers further
    # below the threshold stay dropped.
    grey_floor: float = param(0.6, "Mechanical answers from this confidence up to min_confidence are asked "
                                   "again of the creative tier")
    dominant_share: float = param(0.5, "Share of a leaf's tracks that makes a facet value dominant (tracks "
                                       "carrying every dominant value are skipped)")
    # Lean answers (a few output tokens a track) let a call hold many tracks: fewer calls and waves of calls.
    max_tracks_per_call: int = param(600, "Tracks packed into one call at most")
    # A call carries the system prompt and the leaves' profiles: splitting a small round finer costs input.
    min_tracks_per_call: int = param(20, "A round is split into fewer calls than workers rather than into calls "
                                         "of fewer tracks than this")
    # Tiny leaves: the track cap, not this, should bound a call.
    max_clusters_per_call: int = param(120, "Leaves packed into one call at most")
    low_coherence: float = param(5.0, "Leaves scored below this go straight to the creative tier")
    # Escalation is where the phase's money goes; failed calls always escalate.
    max_escalated_share: float = param(0.05, "Grey-zone answers re-asked of the creative tier, at most this share "
                                             "of the reviewed tracks (the most confident first)")
    lean_answers: bool = param(True, "Answers as groups of track ids sharing a suggestion, no model reasoning, "
                                     "max_tokens sized from the request (false: the first version's per-track "
                                     "answers with a sentence of reasoning each)")

    PHASE: ClassVar[str] = "enrichment"
    SEED: ClassVar[dict[str, Any]] = {"tiered": False, "workers": 4, "lean_answers": False}  # the reference's values

    def validate(self) -> None:
        self.require_at_least(1, "workers", "tracks_per_cluster", "max_tracks_per_call", "max_clusters_per_call",
                              "min_tracks_per_call")
        for name in ("min_confidence", "grey_floor", "dominant_share", "max_escalated_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")


@dataclass(frozen=True)
class EnrichReport(PhaseReport):
    profile: str = figure(hidden=True)
    leaves: int
    leaves_reviewed: int
    leaves_with_suggestions: int
    tracks_reviewed: int
    tracks_skipped_complete: int  # carried every dominant facet of their leaf already
    tracks_escalated: int  # asked again of the creative tier
    grey_not_escalated: int  # grey-zone answers over the escalation budget (dropped)
    llm_calls: int = figure(hidden=True)  # the asset shows the client's own count
    calls_by_tier: dict[str, int]
    rounds: int
    serial_calls: int
    failed_calls: dict[str, int]
    suggestions: int
    dropped_low_confidence: int
    by_field: dict[str, int]
    confidence_histogram: dict[str, int]
    min_confidence: float = figure(hidden=True)


@dataclass
class _Leaf:
    cluster: Cluster
    profile: dict[str, Any]
    track_ids: list[int]  # the tracks to review


@dataclass
class _Call:
    tier: Tier
    leaves: list[_Leaf]


def _entry(leaf: _Leaf, table: TrackTable, params: EnrichParams, track_ids: list[int]) -> dict[str, Any]:
    c = leaf.cluster
    tracks = []
    for t in track_ids:
        r = table.records[t]
        tracks.append({"track_id": t, "title": r["title"], "artist": r["artist"], "year": r["year"],
                       "genre": r["genre"], "scene_tags": r["scene_tags"], "descriptors": r["descriptors"],
                       "era": r["era"], "comment": r["comment"][: params.comment_chars]})
    return {"cluster_id": c.id, "title": c.title or c.fallback_title, "description": c.description,
            "genre_context": c.genre_title, "scene_context": c.scene_title, "profile": leaf.profile,
            "tracks": tracks}


def _weight(leaf: _Leaf) -> int:
    return answer_tokens(1, len(leaf.track_ids))


def pack(leaves: list[_Leaf], tier: Tier, max_tracks: int, max_clusters: int) -> list[_Call]:
    """Consecutive leaves share a call while it holds <= max_tracks tracks and <= max_clusters leaves."""
    calls: list[_Call] = []
    size = 0
    for leaf in leaves:
        n = len(leaf.track_ids)
        if not calls or size + n > max_tracks or len(calls[-1].leaves) >= max_clusters:
            calls.append(_Call(tier, []))
            size = 0
        calls[-1].leaves.append(leaf)
        size += n
    return calls


def split_evenly(leaves: list[_Leaf], parts: int) -> list[list[_Leaf]]:
    """Consecutive runs of leaves, ``parts`` at most, of about equal expected answer size: a leaf goes to
    the part its midpoint (in cumulative size) falls in."""
    weights = [_weight(leaf) for leaf in leaves]
    total = sum(weights) or 1
    runs: list[list[_Leaf]] = [[] for _ in range(parts)]
    done = 0
    for leaf, weight in zip(leaves, weights, strict=True):
        runs[min(parts - 1, int((done + weight / 2) * parts / total))].append(leaf)
        done += weight
    return [run for run in runs if run]


def pack_wave(tiers: list[tuple[Tier, list[_Leaf]]], params: EnrichParams) -> list[_Call]:
    """One round's calls, the tiers together: as many as fill whole waves of ``workers`` (fewer when a
    call would hold under ``min_tracks_per_call`` tracks), shared between the tiers by expected answer
    size (each tier with leaves gets one at least), each tier's leaves cut into calls of about equal
    expected answer size within the track and leaf caps."""
    tiers = [(tier, leaves) for tier, leaves in tiers if leaves]
    if not tiers:
        return []
    tracks = sum(len(leaf.track_ids) for _, leaves in tiers for leaf in leaves)
    waves = math.ceil(tracks / (params.workers * params.max_tracks_per_call))
    total = max(len(tiers), min(waves * params.workers, tracks // params.min_tracks_per_call))
    weights = [sum(_weight(leaf) for leaf in leaves) for _, leaves in tiers]
    shares = [max(1, math.floor(total * w / sum(weights))) for w in weights]
    by_remainder = sorted(range(len(tiers)), key=lambda i: -(total * weights[i] / sum(weights) - shares[i]))
    for i in by_remainder[: max(0, total - sum(shares))]:
        shares[i] += 1
    calls: list[_Call] = []
    for (tier, leaves), share in zip(tiers, shares, strict=True):
        for run in split_evenly(leaves, share):  # the caps split a run only when a wave cannot hold the round
            calls += pack(run, tier, params.max_tracks_per_call, params.max_clusters_per_call)
    return calls


def _coherence(cluster: Cluster) -> float | None:
    return cluster.quality_score if cluster.quality_score is not None else cluster.coherence


def suggest_metadata(
    leaves: ClusterSet,
    tracks: pd.DataFrame | TrackTable,
    llm: LLM,
    params: EnrichParams,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """``{"suggestions": {cluster_id: [{track_id, suggestions{...}, confidence, reasoning}]},
    "report": EnrichReport}``; every leaf id is a key (an empty list when nothing passed)."""
    table = tracks if isinstance(tracks, TrackTable) else TrackTable(tracks)
    prepared: list[_Leaf] = []
    skipped_tracks = 0
    valids = [table.valid(c.track_ids) for c in leaves.clusters]
    facets, members = table.leaf_facets([table.rows(v) for v in valids])
    profiles = facets.profiles(members, with_artists=False)
    for cluster, valid, profile in zip(leaves.clusters, valids, profiles, strict=True):
        if params.tiered:
            lacking = LeafGaps(profile, params.dominant_share)
            gaps = [t for t in valid if lacking.lacks(table.records.gap_fields(t))]
            skipped_tracks += len(valid) - len(gaps)
            valid = gaps
        if valid:
            prepared.append(_Leaf(cluster, profile, valid[: params.tracks_per_cluster]))
    if params.tiered:
        low_ids = {p.cluster.id for p in prepared
                   if (score := _coherence(p.cluster)) is not None and score < params.low_coherence}
        low = [p for p in prepared if p.cluster.id in low_ids]
        rest = [p for p in prepared if p.cluster.id not in low_ids]
        first = pack_wave([("mechanical", rest), ("creative", low)], params)
    else:
        first = [_Call("creative", [p]) for p in prepared]
    progress(0.02, f"{sum(len(p.track_ids) for p in prepared)} tracks of {len(prepared)} leaves to review "
                   f"in {len(first)} calls; {skipped_tracks} tracks carry their leaf's facets already")

    kept: dict[int, dict[str, Any]] = {}
    grey: dict[str, list[int]] = {}  # cluster id -> track ids for the creative tier
    maybe: list[tuple[float, int, str]] = []  # grey-zone answers: (confidence, track id, cluster id)
    stats: Counter[str] = Counter()

    def run(calls: list[_Call], band: tuple[float, float], label: str) -> None:
        lo, hi = band
        outcomes = run_batches(calls, _caller(llm, table, params), workers=params.workers,
                               stop_event=llm.stop_event, label=label,
                               progress=lambda f, m: progress(lo + (hi - lo) * f, m))
        for call, (items, ok) in zip(calls, outcomes, strict=True):
            stats[f"calls_{call.tier}"] += 1
            if not ok:
                stats[f"failed_{call.tier}"] += 1
                if call.tier == "mechanical":  # the creative tier gets a second chance
                    for leaf in call.leaves:
                        grey.setdefault(leaf.cluster.id, []).extend(leaf.track_ids)
                continue
            owner = {t: leaf for leaf in call.leaves for t in leaf.track_ids}
            for item in items:
                if item["confidence"] >= params.min_confidence:
                    # lean answers: the evidence is the phase's own reading of the leaf, not model prose
                    kept[item["track_id"]] = item if "reasoning" in item else {
                        **item, "reasoning": evidence(item["suggestions"], owner[item["track_id"]].profile)}
                elif call.tier == "mechanical" and params.tiered and item["confidence"] >= params.grey_floor:
                    maybe.append((item["confidence"], item["track_id"], owner[item["track_id"]].cluster.id))
                else:
                    stats["dropped_low_confidence"] += 1

    run(first, (0.02, 0.8 if params.tiered else 1.0), "enrichment call")
    budget = math.ceil(params.max_escalated_share * sum(len(p.track_ids) for p in prepared))
    maybe.sort(key=lambda m: (-m[0], m[1]))
    for _confidence, track_id, cluster_id in maybe[:budget]:
        grey.setdefault(cluster_id, []).append(track_id)
    stats["dropped_low_confidence"] += max(len(maybe) - budget, 0)
    stats["grey_over_budget"] = max(len(maybe) - budget, 0)
    second: list[_Call] = []
    if grey:
        again = [_Leaf(p.cluster, p.profile, sorted(set(grey[p.cluster.id]), key=p.track_ids.index))
                 for p in prepared if p.cluster.id in grey]
        second = pack_wave([("creative", again)], params)
        run(second, (0.8, 1.0), "escalation call")
    out: dict[str, list[dict[str, Any]]] = {c.id: [] for c in leaves.clusters}
    owner_of = {t: p.cluster.id for p in prepared for t in p.track_ids}
    for track_id in sorted(kept, key=lambda t: (owner_of[t], t)):
        out[owner_of[track_id]].append(kept[track_id])
    for items in out.values():
        items.sort(key=lambda i: i["track_id"])
    report = _report(out, stats, prepared, (len(first), len(second)), grey, skipped_tracks, params)
    progress(1.0, f"{report.suggestions} suggestions kept from {report.llm_calls} calls")
    return {"suggestions": out, "report": report}


def _caller(llm: LLM, table: TrackTable, params: EnrichParams) -> Callable[[_Call], tuple[list[dict], bool]]:
    def work(call: _Call) -> tuple[list[dict[str, Any]], bool]:
        payload = {"min_confidence": params.min_confidence,
                   "clusters": [_entry(leaf, table, params, leaf.track_ids) for leaf in call.leaves]}
        if params.lean_answers:
            request = replace(SUGGEST_METADATA.request(payload, tier=call.tier), max_tokens=max_tokens_for(payload))
        else:
            request = SUGGEST_METADATA_REFERENCE.request(payload, tier=call.tier)
        try:
            answer = llm.call(request)
        except LLMError:
            return [], False
        return (per_track(answer) if params.lean_answers else answer["tracks"]), True

    return work


def _report(out: dict[str, list[dict[str, Any]]], stats: Counter[str], prepared: list[_Leaf],
            rounds: tuple[int, int], grey: dict[str, list[int]], skipped: int, params: EnrichParams) -> EnrichReport:
    items = [i for group in out.values() for i in group]
    by_field = {f: sum(bool(i["suggestions"][f]) for i in items) for f in FIELDS}
    histogram = {f"{lo:.1f}-{min(hi, 1.0):.1f}": sum(lo <= i["confidence"] < hi for i in items)
                 for lo, hi in HISTOGRAM_BINS}
    calls_by_tier = {"mechanical": stats["calls_mechanical"], "creative": stats["calls_creative"]}
    return EnrichReport(
        profile="default" if params.tiered else "seed",
        leaves=len(out), leaves_reviewed=len(prepared),
        leaves_with_suggestions=sum(bool(v) for v in out.values()),
        tracks_reviewed=sum(len(p.track_ids) for p in prepared), tracks_skipped_complete=skipped,
        tracks_escalated=sum(len(v) for v in grey.values()),
        grey_not_escalated=stats["grey_over_budget"],
        llm_calls=sum(calls_by_tier.values()), calls_by_tier=calls_by_tier,
        rounds=sum(1 for n in rounds if n),
        serial_calls=sum(math.ceil(n / params.workers) for n in rounds),
        failed_calls={"mechanical": stats["failed_mechanical"], "creative": stats["failed_creative"]},
        suggestions=len(items), dropped_low_confidence=stats["dropped_low_confidence"],
        by_field=by_field, confidence_histogram=histogram, min_confidence=params.min_confidence,
    )
