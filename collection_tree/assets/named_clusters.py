"""Phase 2 asset: every seed cluster named (title, description, coherence, poor fits)."""

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition, asset

from collection_tree.assets.llm_step import LLM_POOL, phase_llm
from collection_tree.assets.metadata import cluster_entries, phase_metadata
from collection_tree.assets.modes import BuildMode
from collection_tree.assets.parameters import asset_config, asset_params
from collection_tree.assets.progress import PhaseProgress
from collection_tree.assets.versions import code_version
from collection_tree.core.clusters import Cluster, ClusterSet, clusters_from_seeds
from collection_tree.core.inputs import tracks_from_storage
from collection_tree.phases import naming
from collection_tree.phases.naming import NamingParams, name_clusters
from collection_tree.resources.llm import LLMResource
from collection_tree.resources.settings import CollectionInputs, PipelineSettings

NamedClustersConfig = asset_config("named_clusters")


def scope_tracks(tracks: pd.DataFrame, seeds: list[Cluster], capped: bool) -> pd.DataFrame:
    """Test mode (seeds capped): only the tracks of those seeds are in scope, as in the reference."""
    if not capped:
        return tracks
    in_seeds = {t for seed in seeds for t in seed.track_ids}
    return tracks[tracks["track_id"].isin(in_seeds)].reset_index(drop=True)


def build_named_clusters_asset(mode: BuildMode) -> AssetsDefinition:
    scope = (f" Test run: only the tracks of the top {mode.max_seeds} seeds are in scope." if mode.max_seeds
             else "")

    @asset(
        key=mode.key("named_clusters"),
        code_version=code_version(naming, NamingParams),
        group_name=mode.group, io_manager_key="json_io_manager",
        ins={"seed_clusters": AssetIn(mode.key("seed_clusters")), "tracks": AssetIn(mode.key("tracks"))},
        pool=LLM_POOL, kinds={"python", "json"},
        description="Phase 2 (creative model): a title, a 3-4 sentence description, a coherence score 1-10 "
                    "and the poor-fit tracks of every seed cluster, in parallel batches; a failed batch "
                    "falls back to 'Genre × Scene'." + scope,
    )
    def named_clusters(context: AssetExecutionContext, config: NamedClustersConfig, inputs: CollectionInputs,
                       pipeline_settings: PipelineSettings, llm: LLMResource, seed_clusters: pd.DataFrame,
                       tracks: pd.DataFrame) -> ClusterSet:
        progress = PhaseProgress(context, "named_clusters")
        profile, params = asset_params(config, pipeline_settings.profile, "named_clusters")
        seeds = clusters_from_seeds(seed_clusters)
        frame = scope_tracks(tracks_from_storage(tracks), seeds, mode.max_seeds is not None)
        with phase_llm(context, llm, inputs, "named_clusters",
                       max_fallback_share=params.max_fallback_share, tracks=len(tracks)) as bound:
            named = name_clusters(seeds, frame, bound, params, progress)
        context.add_output_metadata(phase_metadata(
            mode, progress, params, profile=profile, report=named.report, llm=bound,
            **cluster_entries(named, ("id", "title", "coherence", "size", "named_by"), exactly_once=False)))
        return named

    return named_clusters
