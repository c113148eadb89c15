"""Phase 6: final titles, rich descriptions and seven exemplar tracks for every leaf.

Each leaf's payload carries, besides its facet profile, what distinguishes it from the other leaves:
its facet values ranked by c-TF-IDF (class-based TF-IDF, as BERTopic labels topics without an LLM:
the share of the leaf's tracks carrying a value, times ``log(1 + A / f)`` where ``f`` is how often
the value occurs over all leaves and ``A`` the average number of values per leaf). The offline
solver titles a leaf from them; the model sees them as a hint. Titles are made unique over the
whole phase afterwards (both providers), with the leaf's next distinguishing value or its years.

Reference: clusters flattened in category order, batches of 5, 4 workers; per cluster the valid
track ids, its own tracks ranked (the reference: ``scored_search`` with the cluster's filters; here:
the track similarity model, each member's similarity to the leaf's centroid, so the exemplars are the
leaf's most typical tracks whatever its filters say), up to 30 candidates and a 7-track shortlist; a
failed batch keeps its descriptions and takes the shortlist.
The default profile sends one wave of evenly filled batches on 8 workers (``common.wave_chunks``:
about ``batch_size`` leaves a call, growing up to ``max_batch_size`` so the calls fit in one wave): the
same work in one round-trip whose wait is its longest call. Exemplars are always members of their
leaf: the LLM may only pick candidates, and missing picks are refilled from the shortlist (centrality
with artist diversity).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from collection_tree.core.arrays import sorted_unique
from collection_tree.core.clusters import Cluster, ClusterSet
from collection_tree.core.report import PhaseReport, figure
from collection_tree.core.similarity import TrackSimilarity
from collection_tree.llm.interface import LLM, LLMError
from collection_tree.phases.common import (
    LLMPhaseParams,
    Progress,
    call_batches,
    no_progress,
    param,
    run_batches,
)
from collection_tree.phases.leaf_profiles import (
    PROFILE_FACETS,
    LeafFacets,
    clean_text,
    number_or_none,
    record_list,
    record_text,
    record_year,
)
from collection_tree.tasks.describe_leaves import DESCRIBE_LEAVES, offline_description, pick_exemplars


@dataclass(frozen=True)
class LeafParams(LLMPhaseParams):
    batch_size: int = param(20, "Leaves per LLM call")
    # One wave is one round-trip: past workers x batch_size leaves the calls grow rather than make a second wave.
    max_batch_size: int = param(60, "Leaves per call at most when the calls grow to fit one wave of workers, "
                                    "evenly filled (0: fixed batches of batch_size, the last one short)")
    max_tokens: int = param(16384, "Answer token limit per call (room for a grown batch)")
    workers: int = param(8, "Parallel LLM calls")
    max_candidates: int = param(20, "Candidate tracks shown per leaf: its members most similar to its centroid "
                                    "(the exemplars are picked from these; the reference showed 30)")
    examples: int = param(7, "Exemplar tracks per leaf")

    PHASE: ClassVar[str] = "leaves"
    SEED: ClassVar[dict[str, Any]] = {"batch_size": 5, "max_batch_size": 0, "max_tokens": 8192, "workers": 4,
                                      "max_candidates": 30}  # the reference's values

    def validate(self) -> None:
        self.require_at_least(1, "batch_size", "workers", "max_tokens")
        self.require_batch_growth()


@dataclass(frozen=True)
class LeafReport(PhaseReport):
    leaves: int
    batches: int
    llm_calls: int = figure(hidden=True)  # the asset shows the client's own count
    serial_calls: int
    failed_batches: int
    fallback_leaves: int  # leaves on the shortlist fallback (their batch failed or left them out)
    examples_refilled: int  # leaves whose picks were topped up from the shortlist
    titles_made_unique: int  # leaves whose title repeated another's and got a distinguishing word
    batch_size: int = figure(hidden=True)
    workers: int = figure(hidden=True)
    tracks_in_leaves: int
    unplaced: int


# ------------------------------------------------------------------------------- track records
# Leaves holding less of the collection than this are counted from their own tracks' cells only
# (``TrackTable.leaf_facets``): reading every distinct cell of 30K tracks was a fifth of an update's tree step.
SUBSET_SHARE = 0.25
RECORD_COLUMNS = ("title", "artist", "year", "era", "comment", "country", "bpm", "energy", *PROFILE_FACETS)


class TrackRecords(Mapping[int, dict[str, Any]]):
    """Per-track records (title, artist, year, facets, comment) by id, each built on first use: an
    update describes a few leaves of a big collection. ``columns``: ``RECORD_COLUMNS`` as per-row lists
    (a missing column: ``None`` per row); ``row``: track id -> row (the last row of a repeated id)."""

    def __init__(self, columns: dict[str, list[Any]], row: dict[int, int]):
        self._row = row
        self._columns = columns
        self._built: dict[int, dict[str, Any]] = {}

    def __getitem__(self, track_id: int) -> dict[str, Any]:
        record = self._built.get(track_id)
        if record is None:
            i, columns = self._row[track_id], self._columns
            record = self._built[track_id] = {
                **self.brief(track_id),
                "era": record_text(columns["era"][i]), "comment": record_text(columns["comment"][i]),
                "country": clean_text(columns["country"][i]), "bpm": number_or_none(columns["bpm"][i]),
                "energy": number_or_none(columns["energy"][i]),
                **{f: record_list(columns[f][i]) for f in PROFILE_FACETS},
            }
        return record

    def gap_fields(self, track_id: int) -> dict[str, Any]:
        """The record's era and list facets alone, read as the record reads them and not kept: phase 7
        asks every track of the collection whether it lacks its leaf's dominant facets
        (``LeafGaps.lacks``), and a whole record per track was half of that."""
        i, columns = self._row[track_id], self._columns
        return {"era": record_text(columns["era"][i]), **{f: record_list(columns[f][i]) for f in PROFILE_FACETS}}

    def brief(self, track_id: int) -> dict[str, Any]:
        """The record's id, title, artist and year (without building the record)."""
        i, columns = self._row[track_id], self._columns
        return {"track_id": track_id, "title": record_text(columns["title"][i]),
                "artist": record_text(columns["artist"][i]), "year": record_year(columns["year"][i])}

    def __contains__(self, track_id: object) -> bool:
        return track_id in self._row

    def __iter__(self) -> Iterator[int]:
        return iter(self._row)

    def __len__(self) -> int:
        return len(self._row)


