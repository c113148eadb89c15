"""All assets (and asset checks) of one build mode, in phase order. Each phase module adds its
builder here."""

from dagster import AssetChecksDefinition, AssetsDefinition

from collection_tree.assets.assigned_clusters import build_assigned_clusters_asset, build_phase2_3_checks
from collection_tree.assets.inputs import build_input_assets
from collection_tree.assets.modes import BuildMode
from collection_tree.assets.named_clusters import build_named_clusters_asset
from collection_tree.assets.seed_clusters import build_seed_clusters_asset


def build_assets(mode: BuildMode) -> list[AssetsDefinition]:
    return [
        *build_input_assets(mode),
        build_seed_clusters_asset(mode),
        build_named_clusters_asset(mode),
        build_assigned_clusters_asset(mode),
    ]


def build_checks(mode: BuildMode) -> list[AssetChecksDefinition]:
    return [
        *build_phase2_3_checks(mode),
    ]
