"""Phase 4 asset: the quality pass (score, merge, split), keeping every track in exactly one cluster."""

from typing import Any

import pandas as pd
from dagster import AssetChecksDefinition, AssetExecutionContext, AssetIn, AssetsDefinition, asset

from collection_tree.assets.checks import exactly_once_check
from collection_tree.assets.llm_step import LLM_POOL, phase_llm
from collection_tree.assets.metadata import cluster_entries, phase_metadata
from collection_tree.assets.modes import BuildMode
from collection_tree.assets.parameters import asset_config, asset_params
from collection_tree.assets.progress import PhaseProgress
from collection_tree.assets.versions import code_version
from collection_tree.core.clusters import ClusterSet
from collection_tree.core.inputs import tracks_from_storage
from collection_tree.phases import refinement
from collection_tree.phases.refinement import RefineParams, refine_clusters
from collection_tree.resources.llm import LLMResource
from collection_tree.resources.settings import CollectionInputs, PipelineSettings

RefinedClustersConfig = asset_config("refined_clusters")


def build_refined_clusters_asset(mode: BuildMode) -> AssetsDefinition:
    @asset(
        key=mode.key("refined_clusters"),
        code_version=code_version(refinement, RefineParams),
        group_name=mode.group, io_manager_key="json_io_manager",
        ins={"assigned_clusters": AssetIn(mode.key("assigned_clusters")), "tracks": AssetIn(mode.key("tracks")),
             "genre_tree": AssetIn(mode.key("genre_tree"))},
        pool=LLM_POOL, kinds={"python", "json"},
        description="Phase 4 (mechanical model, creative for renames): up to 3 rounds of scoring every cluster "
                    "1-10 with merge/split suggestions (track-level features in the payload), then <= 5 merges "
                    "(renamed from 20 sampled tracks) and <= 3 splits of clusters over 30 tracks (sub-clusters "
                    "defined from a mini landscape, tracks placed by filter score); stops when every score is "
                    ">= 7 with no suggestion. Merges stay within a genre lineage. Then leaf bounds: leaves under "
                    "5 tracks folded, leaves over 150 split by track similarity. Every track stays in exactly "
                    "one cluster.",
    )
    def refined_clusters(context: AssetExecutionContext, config: RefinedClustersConfig, inputs: CollectionInputs,
                         pipeline_settings: PipelineSettings, llm: LLMResource, assigned_clusters: ClusterSet,
                         tracks: pd.DataFrame, genre_tree: dict[str, Any]) -> ClusterSet:
        progress = PhaseProgress(context, "refined_clusters")
        profile, params = asset_params(config, pipeline_settings.profile, "refined_clusters")
        with phase_llm(context, llm, inputs, "refined_clusters",
                       max_fallback_share=params.max_fallback_share, tracks=len(tracks)) as bound:
            refined = refine_clusters(assigned_clusters, tracks_from_storage(tracks), bound, params, progress,
                                      genre_tree=genre_tree)
        context.add_output_metadata(phase_metadata(
            mode, progress, params, profile=profile, report=refined.report, llm=bound,
            **cluster_entries(refined, ("id", "title", "size", "quality_score", "origin"))))
        return refined

    return refined_clusters


def build_refined_clusters_checks(mode: BuildMode) -> list[AssetChecksDefinition]:
    return [exactly_once_check(mode, "refined_clusters")]