class TrackTable:
    """The tracks' records, the columns leaf profiles are counted from, and the track similarity model,
    read once per phase from the tracks frame (or given the model the caller already has). The model
    and the profile columns are built at their first use: phase 7 has no use for the model (building
    it was 4-5 s of that phase at 300K tracks)."""

    def __init__(self, tracks: pd.DataFrame, similarity: TrackSimilarity | None = None):
        self._tracks = tracks
        self._similarity = similarity
        ids = tracks["track_id"].astype("int64").tolist()
        self._row = {track_id: i for i, track_id in enumerate(ids)}
        self._columns = {c: tracks[c].tolist() if c in tracks.columns else [None] * len(ids) for c in RECORD_COLUMNS}
        self._facets: LeafFacets | None = None
        self._subset: tuple[np.ndarray, LeafFacets] | None = None  # the last leaves' own rows and their facets
        self.records = TrackRecords(self._columns, self._row)

    @property
    def similarity(self) -> TrackSimilarity:
        if self._similarity is None:
            self._similarity = TrackSimilarity(self._tracks)
        return self._similarity

    @property
    def facets(self) -> LeafFacets:
        if self._facets is None:
            self._facets = LeafFacets(self._columns)
        return self._facets

    def leaf_facets(self, members: Sequence[np.ndarray]) -> tuple[LeafFacets, list[np.ndarray]]:
        """The facets to count leaves from (their tracks' row positions) and the leaves in its rows:
        the whole collection's (read once; phases 6 and 7 count every leaf), or only the leaves' own
        rows when they hold under ``SUBSET_SHARE`` of the tracks (an update refreshes a few leaves of
        a large collection). The counts are the same either way: a leaf's profile reads only its own
        tracks, and its distinctive values compare it with the other leaves counted with it."""
        rows = sorted_unique(np.concatenate(list(members))) if len(members) else np.empty(0, dtype=np.int64)
        if self._facets is not None or len(rows) >= SUBSET_SHARE * len(self._row):
            return self.facets, list(members)
        if self._subset is None or not np.array_equal(self._subset[0], rows):
            picked = rows.tolist()
            self._subset = (rows, LeafFacets({c: [values[r] for r in picked] for c, values in self._columns.items()}))
        return self._subset[1], [np.searchsorted(rows, m) for m in members]

    def __contains__(self, track_id: int) -> bool:
        return track_id in self.records

    def valid(self, track_ids: Iterable[int]) -> list[int]:
        """The ids the tracks table has, as ints, in their order."""
        row = self._row
        return [t for t in map(int, track_ids) if t in row]

    def rows(self, track_ids: Iterable[int]) -> np.ndarray:
        """The rows of known track ids (``valid`` ones), in their order."""
        row = self._row
        return np.array([row[t] for t in track_ids], dtype=np.int64)

    def profiles(self, leaves: Iterable[Iterable[int]], with_artists: bool = True) -> list[dict[str, Any]]:
        """``LeafFacets.profiles`` of each leaf's valid tracks."""
        facets, members = self.leaf_facets([self.rows(self.valid(ids)) for ids in leaves])
        return facets.profiles(members, with_artists)

    def brief(self, track_id: int) -> dict[str, Any]:
        return self.records.brief(track_id)


