"""Phase 2 asset: every seed cluster named (title, description, coherence, poor fits)."""

from collections import Counter

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
from collection_tree.core.clusters import Cluster, ClusterSet, clusters_from_seeds
from collection_tree.core.inputs import tracks_from_storage
from collection_tree.phases import naming
from collection_tree.phases.naming import NamingParams, name_clusters
from collection_tree.resources.llm import LLMResource
from collection_tree.resources.settings import CollectionInputs, PipelineSettings


class NamedClustersConfig(LLMPhaseConfig):
    profile: str = Field("", description="'default' or 'seed' (the reference's values); empty: "
                                         "PipelineSettings.profile. The fields below override the profile.")
    batch_size: int | None = Field(None, description="Clusters per LLM call (default 40, seed 8).")
    workers: int | None = Field(None, description="Parallel calls (default 8, seed 4).")
    sample_tracks: int | None = Field(None, description="Sample tracks per cluster (20).")
    comment_chars: int | None = Field(None, description="Comment characters per sample track (150).")
    context_chars: int | None = Field(None, description="Characters of each leaf description (200).")
    max_tokens: int | None = Field(None, description="Answer token limit per call (8192).")


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
        profile, params = phase_params(config, pipeline_settings.profile, NamingParams)
        seeds = clusters_from_seeds(seed_clusters)
        frame = scope_tracks(tracks_from_storage(tracks), seeds, mode.max_seeds is not None)
        with phase_llm(context, llm, inputs, "named_clusters",
                       max_fallback_share=params.max_fallback_share) as bound:
            named = name_clusters(seeds, frame, bound, params, progress)
        report = named.report
        scored = [c.coherence for c in named.clusters if c.coherence is not None]
        by = Counter(c.named_by for c in named.clusters)
        context.add_output_metadata({
            "clusters": len(named.clusters),
            "tracks_in_scope": len(named.all_track_ids),
            "named_by_model": by.get("llm", 0) + by.get("offline", 0),
            "named_by_fallback": by.get("fallback", 0),
            "named_by": MetadataValue.json(dict(by)),
            "coherence_distribution": MetadataValue.json(report["coherence"]),
            "coherence_mean": round(sum(scored) / len(scored), 2) if scored else 0.0,
            "poor_fits_flagged": report["poor_fits"],
            "retitled_duplicates": report["retitled_duplicates"],
            "batches": report["batches"],
            "failed_batches": report["failed_batches"],
            "serial_calls": report["serial_calls"],
            **llm_step_metadata(bound),
            **size_stats([c.track_count for c in named.clusters], "cluster_size"),
            "preview": markdown_table([{"id": c.id, "title": c.title, "coherence": c.coherence,
                                        "size": c.track_count, "by": c.named_by} for c in named.clusters[:20]]),
            "profile": profile,
            "params": MetadataValue.json(params.__dict__),
            "seconds": progress.elapsed(),
            "mode": MetadataValue.text(mode.name),
        })
        return named

    return named_clusters
