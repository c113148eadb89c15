"""Phase 6 asset: final titles, rich descriptions and seven exemplars per leaf, in category order."""

from typing import Any

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition, MetadataValue, asset
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
from collection_tree.phases import leaves
from collection_tree.phases.leaves import LeafParams, describe_leaves, order_by_categories
from collection_tree.resources.llm import LLMResource
from collection_tree.resources.settings import CollectionInputs, PipelineSettings


class CollectionLeavesConfig(LLMPhaseConfig):
    profile: str = Field("", description="'default' or 'seed' (the reference: batches of 5, 4 workers); "
                                         "empty: the pipeline setting.")
    batch_size: int | None = Field(None, ge=1, description="Leaves per LLM call (override).")
    workers: int | None = Field(None, ge=1, description="Parallel LLM calls (override).")
    max_candidates: int | None = Field(None, ge=7, description="Candidate tracks shown per leaf (default 20, seed 30).")


def build_collection_leaves_asset(mode: BuildMode) -> AssetsDefinition:
    @asset(
        key=mode.key("collection_leaves"),
        code_version=code_version(leaves, LeafParams),
        group_name=mode.group, io_manager_key="json_io_manager",
        ins={"refined_clusters": AssetIn(mode.key("refined_clusters")),
             "categories": AssetIn(mode.key("categories")), "tracks": AssetIn(mode.key("tracks"))},
        pool=LLM_POOL, kinds={"python", "json"},
        description="Phase 6: every leaf (in category order) with its final title, a 4-6 sentence "
                    "description and 7 exemplar tracks picked by the creative model from the leaf's "
                    "own best-matching tracks; a failed batch keeps its text and takes the scored shortlist.",
    )
    def collection_leaves(
        context: AssetExecutionContext, config: CollectionLeavesConfig, llm: LLMResource,
        inputs: CollectionInputs, pipeline_settings: PipelineSettings, refined_clusters: ClusterSet,
        categories: dict[str, Any], tracks: pd.DataFrame,
    ) -> ClusterSet:
        profile, params = phase_params(config, pipeline_settings.profile, LeafParams)
        progress = PhaseProgress(context, "collection_leaves")
        ordered = order_by_categories(refined_clusters, categories)
        dropped = len(refined_clusters.clusters) - len(ordered.clusters)
        if dropped:
            context.log.warning(f"{dropped} clusters are in no category; their tracks are listed as unplaced")
        with phase_llm(context, llm, inputs, "collection_leaves",
                       max_fallback_share=params.max_fallback_share) as bound:
            leaves = describe_leaves(ordered, tracks_from_storage(tracks), bound, params, progress)
        report = leaves.report
        context.add_output_metadata({
            "leaves": len(leaves.clusters),
            "tracks_in_leaves": report["tracks_in_leaves"],
            "clusters_in_no_category": dropped,
            "batches": report["batches"], "serial_calls": report["serial_calls"],
            "fallback_leaves": report["fallback_leaves"], "failed_batches": report["failed_batches"],
            "examples_refilled": report["examples_refilled"],
            **size_stats([c.track_count for c in leaves.clusters], "leaf_size"),
            "preview": markdown_table([
                {"leaf": c.title, "tracks": c.track_count, "genre": c.genre_title, "scene": c.scene_title,
                 "first example": f"{c.examples[0]['artist']} - {c.examples[0]['title']}" if c.examples else ""}
                for c in leaves.clusters[:20]]),
            "profile": MetadataValue.text(profile),
            "batch_size": params.batch_size, "workers": params.workers,
            "seconds": progress.elapsed(),
            **llm_step_metadata(bound),
        })
        return leaves

    return collection_leaves
