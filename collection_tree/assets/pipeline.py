"""All assets of one build mode, in phase order."""

from __future__ import annotations

from dagster import AssetsDefinition

from collection_tree.assets.inputs import build_input_assets
from collection_tree.assets.modes import BuildMode
from collection_tree.assets.seed_clusters import build_seed_clusters_asset


def build_assets(mode: BuildMode) -> list[AssetsDefinition]:
    return [
        *build_input_assets(mode),
        build_seed_clusters_asset(mode),
    ]
