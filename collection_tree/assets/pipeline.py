"""All assets (and asset checks) of one build mode, in phase order. Each phase module adds its
builder here; the shared attributes of every asset (its owners) are set here once."""

from dagster import AssetChecksDefinition, AssetsDefinition, AssetSpec, map_asset_specs

from collection_tree.assets.assigned_clusters import build_assigned_clusters_asset, build_phase2_3_checks
from collection_tree.assets.categories import build_categories_asset, build_categories_checks
from collection_tree.assets.collection_leaves import build_collection_leaves_asset
from collection_tree.assets.collection_tree import build_collection_tree_asset, build_leaves_checks
from collection_tree.assets.exports import build_export_assets
from collection_tree.assets.inputs import build_input_assets
from collection_tree.assets.metadata_suggestions import build_metadata_suggestions_asset
from collection_tree.assets.modes import BuildMode
from collection_tree.assets.named_clusters import build_named_clusters_asset
from collection_tree.assets.refined_clusters import build_refined_clusters_asset, build_refined_clusters_checks
from collection_tree.assets.seed_clusters import build_seed_clusters_asset

# Who answers for the assets (shown in the UI and by `dg list defs`).
OWNERS = ("team:collection-tree",)


def _owned(spec: AssetSpec) -> AssetSpec:
    return spec.replace_attributes(owners=list(OWNERS))


def build_assets(mode: BuildMode) -> list[AssetsDefinition]:
    return list(map_asset_specs(_owned, [
        *build_input_assets(mode),
        build_seed_clusters_asset(mode),
        build_named_clusters_asset(mode),
        build_assigned_clusters_asset(mode),
        build_refined_clusters_asset(mode),
        build_categories_asset(mode),
        # Phases 6-7 and the tree JSON, after `categories` (no phase 7 when not mode.enrich: the test run).
        build_collection_leaves_asset(mode),
        *([build_metadata_suggestions_asset(mode)] if mode.enrich else []),
        build_collection_tree_asset(mode),
        # Exports (M3U8, Rekordbox XML, HTML, suggestion review), downstream of collection_tree.
        *build_export_assets(mode),
    ]))


def build_checks(mode: BuildMode) -> list[AssetChecksDefinition]:
    return [
        *build_phase2_3_checks(mode),
        *build_refined_clusters_checks(mode),
        *build_categories_checks(mode),
        *build_leaves_checks(mode),
    ]
