"""Phase 5 asset: the refined clusters grouped into 8-12 top-level categories, and its checks."""

from typing import Any

import pandas as pd
from dagster import (
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
from pydantic import Field

from collection_tree.assets.llm_step import (
    LLM_POOL,
    LLMPhaseConfig,
    llm_step_metadata,
    phase_llm,
    phase_params,
)
from collection_tree.assets.metadata import markdown_table, size_stats
from collection_tree.assets.modes import BuildMode
from collection_tree.assets.progress import PhaseProgress
from collection_tree.assets.versions import code_version
from collection_tree.core.clusters import ClusterSet
from collection_tree.core.inputs import tracks_from_storage
from collection_tree.phases import grouping
from collection_tree.phases.grouping import GroupingParams, category_problems, group_into_categories
from collection_tree.resources.llm import LLMResource
from collection_tree.resources.settings import CollectionInputs, PipelineSettings


class CategoriesConfig(LLMPhaseConfig):
    profile: str = Field("", description="'default' (Clio-style hierarchy) or 'seed' (the reference's single "
                                         "call, 'All Collections' on failure); empty: PipelineSettings.profile.")
    min_categories: int | None = Field(None, description="Fewest categories (8).")
    max_categories: int | None = Field(None, description="Most categories (12).")
    target_categories: int | None = Field(None, description="Count the consolidation and the fallback aim at (10).")
    neighbourhood_size: int | None = Field(None, description="Clusters per neighbourhood (40).")
    assign_batch_size: int | None = Field(None, description="Clusters per assignment call (40).")
    workers: int | None = Field(None, description="Parallel calls per wave (8).")
    balance_cap: float | None = Field(None, description="Largest share of clusters or tracks per category (0.35).")
    step_retries: int | None = Field(None, description="Retries of a failed step (1).")
    seed: int | None = Field(None, description="Seed of the neighbourhood k-means and the assignment shuffle.")


def build_categories_asset(mode: BuildMode) -> AssetsDefinition:
    @asset(
        key=mode.key("categories"),
        code_version=code_version(grouping, GroupingParams),
        group_name=mode.group, io_manager_key="json_io_manager",
        ins={"refined_clusters": AssetIn(mode.key("refined_clusters")), "tracks": AssetIn(mode.key("tracks"))},
        pool=LLM_POOL, kinds={"python", "json"},
        description="Phase 5: 8-12 top-level categories, every cluster in exactly one. Default: Clio-style "
                    "hierarchy (neighbourhoods -> proposed names -> 8-12 names -> enum-constrained assignment "
                    "-> balance -> names from the contents), falling back to genre lineage groups, never to "
                    "one category. Seed profile: the reference's single call.",
    )
    def categories(context: AssetExecutionContext, config: CategoriesConfig, inputs: CollectionInputs,
                   pipeline_settings: PipelineSettings, llm: LLMResource,
                   refined_clusters: ClusterSet, tracks: pd.DataFrame) -> dict[str, Any]:
        progress = PhaseProgress(context, "categories")
        profile, params = phase_params(config, pipeline_settings.profile, GroupingParams)
        with phase_llm(context, llm, inputs, "categories",
                       max_fallback_share=params.max_fallback_share) as bound:
            result = group_into_categories(refined_clusters, bound, params, progress,
                                           tracks=tracks_from_storage(tracks))
        report = result["report"]
        if report["fallback_used"]:
            context.log.warning(f"[categories] fallback used: {report['fallbacks']}")
        sizes = report["category_sizes"]
        context.add_output_metadata({
            "categories": len(result["categories"]),
            "clusters": report["clusters"],
            "table": markdown_table([{"title": s["title"], "clusters": s["clusters"], "tracks": s["tracks"]}
                                     for s in sizes]),
            "fallback_used": report["fallback_used"],
            "fallbacks": MetadataValue.json(report["fallbacks"]),
            "lineage_groups": MetadataValue.json(report.get("lineage_groups", [])),
            "lineage_guard": MetadataValue.json(report.get("guard", {})),
            "categories_mixing_lineage_groups": report.get("categories_mixing_lineage_groups", 0),
            "sections": report.get("sections", 0),
            "steps": markdown_table(report["steps"],
                                    ["step", "units", "calls", "retries", "failed_units", "serial_calls"]),
            "phase_calls": report["calls"],
            "serial_calls": report["serial_calls"],
            "step_retries": report["retries"],
            **size_stats([s["clusters"] for s in sizes], "category_clusters"),
            **size_stats([s["tracks"] for s in sizes], "category_tracks"),
            **llm_step_metadata(bound),
            "profile": profile,
            "params": MetadataValue.json(params.__dict__),
            "seconds": progress.elapsed(),
            "mode": MetadataValue.text(mode.name),
        })
        return result

    return categories


def build_categories_checks(mode: BuildMode) -> list[AssetChecksDefinition]:
    """8-12 categories (one per cluster below 8 clusters), and each refined cluster in exactly one."""
    ins = {"refined_clusters": AssetIn(mode.key("refined_clusters"))}

    @asset_check(asset=mode.key("categories"), name="category_count", additional_ins=ins,
                 description="8 to 12 categories when there are at least 8 clusters (else one per cluster); "
                             "kebab-case, unique category ids.")
    def category_count(categories: dict[str, Any], refined_clusters: ClusterSet) -> AssetCheckResult:
        problems = category_problems(categories.get("categories", []), [c.id for c in refined_clusters.clusters])
        passed = not problems["count_out_of_range"] and not problems["duplicate_category_ids"] \
            and not problems["bad_category_ids"]
        return AssetCheckResult(passed=passed, severity=AssetCheckSeverity.ERROR, metadata={
            "categories": problems["count"], "clusters": len(refined_clusters.clusters),
            "duplicate_category_ids": MetadataValue.json(problems["duplicate_category_ids"]),
            "bad_category_ids": MetadataValue.json(problems["bad_category_ids"])})

    @asset_check(asset=mode.key("categories"), name="clusters_exactly_once", additional_ins=ins, blocking=True,
                 description="Every refined cluster sits in exactly one category; no category names an "
                             "unknown cluster or is empty.")
    def clusters_exactly_once(categories: dict[str, Any], refined_clusters: ClusterSet) -> AssetCheckResult:
        problems = category_problems(categories.get("categories", []), [c.id for c in refined_clusters.clusters])
        kinds = ("duplicated", "missing", "unknown", "empty_categories")
        examples = [{"problem": k, "id": i} for k in kinds for i in problems[k][:5]]
        return AssetCheckResult(
            passed=not any(problems[k] for k in kinds), severity=AssetCheckSeverity.ERROR,
            metadata={**{k: len(problems[k]) for k in kinds},
                      "examples": markdown_table(examples) if examples else MetadataValue.md("_(none)_")})

    return [category_count, clusters_exactly_once]
