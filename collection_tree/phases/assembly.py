"""The final Collection Tree JSON (DESIGN section 5, the reference's "Collection Tree JSON"), and its
validator.

Schema-exact: no key beyond the reference's at any level (examples carry only title, artist, year),
except the additive fields DESIGN section 5 names, each checked as exactly: the top-level ``build``
object (provider, models, profile, input hashes, version, run id), a category's ``sections``
(``[{"title", "leaf_ids"}]``, every leaf of the category in exactly one; only on big categories), a
leaf's ``order`` (its play order) and ``transitions`` (the share of compatible adjacent pairs).
Leaf ids are the cluster ids (``"{genre leaf}__{scene leaf}"`` for seeds; phase 4 gives merged and
split clusters their own unique ids): unique, stable across rebuilds of the same inputs and traceable
to the source leaves, so playlist exports and reviews can refer to them. Category ids are kebab-case,
made unique. A leaf named by two categories sits in the first one.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from collection_tree.core.clusters import ClusterSet

TOP_KEYS = ("id", "tree_type", "created_at", "total_tracks", "assigned_tracks", "ungrouped_track_ids",
            "source_trees", "categories", "status")
SOURCE_KEYS = ("id", "created_at")
CATEGORY_KEYS = ("id", "title", "description", "track_ids", "track_count", "leaves")
SECTION_KEYS = ("title", "leaf_ids")
LEAF_KEYS = ("id", "title", "description", "track_ids", "track_count", "examples", "genre_context",
             "scene_context", "metadata_suggestions")
# Additive fields (DESIGN section 5): readers of the reference schema ignore them.
CATEGORY_OPTIONAL = ("sections",)
LEAF_OPTIONAL = ("order", "transitions")
EXAMPLE_KEYS = ("title", "artist", "year")
SUGGESTION_KEYS = ("track_id", "suggestions", "confidence", "reasoning")
SUGGESTION_FIELDS = ("genre_refinement", "scene_tags", "descriptors", "era_refinement")
# Additive (DESIGN section 5): how the tree was made, and why each ungrouped track is ungrouped (DESIGN
# section 6: "each ungrouped track explained"), in the tree itself so an update's new reasons travel
# with it. Readers of the reference schema ignore them.
OPTIONAL_TOP_KEYS = ("build", "ungrouped_reasons")
REASON_KEYS = ("track_id", "reason")
BUILD_KEYS = ("provider", "models", "profile", "inputs", "version", "run_id")
BUILD_INPUT_KEYS = ("tracks", "genre_tree", "scene_tree")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
STATUSES = ("complete", "stopped")
KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class CollectionTreeError(ValueError):
    """The inputs do not make a consistent tree (the message lists the problems)."""


def kebab(text: str, default: str = "category") -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", str(text).casefold()).strip("-")
    return slug or default


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _source(tree: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(tree.get("id", "")), "created_at": str(tree.get("created_at", ""))}


def _example(example: dict[str, Any]) -> dict[str, Any]:
    year = example.get("year")
    return {"title": str(example.get("title", "")), "artist": str(example.get("artist", "")),
            "year": None if year is None else int(year)}


def _suggestion(item: dict[str, Any]) -> dict[str, Any]:
    raw = item.get("suggestions") or {}
    return {
        "track_id": int(item["track_id"]),
        "suggestions": {"genre_refinement": raw.get("genre_refinement"),
                        "scene_tags": list(raw.get("scene_tags") or []),
                        "descriptors": list(raw.get("descriptors") or []),
                        "era_refinement": raw.get("era_refinement")},
        "confidence": float(item["confidence"]),
        "reasoning": str(item.get("reasoning", "")),
    }


def _sections(raw: list[dict[str, Any]], members: list[str]) -> list[dict[str, Any]]:
    """Phase 5's sections over the leaves the category actually has: ids it does not hold dropped,
    each leaf in its first section, a leaf no section names added to the largest, empty sections
    dropped. Fewer than two sections: none."""
    held = set(members)
    placed: set[str] = set()
    out: list[dict[str, Any]] = []
    for section in raw:
        ids = [str(i) for i in section.get("leaf_ids", []) if str(i) in held and str(i) not in placed]
        placed.update(ids)
        if ids:
            out.append({"title": str(section.get("title", "")).strip() or f"Section {len(out) + 1}", "leaf_ids": ids})
    if len(out) < 2:
        return []
    missing = [m for m in members if m not in placed]
    if missing:
        max(out, key=lambda s: len(s["leaf_ids"]))["leaf_ids"].extend(missing)
    return out


def assemble_collection_tree(
    leaves: ClusterSet,
    categories: dict[str, Any],
    suggestions: dict[str, Any] | None,
    genre_tree: dict[str, Any],
    scene_tree: dict[str, Any],
    *,
    total_tracks: int,
    created_at: str | None = None,
    tree_id: str | None = None,
    status: str = "complete",
    build: dict[str, Any] | None = None,
    validate: bool = True,
) -> dict[str, Any]:
    """The Collection Tree document. ``total_tracks`` must equal the tracks in scope
    (``leaves.all_track_ids``); ``suggestions`` is phase 7's output or None (test mode: every leaf's
    ``metadata_suggestions`` is empty). Raises :class:`CollectionTreeError` when inputs disagree.
    ``validate=False``: the finished document is not walked by ``validate_collection_tree`` here (a
    caller that changes it further validates it once, after; a 1M-track tree takes seconds to walk)."""
    scope = list(dict.fromkeys(int(t) for t in leaves.all_track_ids))
    problems: list[str] = []
    if total_tracks != len(scope):
        problems.append(f"total_tracks {total_tracks} != {len(scope)} tracks in scope (all_track_ids)")
    by_id = {c.id: c for c in leaves.clusters}
    if len(by_id) != len(leaves.clusters):
        problems.append("duplicate leaf ids")
    per_leaf = (suggestions or {}).get("suggestions", {})

    out_categories: list[dict[str, Any]] = []
    placed: set[str] = set()
    used_ids: set[str] = set()
    for category in categories.get("categories", []):
        members = [cid for cid in category.get("cluster_ids", [])
                   if cid in by_id and cid not in placed and by_id[cid].track_ids]  # empty leaves: nothing to play
        if not members:
            continue
        placed.update(members)
        base = kebab(category.get("id") or category.get("title", ""))
        category_id, n = base, 2
        while category_id in used_ids:
            category_id, n = f"{base}-{n}", n + 1
        used_ids.add(category_id)
        leaf_docs = []
        for cid in members:
            cluster = by_id[cid]
            leaf_docs.append({
                "id": cluster.id, "title": cluster.title or cluster.fallback_title,
                "description": cluster.description,
                "track_ids": [int(t) for t in cluster.track_ids], "track_count": cluster.track_count,
                "examples": [_example(e) for e in cluster.examples],
                "genre_context": cluster.genre_title, "scene_context": cluster.scene_title,
                "metadata_suggestions": [_suggestion(i) for i in per_leaf.get(cid, [])],
            })
        track_ids = [t for leaf in leaf_docs for t in leaf["track_ids"]]
        doc_category: dict[str, Any] = {
            "id": category_id, "title": str(category.get("title", category_id)),
            "description": str(category.get("description", "")), "track_ids": track_ids,
            "track_count": len(track_ids), "leaves": leaf_docs,
        }
        sections = _sections(category.get("sections") or [], members)
        if sections:
            doc_category["sections"] = sections
        out_categories.append(doc_category)
    orphans = [c.id for c in leaves.clusters if c.id not in placed and c.track_ids]
    if orphans:
        problems.append(f"{len(orphans)} leaves in no category: {orphans[:5]}")
    in_scope = set(scope)
    outside = sorted({t for c in leaves.clusters for t in c.track_ids if int(t) not in in_scope})
    if outside:
        problems.append(f"{len(outside)} leaf tracks outside the scope (all_track_ids), e.g. {outside[:5]}")
    stray = sorted(set(per_leaf) - set(by_id))
    if stray:
        problems.append(f"suggestions for unknown leaves: {stray[:5]}")
    if problems:
        raise CollectionTreeError("; ".join(problems))

    assigned = {t for category in out_categories for t in category["track_ids"]}
    ungrouped = sorted(t for t in scope if t not in assigned)
    doc = {
        "id": tree_id or str(uuid.uuid4()),
        "tree_type": "collection",
        "created_at": created_at or now_iso(),
        "total_tracks": len(scope),
        "assigned_tracks": len(assigned),
        "ungrouped_track_ids": ungrouped,
        "source_trees": {"genre": _source(genre_tree), "scene": _source(scene_tree)},
        "categories": out_categories,
        "status": status,
        "ungrouped_reasons": ungrouped_reasons(ungrouped, leaves.unplaced),
    }
    if build is not None:
        doc["build"] = build
    problems = validate_collection_tree(doc) if validate else []
    if problems:
        raise CollectionTreeError("; ".join(problems[:10]))
    return doc


def ungrouped_reasons(ungrouped: list[int], unplaced: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``[{track_id, reason}]`` for the ungrouped tracks whose phase recorded why (the first reason
    given for a track wins), in track id order."""
    wanted = set(ungrouped)
    reasons: dict[int, str] = {}
    for item in unplaced:
        track_id, reason = int(item["track_id"]), str(item.get("reason") or "").strip()
        if track_id in wanted and reason:
            reasons.setdefault(track_id, reason)
    return [{"track_id": t, "reason": reasons[t]} for t in sorted(reasons)]


