"""Phase 7 asset: per-track metadata suggestions, stored for review and never applied. Full build only
(the test run skips phase 7, as the reference's does)."""

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
from collection_tree.assets.metadata import markdown_table
from collection_tree.assets.modes import BuildMode
from collection_tree.assets.progress import PhaseProgress
from collection_tree.assets.versions import code_version
from collection_tree.core.clusters import ClusterSet
from collection_tree.core.inputs import tracks_from_storage
from collection_tree.llm.client import PhaseLLM
from collection_tree.llm.models import get_tiered_model
from collection_tree.phases import enrichment
from collection_tree.phases.enrichment import EnrichParams, suggest_metadata
from collection_tree.resources.llm import LLMResource
from collection_tree.resources.settings import CollectionInputs, PipelineSettings


class MetadataSuggestionsConfig(LLMPhaseConfig):
    profile: str = Field("", description="'default' (tiered, packed) or 'seed' (the reference: one creative "
                                         "call per leaf); empty: the pipeline setting.")
    min_confidence: float | None = Field(None, ge=0.0, le=1.0, description="Keep suggestions at or above this.")
    max_tracks_per_call: int | None = Field(None, ge=1, description="Tracks packed into one call (default profile).")
    workers: int | None = Field(None, ge=1, description="Parallel LLM calls.")
    max_escalated_share: float | None = Field(None, ge=0.0, le=1.0, description=(
        "Grey-zone answers re-asked of the creative tier, at most this share of the reviewed tracks (0.1)."))


def cost_by_tier(bound: PhaseLLM) -> dict[str, dict[str, float]]:
    """Provider calls and USD per tier for this phase (cache hits cost nothing and are not counted)."""
    tier_of = {get_tiered_model(t, bound.client.model_config)[0]: t for t in ("mechanical", "creative")}
    out = {t: {"calls": 0, "cost_usd": 0.0} for t in ("mechanical", "creative")}
    for record in list(bound.client.records):
        if record.phase != bound.phase or record.cached:
            continue
        tier = tier_of.get(record.model, "creative")
        out[tier]["calls"] += 1
        out[tier]["cost_usd"] = round(out[tier]["cost_usd"] + record.cost_usd, 6)
    return out


def build_metadata_suggestions_asset(mode: BuildMode) -> AssetsDefinition | None:
    if not mode.enrich:
        return None

    @asset(
        key=mode.key("metadata_suggestions"),
        code_version=code_version(enrichment, EnrichParams),
        group_name=mode.group, io_manager_key="json_io_manager",
        ins={"collection_leaves": AssetIn(mode.key("collection_leaves")), "tracks": AssetIn(mode.key("tracks"))},
        pool=LLM_POOL, kinds={"python", "json"},
        description="Phase 7: per-track suggestions (genre refinement, scene tags, descriptors, era "
                    "refinement) with confidence >= 0.7, per leaf. Stored for review, never applied. "
                    "Default profile: tracks already carrying their leaf's dominant facets skipped, leaves "
                    "packed into mechanical-tier calls, the creative tier only for the grey zone.",
    )
    def metadata_suggestions(
        context: AssetExecutionContext, config: MetadataSuggestionsConfig, llm: LLMResource,
        inputs: CollectionInputs, pipeline_settings: PipelineSettings, collection_leaves: ClusterSet,
        tracks: pd.DataFrame,
    ) -> dict[str, Any]:
        profile, params = phase_params(config, pipeline_settings.profile, EnrichParams)
        progress = PhaseProgress(context, "metadata_suggestions")
        with phase_llm(context, llm, inputs, "metadata_suggestions",
                       max_fallback_share=params.max_fallback_share) as bound:
            result = suggest_metadata(collection_leaves, tracks_from_storage(tracks), bound, params, progress)
        report = result["report"]
        titles = {c.id: c.title for c in collection_leaves.clusters}
        preview = [
            {"leaf": titles.get(cid, cid), "track": item["track_id"], "confidence": item["confidence"],
             **{k: v if not isinstance(v, list) else ", ".join(v) for k, v in item["suggestions"].items()}}
            for cid, items in result["suggestions"].items() for item in items
        ]
        preview.sort(key=lambda row: -row["confidence"])
        context.add_output_metadata({
            "suggestions": report["suggestions"],
            "leaves_with_suggestions": report["leaves_with_suggestions"],
            "tracks_reviewed": report["tracks_reviewed"],
            "tracks_skipped_complete": report["tracks_skipped_complete"],
            "tracks_escalated": report["tracks_escalated"],
            "dropped_low_confidence": report["dropped_low_confidence"],
            "by_field": MetadataValue.json(report["by_field"]),
            "confidence_histogram": MetadataValue.json(report["confidence_histogram"]),
            "calls_by_tier": MetadataValue.json(report["calls_by_tier"]),
            "cost_by_tier": MetadataValue.json(cost_by_tier(bound)),
            "serial_calls": report["serial_calls"],
            "preview": markdown_table(preview[:20]),
            "profile": MetadataValue.text(profile),
            "min_confidence": params.min_confidence,
            "seconds": progress.elapsed(),
            **llm_step_metadata(bound),
        })
        return result

    return metadata_suggestions
