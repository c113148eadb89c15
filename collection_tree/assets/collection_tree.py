"""The final asset: the Collection Tree JSON (DESIGN section 5), stored by the JSON IO manager and
written to ``<output>/curated_collection.json`` (the test run: ``<output>/test_run/...``). The file is
replaced atomically and only after assembly and validation succeed, so a failed or stopped build
leaves the last complete tree in place. Also the asset checks of phases 6, 7 and the tree."""

from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    MetadataValue,
    asset,
    asset_check,
)

from collection_tree import package_version
from collection_tree.assets.checks import latest_metadata, run_params
from collection_tree.assets.evolution import evolve, keep_tree, previous_tree
from collection_tree.assets.incremental import run_update
from collection_tree.assets.llm_step import LLM_POOL
from collection_tree.assets.metadata import markdown_table
from collection_tree.assets.modes import BuildMode
from collection_tree.assets.parameters import asset_config, asset_params, resolve_profile
from collection_tree.assets.progress import PhaseProgress
from collection_tree.core.atomic import atomic_writer
from collection_tree.core.clusters import ClusterSet
from collection_tree.core.curation import MAX_CROSS_LINEAGE_SHARE, curation_figures, rounded, summary_line
from collection_tree.core.inputs import tracks_from_storage
from collection_tree.core.json_text import WrittenDocument, write_indented
from collection_tree.core.report import size_stats
from collection_tree.phases.assembly import (
    CollectionTreeError,
    assemble_collection_tree,
    build_provenance,
    describe_build,
    validate_collection_tree,
)
from collection_tree.phases.incremental import TreeParams
from collection_tree.phases.playlist_order import apply_orders, order_playlists
from collection_tree.phases.refinement import RefineParams
from collection_tree.resources.io_managers import SHARED_DOCUMENT
from collection_tree.resources.llm import LLMResource
from collection_tree.resources.settings import CollectionInputs, PipelineSettings
from collection_tree.settings import INPUTS, TEST_RUN, TREE_FILE

# The assets whose LLM accounting the tree's provenance is made of.
LLM_PHASES = ("named_clusters", "assigned_clusters", "refined_clusters", "categories", "collection_leaves",
              "metadata_suggestions")
CURATION_HEADLINES = ("cross_lineage_share", "category_lineage_purity", "category_title_fit", "leaf_title_fit",
                      "leaf_max", "leaves_out_of_bounds", "same_description_opening_share", "broken_titles",
                      "category_titles_over_5_words")
CollectionTreeConfig = asset_config("collection_tree")


def leaf_bounds(context: Any, mode: BuildMode) -> tuple[int, int]:
    """(max, min) tracks per leaf: the parameters phase 4 ran with, which hold them after it."""
    params = cast(RefineParams, run_params(context, mode.key("refined_clusters"), "refined_clusters"))
    return params.max_leaf_tracks, params.min_leaf_tracks


def tree_path(mode: BuildMode, settings: PipelineSettings) -> Path:
    return mode.places(settings.places()).tree_file


def provenance(context: AssetExecutionContext, mode: BuildMode, settings: PipelineSettings) -> dict[str, Any]:
    """The ``build`` object, from the materialisations this tree is made of (the stored phase outputs
    are the latest ones: one build at a time holds the output folder)."""
    phase_names = [name for name in LLM_PHASES if name != "metadata_suggestions" or mode.enrich]
    found = latest_metadata(context.instance, [mode.key(name) for name in (*phase_names, *INPUTS)])
    phases = [found[mode.key(name)] for name in phase_names]
    inputs = {name: str(found[mode.key(name)].get("sha256", "")) for name in INPUTS}
    return build_provenance(phases, profile=resolve_profile("", settings.profile), inputs=inputs,
                            version=package_version(), run_id=context.run.run_id)


