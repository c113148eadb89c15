"""Phase 3 asset: dedup and reassignment, so every track sits in exactly one cluster (or is explained)."""

from typing import Any

import pandas as pd
from dagster import AssetChecksDefinition, AssetExecutionContext, AssetIn, AssetsDefinition, asset

from collection_tree.assets.checks import exactly_once_check
from collection_tree.assets.evolution import previous_placement
from collection_tree.assets.llm_step import LLM_POOL, phase_llm
from collection_tree.assets.metadata import cluster_entries, phase_metadata
from collection_tree.assets.modes import BuildMode
from collection_tree.assets.parameters import asset_config, asset_params
from collection_tree.assets.progress import PhaseProgress
from collection_tree.assets.versions import code_version
from collection_tree.core.clusters import ClusterSet
from collection_tree.core.inputs import tracks_from_storage
from collection_tree.phases import reassignment
from collection_tree.phases.reassignment import ReassignParams, reassign_tracks
from collection_tree.resources.llm import LLMResource
from collection_tree.resources.settings import CollectionInputs, PipelineSettings

AssignedClustersConfig = asset_config("assigned_clusters")


def build_assigned_clusters_asset(mode: BuildMode) -> AssetsDefinition:
    @asset(
        key=mode.key("assigned_clusters"),
        code_version=code_version(reassignment, ReassignParams),
        group_name=mode.group, io_manager_key="json_io_manager",
        ins={"named_clusters": AssetIn(mode.key("named_clusters")), "tracks": AssetIn(mode.key("tracks")),
             "genre_tree": AssetIn(mode.key("genre_tree"))},
        pool=LLM_POOL, kinds={"python", "json"},
        description="Phase 3 (mechanical model): greedy dedup by coherence, then orphans and poor fits placed: "
                    "clear cases by track similarity, the rest by the LLM with a few candidate clusters each "
                    "(parallel batches, <= 3 passes, stop below 5% moved), leftovers to their most similar "
                    "cluster. The lineage guard keeps every track in a cluster of its own genre lineage. Every "
                    "track ends in exactly one cluster or in `unplaced` with a reason.",
    )
    def assigned_clusters(context: AssetExecutionContext, config: AssignedClustersConfig, inputs: CollectionInputs,
                          pipeline_settings: PipelineSettings, llm: LLMResource, named_clusters: ClusterSet,
                          tracks: pd.DataFrame, genre_tree: dict[str, Any]) -> ClusterSet:
        progress = PhaseProgress(context, "assigned_clusters")
        profile, params = asset_params(config, pipeline_settings.profile, "assigned_clusters")
        with phase_llm(context, llm, inputs, "assigned_clusters",
                       max_fallback_share=params.max_fallback_share, tracks=len(tracks)) as bound:
            previous = previous_placement(context, mode) if params.keep_previous else None
            assigned = reassign_tracks(named_clusters, tracks_from_storage(tracks), bound, params, progress,
                                       genre_tree=genre_tree, previous=previous)
        context.add_output_metadata(phase_metadata(
            mode, progress, params, profile=profile, report=assigned.report, llm=bound,
            **cluster_entries(assigned, ("id", "title", "size", "coherence"))))
        return assigned

    return assigned_clusters


def build_phase2_3_checks(mode: BuildMode) -> list[AssetChecksDefinition]:
    return [exactly_once_check(mode, "assigned_clusters")]
