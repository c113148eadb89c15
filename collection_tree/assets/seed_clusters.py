"""Phase 1 asset: seed clusters from genre leaf x scene leaf intersections."""


from typing import Any

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition, asset

from collection_tree.assets.metadata import phase_metadata
from collection_tree.assets.modes import BuildMode
from collection_tree.assets.parameters import asset_config, asset_params
from collection_tree.assets.progress import PhaseProgress
from collection_tree.assets.versions import code_version
from collection_tree.core.report import Table, size_stats
from collection_tree.phases import seed_clusters as seed_clusters_phase
from collection_tree.phases.seed_clusters import SeedParams, build_seed_clusters

SeedClustersConfig = asset_config("seed_clusters")


def build_seed_clusters_asset(mode: BuildMode) -> AssetsDefinition:
    cap = f" Test run: only the top {mode.max_seeds} seeds." if mode.max_seeds else ""

    @asset(
        key=mode.key("seed_clusters"),
        code_version=code_version(seed_clusters_phase, SeedParams),
        group_name=mode.group, io_manager_key="parquet_io_manager",
        ins={"genre_tree": AssetIn(mode.key("genre_tree")), "scene_tree": AssetIn(mode.key("scene_tree"))},
        description="Phase 1: every genre leaf x scene leaf pair sharing >= min_tracks "
                    f"({SeedParams.min_tracks} by default) tracks, with sorted track ids, both leaves' context and "
                    "merged filters, largest first." + cap,
        kinds={"pandas", "parquet"},
    )
    def seed_clusters(context: AssetExecutionContext, config: SeedClustersConfig,
                      genre_tree: dict[str, Any], scene_tree: dict[str, Any]) -> pd.DataFrame:
        progress = PhaseProgress(context, "seed_clusters")
        _, params = asset_params(config, "", "seed_clusters")
        seeds = build_seed_clusters(genre_tree, scene_tree, min_tracks=params.min_tracks,
                                    max_seeds=mode.max_seeds, progress=progress)
        covered = len(set().union(*[set(ids) for ids in seeds["track_ids"]])) if len(seeds) else 0
        context.add_output_metadata(phase_metadata(
            mode, progress, params, **{"dagster/row_count": len(seeds)}, seed_clusters=len(seeds),
            tracks_covered=covered, genre_leaves_used=int(seeds["genre_leaf_id"].nunique()),
            scene_leaves_used=int(seeds["scene_leaf_id"].nunique()),
            **size_stats(seeds["track_count"].tolist(), "seed_size"),
            preview=Table(seeds.head(15)[["id", "track_count", "genre_title", "scene_title"]].to_dict("records")),
            min_tracks=params.min_tracks))
        return seeds

    return seed_clusters