# ------------------------------------------------------------------------------------ the phase
@dataclass
class _Prepared:
    cluster: Cluster
    entry: dict[str, Any]  # the payload entry
    shortlist: list[int]


def order_by_categories(clusters: ClusterSet, categories: dict[str, Any]) -> ClusterSet:
    """The leaves in category order (the reference flattens categories), only those some category
    holds (first category wins); tracks of clusters no category holds become ``unplaced``."""
    by_id = {c.id: c for c in clusters.clusters}
    ordered: list[Cluster] = []
    taken: set[str] = set()
    for category in categories.get("categories", []):
        for cluster_id in category.get("cluster_ids", []):
            if cluster_id in by_id and cluster_id not in taken:
                taken.add(cluster_id)
                ordered.append(by_id[cluster_id])
    unplaced = list(clusters.unplaced)
    for cluster in clusters.clusters:
        if cluster.id not in taken:
            unplaced += [{"track_id": t, "reason": f"its cluster {cluster.id} is in no category"}
                         for t in cluster.track_ids]
    return ClusterSet(clusters=ordered, all_track_ids=list(clusters.all_track_ids), unplaced=unplaced,
                      report=clusters.report)


def member_rankings(clusters: list[Cluster], table: TrackTable) -> list[list[tuple[int, float]]]:
    """Per cluster: its own (known) tracks with their similarity to its centroid, most typical first
    (ties: lower track id). All clusters scored in one pass."""
    valid = [np.asarray(table.valid(c.track_ids), dtype=np.int64) for c in clusters]
    if not valid:
        return []
    model = table.similarity
    members = np.concatenate(valid)
    owner = np.repeat(np.arange(len(valid)), [len(v) for v in valid])
    scores = model.scores_at(members, model.centroids([v.tolist() for v in valid]), owner)
    out = []
    start = 0
    for ids in valid:
        mine = scores[start: start + len(ids)]
        start += len(ids)
        order = np.lexsort((ids, -np.round(mine, 6)))
        out.append([(int(ids[i]), float(mine[i])) for i in order])
    return out


def prepare_leaf(cluster: Cluster, table: TrackTable, params: LeafParams,
                 ranking: list[tuple[int, float]] | None = None, profile: dict[str, Any] | None = None) -> _Prepared:
    """Valid ids, candidates (the members most similar to the leaf's centroid: ``ranking`` from
    ``member_rankings``), profile (``TrackTable.profiles``) and shortlist; the ranking and the profile
    are computed here when not given."""
    valid = table.valid(cluster.track_ids)
    ranking = (ranking if ranking is not None else member_rankings([cluster], table)[0])[: params.max_candidates]
    candidates = [{**table.brief(t), "score": round(score, 3)} for t, score in ranking]
    entry = {
        "cluster_id": cluster.id, "title": cluster.title or cluster.fallback_title,
        "description": cluster.description, "genre_context": cluster.genre_title,
        "scene_context": cluster.scene_title, "genre_lineage": cluster.genre_lineage,
        "scene_lineage": cluster.scene_lineage, "track_count": len(valid),
        "profile": profile if profile is not None else table.profiles([valid])[0], "candidates": candidates,
    }
    return _Prepared(cluster, entry, pick_exemplars(candidates, params.examples))


def unique_titles(leaves: list[Cluster], entries: list[dict[str, Any]]) -> int:
    """A title repeated (case-insensitive) stays with the larger leaf; the others take their next
    distinguishing value the title does not name yet, else their years. Returns the leaves renamed."""
    taken: set[str] = set()
    renamed = 0
    order = sorted(range(len(leaves)), key=lambda k: (-leaves[k].track_count, leaves[k].id))
    for k in order:
        title = leaves[k].title
        if title.casefold() in taken:
            title = distinguished(title, entries[k], taken)
            leaves[k] = dataclasses.replace(leaves[k], title=title)
            renamed += 1
        taken.add(title.casefold())
    return renamed


