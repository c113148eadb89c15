"""Phase 5 asset: the refined clusters grouped into top-level categories, and its checks."""

from typing import Any

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

from collection_tree.assets.checks import run_params
from collection_tree.assets.evolution import previous_tree
from collection_tree.assets.llm_step import LLM_POOL, phase_llm
from collection_tree.assets.metadata import markdown_table, phase_metadata
from collection_tree.assets.modes import BuildMode
from collection_tree.assets.parameters import asset_config, asset_params
from collection_tree.assets.progress import PhaseProgress
from collection_tree.assets.versions import code_version
from collection_tree.core.clusters import ClusterSet
from collection_tree.core.inputs import tracks_from_storage
from collection_tree.phases import grouping
from collection_tree.phases.grouping import (
    GroupingParams,
    PreviousGrouping,
    category_problems,
    group_into_categories,
)
from collection_tree.resources.llm import LLMResource
from collection_tree.resources.settings import CollectionInputs, PipelineSettings

CategoriesConfig = asset_config("categories")


def build_categories_asset(mode: BuildMode) -> AssetsDefinition:
    @asset(
        key=mode.key("categories"),
        code_version=code_version(grouping, GroupingParams),
        group_name=mode.group, io_manager_key="json_io_manager",
        ins={"refined_clusters": AssetIn(mode.key("refined_clusters")), "tracks": AssetIn(mode.key("tracks"))},
        pool=LLM_POOL, kinds={"python", "json"},
        description=f"Phase 5: {GroupingParams.min_categories}-{GroupingParams.max_categories} top-level "
                    "categories (min_categories-max_categories), every cluster in exactly one. Default: "
                    "Clio-style hierarchy (neighbourhoods -> proposed names -> consolidated names -> "
                    "enum-constrained assignment -> balance -> names from the contents), falling back to genre "
                    "lineage groups, never to one category. Seed profile: the reference's single call.",
    )
    def categories(context: AssetExecutionContext, config: CategoriesConfig, inputs: CollectionInputs,
                   pipeline_settings: PipelineSettings, llm: LLMResource,
                   refined_clusters: ClusterSet, tracks: pd.DataFrame) -> dict[str, Any]:
        progress = PhaseProgress(context, "categories")
        profile, params = asset_params(config, pipeline_settings.profile, "categories")
        # The last build's categories, so a rebuild keeps a DJ's category folders (keep_previous).
        previous = PreviousGrouping.from_tree(previous_tree(context, mode)) if params.keep_previous else None
        with phase_llm(context, llm, inputs, "categories", max_fallback_share=params.max_fallback_share,
                       tracks=len(tracks)) as bound:
            result = group_into_categories(refined_clusters, bound, params, progress,
                                           tracks=tracks_from_storage(tracks), previous=previous)
        report = result["report"]
        if report.fallback_used:
            context.log.warning(f"[categories] fallback used: {report.fallbacks}")
        context.add_output_metadata(phase_metadata(mode, progress, params, profile=profile, report=report, llm=bound))
        return result

    return categories


def build_categories_checks(mode: BuildMode) -> list[AssetChecksDefinition]:
    """The run's category count (one per cluster below min_categories clusters), and each refined
    cluster in exactly one category."""
    ins = {"refined_clusters": AssetIn(mode.key("refined_clusters"))}

    @asset_check(asset=mode.key("categories"), name="category_count", additional_ins=ins,
                 description="min_categories to max_categories categories (the run's parameters) when there "
                             "are that many clusters (else one per cluster); kebab-case, unique category ids.")
    def category_count(context: AssetCheckExecutionContext, categories: dict[str, Any],
                       refined_clusters: ClusterSet) -> AssetCheckResult:
        params = run_params(context, mode.key("categories"), "categories")
        problems = category_problems(categories.get("categories", []), [c.id for c in refined_clusters.clusters],
                                     params.min_categories, params.max_categories)
        passed = not problems["count_out_of_range"] and not problems["duplicate_category_ids"] \
            and not problems["bad_category_ids"]
        return AssetCheckResult(passed=passed, severity=AssetCheckSeverity.ERROR, metadata={
            "categories": problems["count"], "clusters": len(refined_clusters.clusters),
            "min_categories": params.min_categories, "max_categories": params.max_categories,
            "duplicate_category_ids": MetadataValue.json(problems["duplicate_category_ids"]),
            "bad_category_ids": MetadataValue.json(problems["bad_category_ids"])})

    @asset_check(asset=mode.key("categories"), name="clusters_exactly_once", additional_ins=ins, blocking=True,
                 description="Every refined cluster sits in exactly one category; no category names an "
                             "unknown cluster or is empty.")
    def clusters_exactly_once(context: AssetCheckExecutionContext, categories: dict[str, Any],
                              refined_clusters: ClusterSet) -> AssetCheckResult:
        params = run_params(context, mode.key("categories"), "categories")
        problems = category_problems(categories.get("categories", []), [c.id for c in refined_clusters.clusters],
                                     params.min_categories, params.max_categories)
        kinds = ("duplicated", "missing", "unknown", "empty_categories")
        examples = [{"problem": k, "id": i} for k in kinds for i in problems[k][:5]]
        return AssetCheckResult(
            passed=not any(problems[k] for k in kinds), severity=AssetCheckSeverity.ERROR,
            metadata={**{k: len(problems[k]) for k in kinds},
                      "examples": markdown_table(examples) if examples else MetadataValue.md("_(none)_")})

    return [category_count, clusters_exactly_once]