def build_provenance(phases: list[dict[str, Any]], *, profile: str, inputs: dict[str, str], version: str,
                     run_id: str) -> dict[str, Any]:
    """The tree's ``build`` object. ``phases``: each LLM phase's ``llm_provider`` and ``models_used`` (the
    models whose answers it used, cache hits included; none offline). One provider in the usual case;
    phases built by different providers (a resume with other settings) are named together ("a+b")."""
    providers = sorted({str(p["llm_provider"]) for p in phases if p.get("llm_provider")})
    models = sorted({str(m) for p in phases for m in p.get("models_used") or []})
    return {"provider": "+".join(providers) or "unknown", "models": models, "profile": profile,
            "inputs": {name: str(inputs.get(name, "")) for name in BUILD_INPUT_KEYS}, "version": version,
            "run_id": run_id}


def describe_build(build: dict[str, Any] | None) -> str:
    """What a person is told about how a tree was made: "offline heuristics" or the model names."""
    if not build:
        return "not recorded (a tree from before builds recorded their provenance)"
    models = build.get("models") or []
    if not models:
        return "offline heuristics" if "offline" in str(build.get("provider")) else f"{build.get('provider')}"
    return f"{build.get('provider')}: {', '.join(models)}"


# ------------------------------------------------------------------------------------ validation
def _validate_build(problems: list[str], build: Any) -> None:
    if not _keys(problems, "build", build, BUILD_KEYS):
        return
    for key in ("provider", "profile", "version", "run_id"):
        if not isinstance(build[key], str):
            problems.append(f"build.{key}: expected a string")
    if not isinstance(build["models"], list) or not all(isinstance(m, str) for m in build["models"]):
        problems.append("build.models: expected a list of model names")
    if _keys(problems, "build.inputs", build["inputs"], BUILD_INPUT_KEYS):
        for name in BUILD_INPUT_KEYS:
            digest = build["inputs"][name]
            if not isinstance(digest, str) or not (digest == "" or SHA256.match(digest)):
                problems.append(f"build.inputs.{name}: expected a sha256 (64 hex digits), got {digest!r}")