def _materialise(context: AssetExecutionContext, config: CollectionTreeConfig, mode: BuildMode,
                 settings: PipelineSettings, leaves: ClusterSet, categories: dict[str, Any],
                 suggestions: dict[str, Any] | None, genre_tree: dict[str, Any], scene_tree: dict[str, Any],
                 tracks: pd.DataFrame, llm: LLMResource, inputs: CollectionInputs) -> dict[str, Any]:
    progress = PhaseProgress(context, "collection_tree")
    build = provenance(context, mode, settings)
    _, asset_params_ = asset_params(config, settings.profile, "collection_tree")
    params = cast(TreeParams, asset_params_)
    update: dict[str, Any] = {}
    table = tracks_from_storage(tracks)  # read once: the update, the play order and the curation figures use it
    if params.update:  # the collection_tree_update job: the previous tree plus the tracks' change
        previous = previous_tree(context, mode)  # read once: the update and the identity/diff use it
        result, update = run_update(context, mode, llm, inputs, params, previous, table, genre_tree, scene_tree,
                                    build, progress)
        doc, leaves, order_entries = result.tree, result.leaves, {}
    else:
        doc = assemble_collection_tree(leaves, categories, suggestions, genre_tree, scene_tree,
                                       total_tracks=len(set(leaves.all_track_ids)),
                                       build=build, validate=False)  # validated once, below
        orders, order_report = order_playlists(leaves, table, params,
                                               lambda f, m: progress(0.9 * f, m))
        doc, order_entries = apply_orders(doc, orders), order_report.to_metadata()
        previous = previous_tree(context, mode)  # read now: a big tree is held no longer than needed
    # previous ids/titles (an update kept them), overrides, the diff
    doc, evolution = evolve(context, mode, settings, previous, doc, params, table, carry_ids=not params.update)
    # One walk of the finished tree (the phases' or the update's, then the play order, the previous build's
    # ids and titles, the overrides): a 1M-track tree takes seconds to walk.
    problems = validate_collection_tree(doc)
    if problems:
        raise CollectionTreeError("the collection tree (assembled, ordered, with the previous build's ids and "
                                  "the overrides) is inconsistent: " + "; ".join(problems[:10]))
    path = tree_path(mode, settings)
    with atomic_writer(path) as handle:  # streamed: the text of a big tree is never held whole
        write_indented(doc, handle, indent=1)
        handle.write(b"\n")
    doc = WrittenDocument(doc, path)  # the store copies the file instead of serialising the tree again
    snapshot = keep_tree(path, context.run.run_id)  # what `collection-tree diff RUN_A RUN_B` reads
    progress(1.0, f"{len(doc['categories'])} categories, {doc['assigned_tracks']}/{doc['total_tracks']} tracks "
                  f"-> {path}")
    leaf_sizes = [leaf["track_count"] for c in doc["categories"] for leaf in c["leaves"]]
    reasons = {int(u["track_id"]): str(u.get("reason", "")) for u in leaves.unplaced}
    frame = table.set_index("track_id", drop=False)
    ungrouped = [
        {"track_id": t, "artist": frame.at[t, "artist"] if t in frame.index else "",
         "title": frame.at[t, "title"] if t in frame.index else "", "reason": reasons.get(t, "")}
        for t in doc["ungrouped_track_ids"][:20]
    ]
    bounds = leaf_bounds(context, mode)
    figures = rounded(curation_figures(doc, frame.reset_index(drop=True), genre_tree, *bounds))
    context.log.info(f"[collection_tree] curation: {summary_line(figures)}")
    context.add_output_metadata({
        "curation": MetadataValue.json(figures),
        "curation_summary": MetadataValue.text(summary_line(figures)),
        **{f"curation_{k}": v for k, v in figures.items() if k in CURATION_HEADLINES},
        "tree_file": MetadataValue.path(str(path)),  # "path" is the IO manager's (the stored copy)
        "tree_snapshot": MetadataValue.path(str(snapshot)),
        "categories": len(doc["categories"]),
        "leaves": len(leaf_sizes),
        "total_tracks": doc["total_tracks"],
        "assigned_tracks": doc["assigned_tracks"],
        "ungrouped_tracks": len(doc["ungrouped_track_ids"]),
        "ungrouped_reasons": MetadataValue.json(dict(Counter(reasons.get(t, "") or "(none given)"
                                                             for t in doc["ungrouped_track_ids"]).most_common(10))),
        "suggestions": sum(len(leaf["metadata_suggestions"]) for c in doc["categories"] for leaf in c["leaves"]),
        **size_stats(leaf_sizes, "leaf_size"),
        "category_table": markdown_table([{"category": c["title"], "leaves": len(c["leaves"]),
                                           "tracks": c["track_count"]} for c in doc["categories"]], limit=40),
        "ungrouped_preview": markdown_table(ungrouped),
        "tree_id": doc["id"],
        "status": doc["status"],
        **order_entries,
        "transitions_preview": markdown_table(sorted(
            ({"leaf": leaf["title"], "tracks": leaf["track_count"], "transitions": leaf["transitions"]}
             for c in doc["categories"] for leaf in c["leaves"] if "transitions" in leaf),
            key=lambda row: row["transitions"])[:15]),  # the leaves that mix worst first
        "params": MetadataValue.json(asdict(params)),
        "made_by": describe_build(build),
        "build": MetadataValue.json(build),
        **evolution,
        **update,
    })
    return doc


