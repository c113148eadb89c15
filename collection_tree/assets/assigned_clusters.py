"""Phase 3 asset: dedup and reassignment, so every track sits in exactly one cluster (or is explained)."""

from collections import Counter
from typing import Any

import pandas as pd
from dagster import (
    AssetChecksDefinition,
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    MetadataValue,
    asset,
)
from pydantic import Field

from collection_tree.assets.checks import exactly_once_check, exactly_once_summary
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
from collection_tree.phases import reassignment
from collection_tree.phases.reassignment import ReassignParams, reassign_tracks
from collection_tree.resources.llm import LLMResource
from collection_tree.resources.settings import CollectionInputs, PipelineSettings


class AssignedClustersConfig(LLMPhaseConfig):
    profile: str = Field("", description="'default' or 'seed' (the reference: serial, 80 per call, every "
                                         "cluster offered); empty: PipelineSettings.profile. Fields below override.")
    batch_size: int | None = Field(None, description="Tracks per LLM call (default 150, seed 80).")
    max_passes: int | None = Field(None, description="LLM passes at most (3).")
    stop_below: float | None = Field(None, description="Stop when a pass moves fewer than this share (0.05).")
    workers: int | None = Field(None, description="Parallel calls per pass (default 8, seed 1 = serial).")
    preassign: bool | None = Field(None, description="Place clear cases by track similarity, without the LLM.")
    preassign_min_score: float | None = Field(None, description="Similarity (0-1) the best cluster needs (0.5).")
    preassign_margin: float | None = Field(None, description="Lead over the runner-up it needs (0.05).")
    candidates: int | None = Field(None, description="Clusters offered per track (8; 0 = all, as the reference).")
    include_context: bool | None = Field(None, description="Genre/scene titles in the cluster summaries.")
    comment_chars: int | None = Field(None, description="Comment characters per track (100).")
    max_tokens: int | None = Field(None, description="Answer token limit per call (8192).")
    min_cluster_size: int | None = Field(None, description="Fold clusters left smaller than this into their "
                                                           "tracks' best other clusters (default 5; seed 0 = keep).")


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
        profile, params = phase_params(config, pipeline_settings.profile, ReassignParams)
        frame = tracks_from_storage(tracks)
        with phase_llm(context, llm, inputs, "assigned_clusters",
                       max_fallback_share=params.max_fallback_share) as bound:
            assigned = reassign_tracks(named_clusters, frame, bound, params, progress, genre_tree=genre_tree)
        report = assigned.report
        reasons = Counter(u["reason"] for u in assigned.unplaced)
        context.add_output_metadata({
            "clusters_before_dedup": report["clusters_in"],
            "clusters_after_dedup": report["clusters_after_dedup"],
            "clusters": report["clusters_out"],
            "small_clusters_folded": report["small_clusters_folded"],
            "tracks_in_scope": len(assigned.all_track_ids),
            "orphans": report["orphans"],
            "poor_fits": report["poor_fits"],
            "similarity_poor_fits": report["similarity_poor_fits"],
            "lineage_guard": MetadataValue.json(report["lineage_guard"]),
            "preassigned": report["preassigned"],
            "llm_assigned": report["llm_assigned"],
            "fallback_assigned": report["fallback_assigned"],
            "fallback_by": MetadataValue.json(report["fallback_by"]),
            "unplaced": report["unplaced"],
            "unplaced_reasons": markdown_table([{"reason": r, "tracks": n} for r, n in reasons.most_common()]),
            "unplaced_preview": markdown_table(assigned.unplaced[:10]),
            "convergence": markdown_table(report["passes"], ["pass", "tracks_sent", "moved", "pct_moved", "calls",
                                                              "serial_calls", "failed_batches"]),
            "passes": len(report["passes"]),
            "serial_calls": report["serial_calls"],
            "exactly_once": exactly_once_summary(assigned),
            **llm_step_metadata(bound),
            **size_stats([c.track_count for c in assigned.clusters], "cluster_size"),
            "preview": markdown_table([{"id": c.id, "title": c.title, "size": c.track_count,
                                        "coherence": c.coherence} for c in assigned.clusters[:20]]),
            "profile": profile,
            "params": MetadataValue.json(report["params"]),
            "seconds": progress.elapsed(),
            "mode": MetadataValue.text(mode.name),
        })
        return assigned

    return assigned_clusters


def build_phase2_3_checks(mode: BuildMode) -> list[AssetChecksDefinition]:
    return [exactly_once_check(mode, "assigned_clusters")]
