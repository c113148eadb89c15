"""Phase 6 asset: final titles, rich descriptions and exemplar tracks per leaf, in category order."""

from typing import Any

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition, asset

from collection_tree.assets.llm_step import LLM_POOL, phase_llm
from collection_tree.assets.metadata import cluster_entries, phase_metadata
from collection_tree.assets.modes import BuildMode
from collection_tree.assets.parameters import asset_config, asset_params
from collection_tree.assets.progress import PhaseProgress
from collection_tree.assets.versions import code_version
from collection_tree.core.clusters import ClusterSet
from collection_tree.core.inputs import tracks_from_storage
from collection_tree.phases import leaves
from collection_tree.phases.leaves import LeafParams, describe_leaves, order_by_categories
from collection_tree.resources.llm import LLMResource
from collection_tree.resources.settings import CollectionInputs, PipelineSettings

CollectionLeavesConfig = asset_config("collection_leaves")


def build_collection_leaves_asset(mode: BuildMode) -> AssetsDefinition:
    @asset(
        key=mode.key("collection_leaves"),
        code_version=code_version(leaves, LeafParams),
        group_name=mode.group, io_manager_key="json_io_manager",
        ins={"refined_clusters": AssetIn(mode.key("refined_clusters")),
             "categories": AssetIn(mode.key("categories")), "tracks": AssetIn(mode.key("tracks"))},
        pool=LLM_POOL, kinds={"python", "json"},
        description="Phase 6: every leaf (in category order) with its final title, a 4-6 sentence "
                    "description and exemplar tracks picked by the creative model from the leaf's "
                    "own best-matching tracks; a failed batch keeps its text and takes the scored shortlist.",
    )
    def collection_leaves(
        context: AssetExecutionContext, config: CollectionLeavesConfig, llm: LLMResource,
        inputs: CollectionInputs, pipeline_settings: PipelineSettings, refined_clusters: ClusterSet,
        categories: dict[str, Any], tracks: pd.DataFrame,
    ) -> ClusterSet:
        profile, params = asset_params(config, pipeline_settings.profile, "collection_leaves")
        progress = PhaseProgress(context, "collection_leaves")
        ordered = order_by_categories(refined_clusters, categories)
        dropped = len(refined_clusters.clusters) - len(ordered.clusters)
        if dropped:
            context.log.warning(f"{dropped} clusters are in no category; their tracks are listed as unplaced")
        with phase_llm(context, llm, inputs, "collection_leaves",
                       max_fallback_share=params.max_fallback_share, tracks=len(tracks)) as bound:
            leaves = describe_leaves(ordered, tracks_from_storage(tracks), bound, params, progress)
        context.add_output_metadata(phase_metadata(
            mode, progress, params, profile=profile, report=leaves.report, llm=bound, clusters_in_no_category=dropped,
            **cluster_entries(leaves, ("title", "size", "genre_title", "scene_title", "first_example"),
                              size_prefix="leaf_size", exactly_once=False)))
        return leaves

    return collection_leaves