def distinguished(title: str, entry: dict[str, Any], taken: set[str]) -> str:
    """``title`` with a value of the leaf it does not mention yet (or its years) that makes it free."""
    words = title.casefold()
    options = [value for facet in ("descriptors", "scene_tags", "country", "genre")
               for value, _ in entry.get("distinctive", {}).get(facet, []) if value.casefold() not in words]
    years = entry.get("profile", {}).get("years") or []
    if len(years) == 2 and not re.search(r"\d", title):
        options.append(f"{years[0]}-{years[1]}" if years[0] != years[1] else str(years[0]))
    for option in options:
        candidate = f"{title} ({option})"
        if candidate.casefold() not in taken:
            return candidate
    n = 2
    while f"{title} ({_ordinal(n)} shelf)".casefold() in taken:
        n += 1
    return f"{title} ({_ordinal(n)} shelf)"


def _ordinal(n: int) -> str:
    words = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"]
    return words[n - 1] if n <= len(words) else f"{n}th"


def describe_leaves(
    clusters: ClusterSet,
    tracks: pd.DataFrame | TrackTable,
    llm: LLM,
    params: LeafParams,
    progress: Progress = no_progress,
) -> ClusterSet:
    """Every cluster with its final title, description and exemplars ([{track_id, title, artist,
    year}], all members of the cluster). ``unplaced`` is carried through; ``report`` has the phase's
    figures (calls, serial rounds, fallbacks, refills)."""
    table = tracks if isinstance(tracks, TrackTable) else TrackTable(tracks)
    members = [table.rows(table.valid(c.track_ids)) for c in clusters.clusters]
    facets, members = table.leaf_facets(members)
    prepared = [prepare_leaf(c, table, params, ranking, profile) for c, ranking, profile in zip(
        clusters.clusters, member_rankings(clusters.clusters, table), facets.profiles(members), strict=True)]
    terms = facets.distinctive(members)
    for prep, distinct in zip(prepared, terms, strict=True):
        prep.entry["distinctive"] = distinct
    progress(0.02, f"{len(prepared)} leaves prepared")
    batches = call_batches(prepared, params.batch_size, params.workers, params.max_batch_size)

    def work(batch: list[_Prepared]) -> tuple[dict[str, dict[str, Any]], bool]:
        payload = {"examples_per_leaf": params.examples, "clusters": [p.entry for p in batch]}
        try:
            answer = llm.call(dataclasses.replace(DESCRIBE_LEAVES.request(payload), max_tokens=params.max_tokens))
        except LLMError:
            return {}, False
        return {item["cluster_id"]: item for item in answer["leaves"]}, True

    results = run_batches(batches, work, workers=params.workers, stop_event=llm.stop_event,
                          progress=lambda f, m: progress(0.02 + 0.98 * f, m), label="leaf batch")
    out: list[Cluster] = []
    failed_batches = fallback_leaves = refilled = 0
    for batch, (answers, ok) in zip(batches, results, strict=True):
        failed_batches += not ok
        for prep in batch:
            item = answers.get(prep.cluster.id)
            if item is None:
                fallback_leaves += 1
            elif len(item["examples"]) < min(params.examples, len(prep.entry["candidates"])):
                refilled += 1
            out.append(finish_leaf(prep, item, table, params))
    renamed = unique_titles(out, [p.entry for batch in batches for p in batch])
    report = LeafReport(
        leaves=len(out), batches=len(batches), llm_calls=len(batches),
        serial_calls=math.ceil(len(batches) / params.workers) if batches else 0,
        failed_batches=failed_batches, fallback_leaves=fallback_leaves,
        examples_refilled=refilled, titles_made_unique=renamed, batch_size=params.batch_size,
        workers=params.workers, tracks_in_leaves=sum(c.track_count for c in out), unplaced=len(clusters.unplaced),
    )
    progress(1.0, f"{len(out)} leaves described; {fallback_leaves} on the shortlist fallback")
    return ClusterSet(clusters=out, all_track_ids=list(clusters.all_track_ids),
                      unplaced=list(clusters.unplaced), report=report)


def finish_leaf(prep: _Prepared, item: dict[str, Any] | None, table: TrackTable,
                params: LeafParams) -> Cluster:
    """Apply an answer (or the fallback when ``item`` is None): picks first, then the shortlist."""
    want = min(params.examples, len(prep.entry["candidates"]))
    chosen = list(item["examples"]) if item else []
    for track_id in prep.shortlist:
        if len(chosen) >= want:
            break
        if track_id not in chosen:
            chosen.append(track_id)
    cluster = prep.cluster
    if item:
        title, description = item["title"] or prep.entry["title"], item["description"] or cluster.description
    else:  # reference fallback: keep phase 2/4's text; a blank one gets the deterministic card
        title = prep.entry["title"]
        description = cluster.description or offline_description(prep.entry, chosen)
    return dataclasses.replace(cluster, title=title, description=description,
                               examples=[table.brief(t) for t in chosen[:want]])