def build_collection_tree_asset(mode: BuildMode) -> AssetsDefinition:
    common = dict(
        key=mode.key("collection_tree"), group_name=mode.group, io_manager_key="json_io_manager",
        kinds={"python", "json"}, pool=LLM_POOL,  # an update (config ``update``) calls the LLM
        metadata={SHARED_DOCUMENT: True},  # its checks and exports share one parsed copy (they only read it)
        description="The Collection Tree JSON (categories of flat leaves with examples, contexts and "
                    "metadata suggestions), validated schema-exact, also written atomically to "
                    f"{TEST_RUN + '/' if mode.prefix else ''}{TREE_FILE} in the output folder.",
    )
    ins = {"collection_leaves": AssetIn(mode.key("collection_leaves")),
           "categories": AssetIn(mode.key("categories")),
           "genre_tree": AssetIn(mode.key("genre_tree")), "scene_tree": AssetIn(mode.key("scene_tree")),
           "tracks": AssetIn(mode.key("tracks"))}
    if mode.enrich:
        @asset(**common, ins={**ins, "metadata_suggestions": AssetIn(mode.key("metadata_suggestions"))})
        def collection_tree(
            context: AssetExecutionContext, config: CollectionTreeConfig, pipeline_settings: PipelineSettings,
            llm: LLMResource, inputs: CollectionInputs,
            collection_leaves: ClusterSet, categories: dict[str, Any], metadata_suggestions: dict[str, Any],
            genre_tree: dict[str, Any], scene_tree: dict[str, Any], tracks: pd.DataFrame,
        ) -> dict[str, Any]:
            return _materialise(context, config, mode, pipeline_settings, collection_leaves, categories,
                                metadata_suggestions, genre_tree, scene_tree, tracks, llm, inputs)

        return collection_tree

    @asset(**common, ins=ins)
    def collection_tree_without_suggestions(
        context: AssetExecutionContext, config: CollectionTreeConfig, pipeline_settings: PipelineSettings,
        llm: LLMResource, inputs: CollectionInputs,
        collection_leaves: ClusterSet, categories: dict[str, Any], genre_tree: dict[str, Any],
        scene_tree: dict[str, Any], tracks: pd.DataFrame,
    ) -> dict[str, Any]:
        return _materialise(context, config, mode, pipeline_settings, collection_leaves, categories, None,
                            genre_tree, scene_tree, tracks, llm, inputs)

    return collection_tree_without_suggestions


# ----------------------------------------------------------------------------------------- checks
def leaf_problems(leaves: dict[str, Any]) -> list[str]:
    """Exemplars that are not members of their leaf, leaves without tracks or without exemplars."""
    problems = []
    for c in leaves["clusters"]:
        members = set(c["track_ids"])
        if not members:
            problems.append(f"{c['id']}: no tracks")
        outside = [e.get("track_id") for e in c.get("examples", []) if e.get("track_id") not in members]
        if outside:
            problems.append(f"{c['id']}: exemplars not in the leaf {outside[:5]}")
        if members and not c.get("examples"):
            problems.append(f"{c['id']}: no exemplars")
    return problems


def suggestion_problems(suggestions: dict[str, Any], leaves: dict[str, Any], min_confidence: float) -> list[str]:
    members = {c["id"]: set(c["track_ids"]) for c in leaves["clusters"]}
    problems = []
    for cid, items in suggestions["suggestions"].items():
        if cid not in members:
            problems.append(f"{cid}: not a leaf")
            continue
        for item in items:
            if item["confidence"] < min_confidence:
                problems.append(f"{cid}/{item['track_id']}: confidence {item['confidence']} < {min_confidence}")
            if item["track_id"] not in members[cid]:
                problems.append(f"{cid}/{item['track_id']}: track not in the leaf")
    return problems


def _figures_of_this_run(context: AssetCheckExecutionContext, mode: BuildMode) -> dict[str, Any] | None:
    """The curation figures the tree asset computed in this run (its ``curation`` metadata), with the
    cross-lineage share exact from its counts; None when the tree was materialised by another run
    (a check re-executed alone), which then computes them. The same figures of the same tree."""
    event = context.instance.get_latest_materialization_event(mode.key("collection_tree"))
    materialization = event.asset_materialization if event is not None else None
    if materialization is None or event.run_id != context.run.run_id or "curation" not in materialization.metadata:
        return None
    figures = dict(materialization.metadata["curation"].value)
    figures["cross_lineage_share"] = figures["cross_lineage_tracks"] / max(1, figures["placed_tracks"])
    return figures


