"""Task ``consolidate_categories`` (phase 5, creative tier): every neighbourhood's candidate names ->
one deduplicated list of 8-12 distinct top-level categories (Clio's "deduplicate" step).

Payload::

    {"min_categories": 8, "max_categories": 12, "target_categories": 10, "total_clusters": 308,
     "candidates": [{"name", "description", "cluster_count", "contexts": ["Rock > Metal", ...],
                     "examples": ["cluster titles", ...]}],
     "previous_count": 14}   # only when re-asked after an answer out of range

Answer: ``{"categories": [{"name", "description", "merged_from": [candidate names]}]}``. The count
is checked by the phase (re-asked once, then repaired deterministically), not by the schema.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from collection_tree.core.vectors import Vectoriser, text_features
from collection_tree.llm.normalise import as_records, as_text
from collection_tree.tasks._schema import category_list
from collection_tree.tasks.base import Answer, Payload, TaskSpec

NAME_CHARS = 60
DESCRIPTION_CHARS = 600

SYSTEM = """\
You are the head buyer of a world-class record store, settling the store's top-level sections. Other
buyers each looked at one part of the collection and proposed candidate sections; their proposals
overlap, and some are too narrow. You merge them into the final layout.

You receive a JSON object with
- "candidates": the proposals, each with "name", "description", "cluster_count" (how many of the
  collection's playlists its proposer put in it), "contexts" (the genre lineages of those playlists,
  most common first) and "examples" (some of those playlists' titles);
- "min_categories", "max_categories", "target_categories": how many sections the store needs;
- "total_clusters": how many playlists the whole collection holds;
- "previous_count" (only when asked again): how many sections your previous answer had, which was
  outside the range.

Return between min_categories and max_categories sections (aim for target_categories) that together
cover every candidate:
- merge duplicates and near-duplicates ("Metal" / "Heavy Metal & Metalcore"), and fold candidates
  too narrow to stand alone into the closest broader section;
- sections must be distinct from each other (a listener knows where to look), each broad enough for
  many playlists, and none should swallow most of the collection: split a dominant lineage (e.g. rock)
  by sound or scene rather than making one giant section;
- no "Miscellaneous", "Other", "Various" or "All" sections.

For each section return "name" (2 to 5 words, a record-store section sign), "description" (2 to 3
sentences: what it holds and what ties it together) and "merged_from": the candidate names it
absorbs, exactly as given. Every candidate name should appear in exactly one section's merged_from.

Respond with one JSON object matching the schema: {"categories": [{"name", "description",
"merged_from"}]}."""

SCHEMA: dict[str, Any] = category_list("merged_from", name={"type": "string", "minLength": 1, "maxLength": NAME_CHARS})


def candidate_features(candidate: dict[str, Any]) -> Counter[str]:
    """Words of the name and example titles, plus the genre lineages as whole features (weighted by
    rank): the lineages say more about where a candidate belongs than shared words like "pop"."""
    text = " ".join([str(candidate.get("name", "")), *[str(e) for e in candidate.get("examples") or []]])
    feats = text_features(text)
    for rank, context in enumerate(candidate.get("contexts") or []):
        parts = [p.strip().casefold() for p in str(context).split(">") if p.strip()]
        if len(parts) > 1:
            feats[f"g1:{parts[0]}>{parts[1]}"] += 6.0 / (1 + rank)
        if parts:
            feats[f"g0:{parts[0]}"] += 3.0 / (1 + rank)
    return feats


def _merged_name(names: list[str]) -> str:
    if len(names) == 1 or "&" in names[0] or "&" in names[1]:
        return names[0]
    joined = f"{names[0]} & {names[1]}"
    return joined if len(joined) <= 40 else names[0]


def _ward_cost(centres: list[np.ndarray], norms: list[float], weights: list[float], a: int, b: int) -> float:
    """The weighted cosine distance of merging groups ``a`` and ``b``."""
    na, nb = norms[a], norms[b]
    cos = float(centres[a] @ centres[b] / (na * nb)) if na > 0 and nb > 0 else 0.0
    return weights[a] * weights[b] / (weights[a] + weights[b]) * (1.0 - cos)


def _first_cheapest(costs: np.ndarray) -> tuple[int, int]:
    """The pair a scan of the upper triangle in row-major order keeps when it takes a pair only if it
    costs less than the best so far by 1e-12 (near-ties: the earlier pair). Only a strictly new
    running minimum can be taken (the kept best never exceeds the running minimum by 1e-12), so the
    scan runs over those few records alone."""
    rows, cols = np.triu_indices(costs.shape[0], k=1)
    flat = costs[rows, cols]
    before = np.minimum.accumulate(np.concatenate([[np.inf], flat[:-1]]))
    best: tuple[float, int] | None = None
    for i in np.flatnonzero(flat < before).tolist():
        if best is None or flat[i] < best[0] - 1e-12:
            best = (float(flat[i]), i)
    assert best is not None
    return int(rows[best[1]]), int(cols[best[1]])


def solve_offline(payload: Payload) -> Answer:
    """Ward-style merging of the candidates' lineage-and-word vectors (weighted by their cluster
    counts: two large candidates merge last, so no bag swallows the rest) down to the target count;
    a merged group takes its largest candidates' names."""
    candidates: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for item in payload.get("candidates") or []:
        key = str(item.get("name", "")).strip().casefold()
        if not key:
            continue
        if key in seen:
            candidates[seen[key]]["cluster_count"] += int(item.get("cluster_count") or 0)
            continue
        seen[key] = len(candidates)
        candidates.append({**item, "cluster_count": int(item.get("cluster_count") or 0)})
    if not candidates:
        return {"categories": []}
    lo, hi = int(payload.get("min_categories") or 8), int(payload.get("max_categories") or 12)
    target = min(max(int(payload.get("target_categories") or lo), lo), hi, len(candidates))
    docs = [candidate_features(c) for c in candidates]
    vectors = Vectoriser.fit(docs, min_df=1).transform(docs)
    groups = [[i] for i in range(len(candidates))]
    weights = [float(max(1, c["cluster_count"])) for c in candidates]
    centres = [vectors[i].copy() for i in range(len(candidates))]
    norms = [float(np.linalg.norm(c)) for c in centres]
    # Pair costs cached (the upper triangle, groups in list order); a merge recomputes only the merged
    # group's pairs, with the same arithmetic, so the merges are the ones the full rescan made.
    costs = np.full((len(groups), len(groups)), np.inf)
    for a in range(len(groups)):
        for b in range(a + 1, len(groups)):
            costs[a, b] = _ward_cost(centres, norms, weights, a, b)
    while len(groups) > target:
        a, b = _first_cheapest(costs)
        total = weights[a] + weights[b]
        centres[a] = (centres[a] * weights[a] + centres.pop(b) * weights[b]) / total
        norms.pop(b)
        norms[a] = float(np.linalg.norm(centres[a]))
        weights[a] = total
        weights.pop(b)
        groups[a] += groups.pop(b)
        costs = np.delete(np.delete(costs, b, axis=0), b, axis=1)
        for other in range(len(groups)):
            if other != a:
                lo, hi = min(a, other), max(a, other)
                costs[lo, hi] = _ward_cost(centres, norms, weights, lo, hi)
    out = []
    for group in groups:
        ranked = sorted(group, key=lambda i: (-candidates[i]["cluster_count"], i))
        names = [str(candidates[i]["name"]) for i in ranked]
        out.append({"name": _merged_name(names), "description": str(candidates[ranked[0]].get("description", "")),
                    "merged_from": names})
    return {"categories": out}


