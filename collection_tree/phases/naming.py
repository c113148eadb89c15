"""Phase 2: name every seed cluster (working title, description, coherence 1-10, poor fits) in parallel
batches: on the mechanical tier by default (phase 6 writes the public titles and descriptions on the
creative tier), on the creative tier in the seed profile (the reference).

Reference behaviour (seed profile): batches of 8 clusters, 4 workers, 20 sample tracks per cluster
(title, artist, year, comment[:150]), genre/scene context[:200], max_tokens 8192. A batch whose call
fails (``LLMError``) falls back to ``"{genre_title} × {scene_title}"`` with a description made from
both contexts; such clusters get ``named_by="fallback"`` and ``coherence=None`` (not measured; the
dedup of phase 3 ranks them as a neutral 5). A cluster the answer left out falls back the same way.

Default profile (issue 17): one wave of evenly filled calls (``common.wave_chunks``: about
``batch_size`` clusters a call, growing up to ``max_batch_size`` so the calls fit in one wave of
``workers``), and brief working descriptions (at most ``brief_description_chars`` characters, whole
sentences): phase 6 writes the public descriptions, and phases 3-5 read only the first 150-300
characters of these, so the rest of a 3-4 sentence description was output tokens (the wave's wait) that
nobody read. Clusters go out as short handles (``c1``, ``c2``, ...; ``short_ids``), mapped back to their
ids: the answer echoes a handle, not a 30-character id. ``StopRequested`` is never a batch failure:
it propagates, and no new batch starts.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import pandas as pd

from collection_tree.core.clusters import Cluster, ClusterSet
from collection_tree.core.report import PhaseReport, figure
from collection_tree.llm.interface import LLM, LLMError
from collection_tree.phases.common import (
    LLMPhaseParams,
    Progress,
    TrackBriefs,
    briefs,
    call_batches,
    no_progress,
    param,
    run_batches,
    sample_ids,
    track_lookup,
)
from collection_tree.tasks.name_clusters import REFERENCE_TASK, TASK

log = logging.getLogger(__name__)

FACET_VALUES = 8  # per filter key in the payload: enough to read the cluster, short enough to stay cheap


@dataclass(frozen=True)
class NamingParams(LLMPhaseParams):
    batch_size: int = param(40, "Clusters per LLM call (working titles on the mechanical tier: one wave of 8 "
                                "calls on ~300 clusters)")
    workers: int = param(8, "Parallel calls")
    # One wave is one round-trip: past 8 x batch_size clusters the calls grow rather than make a second wave.
    max_batch_size: int = param(80, "Clusters per call at most when the calls grow to fit one wave of workers, "
                                    "evenly filled (0: fixed batches of batch_size, the last one short)")
    sample_tracks: int = param(20, "Sample tracks shown per cluster")
    comment_chars: int = param(150, "Comment characters per sample track")
    context_chars: int = param(200, "Characters of each leaf description")
    max_tokens: int = param(16384, "Answer token limit per call")
    # Phases 3-5 read at most the first 150-300 characters of a working description; phase 6 writes the
    # public one. 0: the reference's 3-4 sentences.
    # A seed cluster id ("rock-nu-metal__usa-metal-2000-2004") is ~10 output tokens echoed per answer.
    short_ids: bool = param(True, "Clusters go out as short handles (c1, c2, ...) mapped back to their ids "
                                  "(false: their ids, as the reference)")
    brief_description_chars: int = param(200, "Working descriptions of at most this many characters, whole "
                                               "sentences (0: the reference's 3-4 sentences)")
    # Phase 6 writes the public titles and descriptions on the creative tier, so the creative model
    # writing them here too was paid twice (issue 17).
    tier: str = param("mechanical", "Model tier of the working titles, coherence and poor fits: mechanical or "
                                    "creative")

    PHASE: ClassVar[str] = "naming"
    # the reference's values
    SEED: ClassVar[dict[str, Any]] = {"batch_size": 8, "max_batch_size": 0, "workers": 4, "max_tokens": 8192,
                                      "brief_description_chars": 0, "short_ids": False, "tier": "creative"}

    def validate(self) -> None:
        self.require_at_least(1, "batch_size", "workers", "sample_tracks", "max_tokens")
        self.require_tier("tier")
        self.require_batch_growth()
        if self.brief_description_chars < 0:
            raise ValueError("brief_description_chars must be >= 0")


@dataclass(frozen=True)
class NamingReport(PhaseReport):
    clusters: int
    batch_size: int = figure(hidden=True)
    workers: int = figure(hidden=True)
    batches: int
    calls: int
    serial_calls: int
    failed_batches: int
    named_by: dict[str, int]  # llm | offline | fallback -> clusters
    coherence: dict[str, int]  # coherence score (or "none") -> clusters
    poor_fits: int
    retitled_duplicates: int


def answer_source(llm: Any) -> str:
    """``named_by`` for an answered cluster: "offline" when the deterministic provider answered."""
    provider = getattr(getattr(getattr(llm, "client", None), "provider", None), "name", "")
    return "offline" if provider == "offline" else "llm"


def cluster_payload(cluster: Cluster, lookup: TrackBriefs, params: NamingParams) -> dict[str, Any]:
    facets = {key: (value[:FACET_VALUES] if isinstance(value, list) and not key.endswith("_range") else value)
              for key, value in cluster.filters.items()}
    return {
        "cluster_id": cluster.id,
        "genre_context": {"title": cluster.genre_title,
                          "description": cluster.genre_description[: params.context_chars]},
        "scene_context": {"title": cluster.scene_title,
                          "description": cluster.scene_description[: params.context_chars]},
        "facets": facets,
        "track_count": cluster.track_count,
        "sample_tracks": briefs(lookup, sample_ids(cluster.track_ids, params.sample_tracks), params.comment_chars),
    }


def fallback_description(cluster: Cluster, context_chars: int = 200) -> str:
    parts = [f"Where {cluster.genre_title} meets {cluster.scene_title}."]
    parts += [d[:context_chars].strip() for d in (cluster.genre_description, cluster.scene_description) if d.strip()]
    return " ".join(parts)


def apply_fallback(cluster: Cluster, context_chars: int = 200) -> Cluster:
    return replace(cluster, title=cluster.fallback_title, description=fallback_description(cluster, context_chars),
                   coherence=None, poor_fit_track_ids=[], named_by="fallback")


def _without_years(text: str) -> str:
    """"Berlin Dub Techno 1997-2001" -> "Berlin Dub Techno": a span beside the title's era could contradict it."""
    return " ".join(re.sub(r"\b\d{4}(?:\s*[-–]\s*\d{4})?s?\b", " ", text).split())