def _keys(problems: list[str], where: str, obj: Any, wanted: tuple[str, ...],
          optional: tuple[str, ...] = ()) -> bool:
    if not isinstance(obj, dict):
        problems.append(f"{where}: expected an object, got {type(obj).__name__}")
        return False
    if not set(wanted) <= set(obj) <= set(wanted) | set(optional):
        extra, missing = sorted(set(obj) - set(wanted) - set(optional)), sorted(set(wanted) - set(obj))
        problems.append(f"{where}: keys differ from the schema (extra {extra}, missing {missing})")
        return False
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_list(problems: list[str], where: str, value: Any) -> list[int]:
    if not isinstance(value, list) or not all(_is_int(v) for v in value):
        problems.append(f"{where}: expected a list of integer track ids")
        return []
    return value


def validate_collection_tree(doc: Any, *, min_confidence: float | None = None) -> list[str]:
    """Every way ``doc`` breaks the schema or its own counts (empty: valid). Checks exact key sets at
    every level, types, kebab-case unique category ids, unique leaf ids, track_count == len(track_ids),
    category track_ids == its leaves' tracks, each track in at most one leaf, assigned/ungrouped/total
    consistent, suggestions about tracks of their own leaf with confidence in [0, 1] (and >=
    ``min_confidence`` when given)."""
    problems: list[str] = []
    if not _keys(problems, "tree", doc, TOP_KEYS, OPTIONAL_TOP_KEYS):
        return problems
    if "build" in doc:
        _validate_build(problems, doc["build"])
    if doc["tree_type"] != "collection":
        problems.append(f"tree_type: expected 'collection', got {doc['tree_type']!r}")
    if doc["status"] not in STATUSES:
        problems.append(f"status: expected one of {STATUSES}, got {doc['status']!r}")
    for key in ("id", "created_at"):
        if not isinstance(doc[key], str) or not doc[key]:
            problems.append(f"{key}: expected a non-empty string")
    sources = doc["source_trees"]
    if _keys(problems, "source_trees", sources, ("genre", "scene")):
        for name in ("genre", "scene"):
            _keys(problems, f"source_trees.{name}", sources[name], SOURCE_KEYS)
    if not isinstance(doc["categories"], list):
        problems.append("categories: expected a list")
        return problems
    holder: dict[int, str] = {}
    category_ids: set[str] = set()
    leaf_ids: set[str] = set()
    for i, category in enumerate(doc["categories"]):
        where = f"categories[{i}]"
        if not _keys(problems, where, category, CATEGORY_KEYS, CATEGORY_OPTIONAL):
            continue
        cid = category["id"]
        if not isinstance(cid, str) or not KEBAB.match(cid):
            problems.append(f"{where}.id: expected kebab-case, got {cid!r}")
        elif cid in category_ids:
            problems.append(f"{where}.id: duplicate {cid!r}")
        category_ids.add(cid)
        ids = _int_list(problems, f"{where}.track_ids", category["track_ids"])
        if category["track_count"] != len(ids):
            problems.append(f"{where}.track_count {category['track_count']} != {len(ids)} track_ids")
        if not isinstance(category["leaves"], list) or not category["leaves"]:
            problems.append(f"{where}.leaves: expected a non-empty list")
            continue
        leaf_tracks: list[int] = []
        for j, leaf in enumerate(category["leaves"]):
            leaf_tracks += _validate_leaf(problems, f"{where}.leaves[{j}]", leaf, leaf_ids, holder, min_confidence)
        if sorted(ids) != sorted(leaf_tracks):
            problems.append(f"{where}.track_ids: not exactly its leaves' tracks")
        if "sections" in category:
            _validate_sections(problems, where, category["sections"],
                               [leaf.get("id") for leaf in category["leaves"] if isinstance(leaf, dict)])
    ungrouped = _int_list(problems, "ungrouped_track_ids", doc["ungrouped_track_ids"])
    if ungrouped != sorted(set(ungrouped)):
        problems.append("ungrouped_track_ids: expected sorted, without duplicates")
    both = sorted(set(ungrouped) & set(holder))
    if both:
        problems.append(f"ungrouped_track_ids: {len(both)} tracks also in leaves, e.g. {both[:5]}")
    if doc["assigned_tracks"] != len(holder):
        problems.append(f"assigned_tracks {doc['assigned_tracks']} != {len(holder)} tracks in leaves")
    if doc["total_tracks"] != len(holder) + len(set(ungrouped)) and not both:
        problems.append(f"total_tracks {doc['total_tracks']} != assigned {len(holder)} + ungrouped "
                        f"{len(set(ungrouped))}")
    if "ungrouped_reasons" in doc:
        _validate_reasons(problems, doc["ungrouped_reasons"], set(ungrouped))
    return problems