def build_leaves_checks(mode: BuildMode) -> list[AssetChecksDefinition]:
    @asset_check(asset=mode.key("collection_leaves"), name="exemplars_are_members",
                 description="Every exemplar is a track of its leaf; every leaf has tracks and exemplars.")
    def exemplars_are_members(collection_leaves: dict[str, Any]) -> AssetCheckResult:
        problems = leaf_problems(collection_leaves)
        return AssetCheckResult(passed=not problems, metadata={"problems": len(problems),
                                                               "examples": MetadataValue.json(problems[:20])})

    @asset_check(asset=mode.key("collection_leaves"), name="leaf_sizes",
                 description="Leaf sizes (min/median/max); warns about leaves smaller than the run's "
                             "seed_clusters min_tracks (the smallest a playlist starts at).")
    def leaf_sizes(context: AssetCheckExecutionContext, collection_leaves: dict[str, Any]) -> AssetCheckResult:
        min_tracks = run_params(context, mode.key("seed_clusters"), "seed_clusters").min_tracks
        sizes = [len(c["track_ids"]) for c in collection_leaves["clusters"]]
        small = sum(s < min_tracks for s in sizes)
        return AssetCheckResult(passed=bool(sizes) and small == 0, severity=AssetCheckSeverity.WARN,
                                metadata={**size_stats(sizes, "leaf_size"), "leaves": len(sizes),
                                          "min_tracks": min_tracks, "leaves_under_min_tracks": small})

    @asset_check(asset=mode.key("collection_tree"), name="tree_validates",
                 description="Schema-exact keys at every level, counts consistent (total = assigned + "
                             "ungrouped), each track in at most one leaf, suggestions on their own leaf (and, "
                             "in the full build, at or above the run's min_confidence).")
    def tree_validates(context: AssetCheckExecutionContext, collection_tree: dict[str, Any]) -> AssetCheckResult:
        min_confidence = (run_params(context, mode.key("metadata_suggestions"), "metadata_suggestions").min_confidence
                          if mode.enrich else None)
        problems = validate_collection_tree(collection_tree, min_confidence=min_confidence)
        return AssetCheckResult(passed=not problems, metadata={
            "problems": len(problems), "examples": MetadataValue.json(problems[:20]),
            "total_tracks": collection_tree.get("total_tracks", 0),
            "assigned_tracks": collection_tree.get("assigned_tracks", 0)})

    @asset_check(asset=mode.key("collection_tree"), name="curation_bounds",
                 additional_ins={"tracks": AssetIn(mode.key("tracks")), "genre_tree": AssetIn(mode.key("genre_tree"))},
                 description=f"Warns (does not block) when more than {MAX_CROSS_LINEAGE_SHARE:.1%} of the placed "
                             "tracks sit in a leaf of a genre lineage none of theirs, or a leaf holds fewer than "
                             "min_leaf_tracks or more than max_leaf_tracks tracks (phase 4's parameters).")
    def curation_bounds(context: AssetCheckExecutionContext, collection_tree: dict[str, Any], tracks: pd.DataFrame,
                        genre_tree: dict[str, Any]) -> AssetCheckResult:
        most, fewest = leaf_bounds(context, mode)
        figures = (_figures_of_this_run(context, mode)
                   or curation_figures(collection_tree, tracks_from_storage(tracks), genre_tree, most, fewest))
        sizes = [(leaf["track_count"], leaf["title"]) for c in collection_tree["categories"] for leaf in c["leaves"]]
        outside = sorted((s for s in sizes if not fewest <= s[0] <= most), reverse=True)
        passed = figures["cross_lineage_share"] <= MAX_CROSS_LINEAGE_SHARE and not outside
        return AssetCheckResult(passed=passed, severity=AssetCheckSeverity.WARN, metadata={
            "cross_lineage_share": round(figures["cross_lineage_share"], 4),
            "cross_lineage_tracks": figures["cross_lineage_tracks"],
            "max_cross_lineage_share": MAX_CROSS_LINEAGE_SHARE,
            "leaves_out_of_bounds": len(outside), "min_leaf_tracks": fewest, "max_leaf_tracks": most,
            "examples": MetadataValue.json([{"tracks": n, "leaf": t} for n, t in outside[:10]])})

    checks = [exemplars_are_members, leaf_sizes, tree_validates, curation_bounds]
    if mode.enrich:
        @asset_check(asset=mode.key("metadata_suggestions"), name="suggestions_confident_and_members",
                     additional_ins={"collection_leaves": AssetIn(mode.key("collection_leaves"))},
                     description="Every kept suggestion has confidence >= the run's min_confidence and names a "
                                 "track of its own leaf.")
        def suggestions_confident_and_members(context: AssetCheckExecutionContext, metadata_suggestions: dict[str, Any],
                                              collection_leaves: dict[str, Any]) -> AssetCheckResult:
            min_confidence = run_params(context, mode.key("metadata_suggestions"),
                                        "metadata_suggestions").min_confidence
            problems = suggestion_problems(metadata_suggestions, collection_leaves, min_confidence)
            count = sum(len(v) for v in metadata_suggestions["suggestions"].values())
            return AssetCheckResult(passed=not problems, metadata={
                "suggestions": count, "min_confidence": min_confidence, "problems": len(problems),
                "examples": MetadataValue.json(problems[:20])})

        checks.append(suggestions_confident_and_members)
    return checks
