"""Phase 7 asset: per-track metadata suggestions, stored for review and never applied. Full build only
(the test run skips phase 7, as the reference's does)."""

from typing import Any

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition, asset

from collection_tree.assets.llm_step import LLM_POOL, phase_llm
from collection_tree.assets.metadata import phase_metadata
from collection_tree.assets.modes import BuildMode
from collection_tree.assets.parameters import asset_config, asset_params
from collection_tree.assets.progress import PhaseProgress
from collection_tree.assets.versions import code_version
from collection_tree.core.clusters import ClusterSet
from collection_tree.core.inputs import tracks_from_storage
from collection_tree.core.report import Json, Table
from collection_tree.llm.client import PhaseLLM
from collection_tree.llm.models import get_tiered_model
from collection_tree.phases import enrichment
from collection_tree.phases.enrichment import EnrichParams, suggest_metadata
from collection_tree.resources.llm import LLMResource
from collection_tree.resources.settings import CollectionInputs, PipelineSettings

MetadataSuggestionsConfig = asset_config("metadata_suggestions")


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


def suggestion_preview(result: dict[str, Any], leaves: ClusterSet) -> list[dict[str, Any]]:
    """The most confident suggestions first, one row per track."""
    titles = {c.id: c.title for c in leaves.clusters}
    rows = [
        {"leaf": titles.get(cid, cid), "track": item["track_id"], "confidence": item["confidence"],
         **{k: v if not isinstance(v, list) else ", ".join(v) for k, v in item["suggestions"].items()}}
        for cid, items in result["suggestions"].items() for item in items
    ]
    return sorted(rows, key=lambda row: -row["confidence"])[:20]


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
                    f"refinement) with confidence >= min_confidence ({EnrichParams.min_confidence} by default), "
                    "per leaf. Stored for review, never applied. Default profile: tracks already carrying their "
                    "leaf's dominant facets skipped, leaves packed into mechanical-tier calls, the creative tier "
                    "only for the grey zone.",
    )
    def metadata_suggestions(
        context: AssetExecutionContext, config: MetadataSuggestionsConfig, llm: LLMResource,
        inputs: CollectionInputs, pipeline_settings: PipelineSettings, collection_leaves: ClusterSet,
        tracks: pd.DataFrame,
    ) -> dict[str, Any]:
        profile, params = asset_params(config, pipeline_settings.profile, "metadata_suggestions")
        progress = PhaseProgress(context, "metadata_suggestions")
        with phase_llm(context, llm, inputs, "metadata_suggestions",
                       max_fallback_share=params.max_fallback_share, tracks=len(tracks)) as bound:
            result = suggest_metadata(collection_leaves, tracks_from_storage(tracks), bound, params, progress)
        context.add_output_metadata(phase_metadata(
            mode, progress, params, profile=profile, report=result["report"], llm=bound,
            cost_by_tier=Json(cost_by_tier(bound)), preview=Table(suggestion_preview(result, collection_leaves))))
        return result

    return metadata_suggestions