def normalise(answer: Answer, payload: Payload) -> Answer:
    """Names cleaned and deduplicated (case-insensitive, the later one's ``merged_from`` joins the
    first); ``merged_from`` kept only for candidate names the payload offered (matched ignoring case
    and spacing), each candidate in one category at most."""
    offered = {" ".join(str(c.get("name", "")).split()).casefold(): str(c.get("name", ""))
               for c in payload.get("candidates") or []}
    out: list[dict[str, Any]] = []
    by_name: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for item in as_records(answer.get("categories"), "name", "description"):
        name = as_text(item.get("name") or item.get("title"), limit=NAME_CHARS).strip(" \"'“”")
        if not name:
            continue
        record = by_name.get(name.casefold())
        if record is None:
            record = {"name": name, "description": as_text(item.get("description"), limit=DESCRIPTION_CHARS),
                      "merged_from": []}
            by_name[name.casefold()] = record
            out.append(record)
        sources = item.get("merged_from") or []
        for source in sources if isinstance(sources, list) else [sources]:
            source = offered.get(" ".join(str(source).split()).casefold()) if isinstance(source, str) else None
            if source is not None and source not in used:
                used.add(source)
                record["merged_from"].append(source)
    return {"categories": out}


def example() -> Payload:
    candidates = [
        {"name": "Metal & Metalcore", "description": "Heavy guitars.", "cluster_count": 30,
         "contexts": ["Rock > Metal", "Rock > Melodic Metalcore"], "examples": ["Nu-Metal Radio"]},
        {"name": "Heavy Metal", "description": "Classic and modern metal.", "cluster_count": 12,
         "contexts": ["Rock > Metal"], "examples": ["Gothenburg Steel"]},
        {"name": "Pop-Punk & Emo", "description": "Fast, bright guitars and confessional choruses.",
         "cluster_count": 25, "contexts": ["Rock > Pop-Punk", "Rock > Emo"], "examples": ["Pop-Punk Summers"]},
        {"name": "Rap & Hip-Hop", "description": "East and West Coast rap.", "cluster_count": 20,
         "contexts": ["Rap > Gangsta Rap"], "examples": ["Westside Stories"]},
    ]
    return {"min_categories": 2, "max_categories": 3, "target_categories": 3, "total_clusters": 87,
            "candidates": candidates}


TASK = TaskSpec(name="consolidate_categories", tier="creative", system=SYSTEM, schema=SCHEMA,
                normalise=normalise, solve_offline=solve_offline, max_tokens=4096, example=example)
