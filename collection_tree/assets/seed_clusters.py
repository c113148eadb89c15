"""Phase 1 asset: seed clusters from genre leaf x scene leaf intersections."""


from typing import Any

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition, Config, MetadataValue, asset
from pydantic import Field

from collection_tree.assets.metadata import markdown_table, size_stats
from collection_tree.assets.modes import BuildMode
from collection_tree.assets.progress import PhaseProgress
from collection_tree.assets.versions import code_version
from collection_tree.phases import seed_clusters as seed_clusters_phase
from collection_tree.phases.seed_clusters import build_seed_clusters


class SeedClustersConfig(Config):
    min_tracks: int = Field(5, ge=1, description="Keep genre x scene pairs sharing at least this many tracks.")


def build_seed_clusters_asset(mode: BuildMode) -> AssetsDefinition:
    cap = f" Test run: only the top {mode.max_seeds} seeds." if mode.max_seeds else ""

    @asset(
        key=mode.key("seed_clusters"),
        code_version=code_version(seed_clusters_phase, extra={"min_tracks": SeedClustersConfig().min_tracks}),
        group_name=mode.group, io_manager_key="parquet_io_manager",
        ins={"genre_tree": AssetIn(mode.key("genre_tree")), "scene_tree": AssetIn(mode.key("scene_tree"))},
        description="Phase 1: every genre leaf x scene leaf pair sharing >= min_tracks tracks, with "
                    "sorted track ids, both leaves' context and merged filters, largest first." + cap,
        kinds={"pandas", "parquet"},
    )
    def seed_clusters(context: AssetExecutionContext, config: SeedClustersConfig,
                      genre_tree: dict[str, Any], scene_tree: dict[str, Any]) -> pd.DataFrame:
        progress = PhaseProgress(context, "seed_clusters")
        seeds = build_seed_clusters(genre_tree, scene_tree, min_tracks=config.min_tracks,
                                    max_seeds=mode.max_seeds, progress=progress)
        covered = len(set().union(*[set(ids) for ids in seeds["track_ids"]])) if len(seeds) else 0
        context.add_output_metadata({
            "dagster/row_count": len(seeds),
            "seed_clusters": len(seeds),
            "tracks_covered": covered,
            "genre_leaves_used": int(seeds["genre_leaf_id"].nunique()),
            "scene_leaves_used": int(seeds["scene_leaf_id"].nunique()),
            **size_stats(seeds["track_count"].tolist(), "seed_size"),
            "seconds": progress.elapsed(),
            "preview": markdown_table(seeds.head(15)[["id", "track_count", "genre_title", "scene_title"]]
                                      .to_dict("records")),
            "min_tracks": config.min_tracks,
            "mode": MetadataValue.text(mode.name),
        })
        return seeds

    return seed_clusters