def _validate_reasons(problems: list[str], reasons: Any, ungrouped: set[int]) -> None:
    """``[{track_id, reason}]``: ungrouped tracks in id order, each once, with a non-empty reason."""
    if not isinstance(reasons, list):
        problems.append("ungrouped_reasons: expected a list")
        return
    ids = []
    for k, item in enumerate(reasons):
        where = f"ungrouped_reasons[{k}]"
        if not _keys(problems, where, item, REASON_KEYS):
            continue
        if not isinstance(item["reason"], str) or not item["reason"].strip():
            problems.append(f"{where}.reason: expected a non-empty string")
        if type(item["track_id"]) is not int or item["track_id"] not in ungrouped:
            problems.append(f"{where}.track_id: expected an ungrouped track id, got {item['track_id']!r}")
        else:
            ids.append(item["track_id"])
    if ids != sorted(set(ids)):
        problems.append("ungrouped_reasons: expected in track id order, each track once")


def _validate_sections(problems: list[str], where: str, sections: Any, leaf_ids: list[Any]) -> None:
    """At least two sections, each ``{"title", "leaf_ids"}`` with a title and leaves; every leaf of
    the category in exactly one section, no other ids."""
    if not isinstance(sections, list) or len(sections) < 2:
        problems.append(f"{where}.sections: expected a list of at least two sections")
        return
    seen: Counter[str] = Counter()
    for k, section in enumerate(sections):
        here = f"{where}.sections[{k}]"
        if not _keys(problems, here, section, SECTION_KEYS):
            continue
        if not isinstance(section["title"], str) or not section["title"].strip():
            problems.append(f"{here}.title: expected a non-empty string")
        ids = section["leaf_ids"]
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            problems.append(f"{here}.leaf_ids: expected a non-empty list of leaf ids")
            continue
        seen.update(ids)
    twice = sorted(i for i, n in seen.items() if n > 1)
    unknown = sorted(set(seen) - set(leaf_ids))
    missing = sorted(str(i) for i in set(leaf_ids) - set(seen))
    for label, ids in (("in two sections", twice), ("not leaves of the category", unknown),
                       ("in no section", missing)):
        if ids:
            problems.append(f"{where}.sections: leaves {label}: {ids[:5]}")


