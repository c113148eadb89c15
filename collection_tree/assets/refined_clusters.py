"""Phase 4 asset: the quality pass (score, merge, split), keeping every track in exactly one cluster."""

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
from collection_tree.phases import refinement
from collection_tree.phases.refinement import RefineParams, refine_clusters
from collection_tree.resources.llm import LLMResource
from collection_tree.resources.settings import CollectionInputs, PipelineSettings

ITERATION_COLUMNS = ["iteration", "clusters_in", "clusters_scored", "mean_score", "min_score", "below_stop_score",
                     "merge_suggestions", "split_suggestions", "merges", "splits", "split_attempts", "calls",
                     "serial_calls", "clusters_out"]


class RefinedClustersConfig(LLMPhaseConfig):
    profile: str = Field("", description="'default' or 'seed' (the reference: 15 compact summaries per call, "
                                         "serial); empty: PipelineSettings.profile. Fields below override.")
    batch_size: int | None = Field(None, description="Clusters per scoring call (default 60, seed 15).")
    max_iterations: int | None = Field(None, description="Score/merge/split rounds at most (3).")
    max_merges: int | None = Field(None, description="Merges per iteration at most (5).")
    max_splits: int | None = Field(None, description="Split attempts per iteration at most (3).")
    min_split_size: int | None = Field(None, description="Only clusters with more tracks than this are split (30).")
    stop_score: float | None = Field(None, description="Stop when every score reaches this and nothing is "
                                                       "suggested (7).")
    rename_sample: int | None = Field(None, description="Sampled tracks for a merged cluster's new name (20).")
    workers: int | None = Field(None, description="Parallel calls (default 8, seed 1 = serial).")
    features: bool | None = Field(None, description="Track-level features (year, era, bpm, key, energy, tag "
                                                    "agreement) in the scoring payload (default on, seed off).")


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
        profile, params = phase_params(config, pipeline_settings.profile, RefineParams)
        with phase_llm(context, llm, inputs, "refined_clusters",
                       max_fallback_share=params.max_fallback_share) as bound:
            refined = refine_clusters(assigned_clusters, tracks_from_storage(tracks), bound, params, progress,
                                      genre_tree=genre_tree)
        report = refined.report
        context.add_output_metadata({
            "clusters_in": report["clusters_in"],
            "clusters_out": report["clusters_out"],
            "merges": report["merges"],
            "splits": report["splits"],
            "iterations_run": report["iterations_run"],
            "converged": report["converged"],
            "stop_reason": MetadataValue.text(report["stop_reason"]),
            "iterations": markdown_table(report["iterations"], ITERATION_COLUMNS),
            "score_distribution": MetadataValue.json(report["score_distribution"]),
            "calls": report["calls"],
            "serial_calls": report["serial_calls"],
            "merged_preview": markdown_table(report["merged"], ["iteration", "into", "from", "tracks", "title",
                                                                "renamed"]),
            "split_preview": markdown_table(report["split"], ["iteration", "parent", "tracks", "into"]),
            "exactly_once": exactly_once_summary(refined),
            "unplaced": len(refined.unplaced),
            "unplaced_reasons": markdown_table([{"reason": r, "tracks": n} for r, n in
                                                Counter(u["reason"] for u in refined.unplaced).most_common()]),
            "lineage_guard": MetadataValue.json(report["lineage_guard"]),
            "bounds": MetadataValue.json({k: v for k, v in report["bounds"].items() if k != "split_log"}),
            "bound_splits": markdown_table(report["bounds"].get("split_log", []), ["parent", "tracks", "into"]),
            "leaves_over_max": report["leaves_over_max"],
            "leaves_under_min": report["leaves_under_min"],
            "largest_leaf": report["largest_leaf"],
            **size_stats([c.track_count for c in refined.clusters], "cluster_size"),
            "preview": markdown_table([{"id": c.id, "title": c.title, "size": c.track_count, "score": c.quality_score,
                                        "origin": c.origin} for c in refined.clusters[:20]]),
            **llm_step_metadata(bound),
            "profile": profile,
            "params": MetadataValue.json(report["params"]),
            "seconds": progress.elapsed(),
            "mode": MetadataValue.text(mode.name),
        })
        return refined

    return refined_clusters


def build_refined_clusters_checks(mode: BuildMode) -> list[AssetChecksDefinition]:
    return [exactly_once_check(mode, "refined_clusters")]