def distinct_titles(clusters: list[Cluster]) -> int:
    """Later clusters repeating an earlier title get their scene (else their id) appended, so no two
    playlists share a name; returns how many were retitled."""
    seen: set[str] = set()
    changed = 0
    for cluster in clusters:
        title = cluster.title
        if title.casefold() in seen:
            for extra in (_without_years(cluster.scene_title), cluster.genre_title, cluster.id):
                candidate = f"{cluster.title} ({extra})"
                if extra and candidate.casefold() not in seen:
                    title = candidate
                    break
            changed += 1
        cluster.title = title
        seen.add(title.casefold())
    return changed


def name_clusters(
    seeds: list[Cluster],
    tracks: pd.DataFrame,
    llm: LLM,
    params: NamingParams | None = None,
    progress: Progress = no_progress,
) -> ClusterSet:
    """Named clusters; ``all_track_ids`` is every track of ``tracks`` (the caller passes the
    collection in scope: all tracks, or in test mode only the tracks of the capped seeds)."""
    params = params or NamingParams.for_profile("default")
    lookup = track_lookup(tracks)
    source = answer_source(llm)
    batches = call_batches(seeds, params.batch_size, params.workers, params.max_batch_size)
    fatal = threading.Event()  # a bad key fails every call the same way: stop asking

    def work(batch: list[Cluster]) -> tuple[dict[str, dict[str, Any]], str]:
        if fatal.is_set():
            return {}, "skipped after a fatal LLM error"
        payload: dict[str, Any] = {"comment_chars": params.comment_chars}
        if params.brief_description_chars:
            payload["description_chars"] = params.brief_description_chars
        # handle -> cluster id: the answer may name only the handles of this call (the normaliser drops others)
        handles = {f"c{i}" if params.short_ids else c.id: c.id for i, c in enumerate(batch, 1)}
        payload["clusters"] = [{**cluster_payload(c, lookup, params), "cluster_id": handle}
                               for handle, c in zip(handles, batch, strict=True)]
        task = TASK if params.brief_description_chars else REFERENCE_TASK
        request = replace(task.request(payload, tier=params.tier), max_tokens=params.max_tokens)
        try:
            answer = llm.call(request)
        except LLMError as exc:  # StopRequested is not an LLMError: it propagates
            if getattr(exc, "fatal", False):
                fatal.set()
            log.warning("naming batch of %d clusters fell back: %s", len(batch), exc)
            return {}, str(exc)
        return {handles[a["cluster_id"]]: a for a in answer["clusters"] if a["cluster_id"] in handles}, ""

    progress(0.0, f"{len(seeds)} clusters in {len(batches)} batches of <= {params.batch_size}, "
                  f"{params.workers} workers")
    results = run_batches(batches, work, workers=params.workers, stop_event=llm.stop_event, progress=progress,
                          label="naming batch")

    named: list[Cluster] = []
    failed_batches = 0
    for batch, (answers, error) in zip(batches, results, strict=True):
        failed_batches += bool(error)
        for cluster in batch:
            answer = answers.get(cluster.id)
            if answer is None:
                named.append(apply_fallback(cluster, params.context_chars))
                continue
            named.append(replace(
                cluster, title=answer["title"],
                description=answer["description"] or fallback_description(cluster, params.context_chars),
                coherence=float(answer["coherence_score"]), poor_fit_track_ids=list(answer["poor_fit_track_ids"]),
                named_by=source,
            ))
    retitled = distinct_titles(named)
    all_ids = sorted({int(t) for t in tracks["track_id"].tolist()})
    coherence = Counter(str(int(c.coherence)) if c.coherence is not None else "none" for c in named)
    report = NamingReport(
        clusters=len(named),
        batch_size=params.batch_size,
        workers=params.workers,
        batches=len(batches),
        calls=len(batches) - sum(1 for _, error in results if error.startswith("skipped")),
        serial_calls=math.ceil(len(batches) / max(params.workers, 1)),
        failed_batches=failed_batches,
        named_by=dict(Counter(c.named_by for c in named)),
        coherence=dict(sorted(coherence.items(), key=lambda kv: (kv[0] == "none", kv[0].zfill(2)))),
        poor_fits=sum(len(c.poor_fit_track_ids) for c in named),
        retitled_duplicates=retitled,
    )
    progress(1.0, f"{len(named)} clusters named ({report.named_by}), {failed_batches} batches fell back")
    return ClusterSet(clusters=named, all_track_ids=all_ids, report=report)