def _validate_leaf(problems: list[str], where: str, leaf: Any, leaf_ids: set[str], holder: dict[int, str],
                   min_confidence: float | None) -> list[int]:
    if not _keys(problems, where, leaf, LEAF_KEYS, LEAF_OPTIONAL):
        return []
    lid = leaf["id"]
    if not isinstance(lid, str) or not lid:
        problems.append(f"{where}.id: expected a non-empty string")
    elif lid in leaf_ids:
        problems.append(f"{where}.id: duplicate leaf id {lid!r}")
    leaf_ids.add(str(lid))
    for key in ("title", "description", "genre_context", "scene_context"):
        if not isinstance(leaf[key], str):
            problems.append(f"{where}.{key}: expected a string")
    ids = _int_list(problems, f"{where}.track_ids", leaf["track_ids"])
    if leaf["track_count"] != len(ids):
        problems.append(f"{where}.track_count {leaf['track_count']} != {len(ids)} track_ids")
    if not ids:
        problems.append(f"{where}: a leaf without tracks")
    if "order" in leaf and (not isinstance(leaf["order"], list) or sorted(leaf["order"]) != sorted(ids)):
        problems.append(f"{where}.order: expected a permutation of the leaf's track_ids")
    transitions = leaf.get("transitions")
    if "transitions" in leaf and (not isinstance(transitions, int | float) or isinstance(transitions, bool)
                                  or not 0.0 <= transitions <= 1.0):
        problems.append(f"{where}.transitions: expected a share in [0, 1], got {transitions!r}")
    for t in ids:
        if t in holder:
            problems.append(f"{where}: track {t} is also in leaf {holder[t]!r} (exactly-once broken)")
        holder[t] = str(lid)
    if not isinstance(leaf["examples"], list):
        problems.append(f"{where}.examples: expected a list")
    else:
        for k, example in enumerate(leaf["examples"]):
            if _keys(problems, f"{where}.examples[{k}]", example, EXAMPLE_KEYS):
                year = example["year"]
                if not (isinstance(example["title"], str) and isinstance(example["artist"], str)
                        and (year is None or _is_int(year))):
                    problems.append(f"{where}.examples[{k}]: title/artist strings, year an integer or null")
    if not isinstance(leaf["metadata_suggestions"], list):
        problems.append(f"{where}.metadata_suggestions: expected a list")
        return ids
    members = set(ids)
    for k, item in enumerate(leaf["metadata_suggestions"]):
        here = f"{where}.metadata_suggestions[{k}]"
        if not _keys(problems, here, item, SUGGESTION_KEYS):
            continue
        if not _is_int(item["track_id"]) or item["track_id"] not in members:
            problems.append(f"{here}.track_id: {item['track_id']!r} is not a track of this leaf")
        conf = item["confidence"]
        if not isinstance(conf, int | float) or isinstance(conf, bool) or not 0.0 <= conf <= 1.0:
            problems.append(f"{here}.confidence: expected a number in [0, 1], got {conf!r}")
        elif min_confidence is not None and conf < min_confidence:
            problems.append(f"{here}.confidence {conf} below {min_confidence}")
        if not isinstance(item["reasoning"], str):
            problems.append(f"{here}.reasoning: expected a string")
        if _keys(problems, f"{here}.suggestions", item["suggestions"], SUGGESTION_FIELDS):
            s = item["suggestions"]
            for key in ("genre_refinement", "era_refinement"):
                if s[key] is not None and not isinstance(s[key], str):
                    problems.append(f"{here}.suggestions.{key}: expected a string or null")
            for key in ("scene_tags", "descriptors"):
                if not isinstance(s[key], list) or not all(isinstance(v, str) for v in s[key]):
                    problems.append(f"{here}.suggestions.{key}: expected a list of strings")
    return ids


