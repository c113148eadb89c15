"""The three inputs as assets: read, validate, store normalised. A bad file fails here, naming the
file, the field and what was expected; nothing downstream is touched."""


from typing import Any

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition, MetadataValue, asset

from collection_tree.assets.metadata import markdown_table
from collection_tree.assets.modes import BuildMode
from collection_tree.core.inputs import collect_leaves, load_tracks, load_tree, tracks_from_storage
from collection_tree.resources.settings import CollectionInputs
from collection_tree.settings import Settings


def build_input_assets(mode: BuildMode) -> list[AssetsDefinition]:
    @asset(
        key=mode.key("tracks"), group_name=mode.group, io_manager_key="parquet_io_manager",
        description="The collection's tracks (CSV or Parquet), validated: one row per track, list "
                    f"facets parsed. Source: {Settings.env_name('tracks')}, else the demo collection.",
        kinds={"pandas", "parquet"},
    )
    def tracks(context: AssetExecutionContext, inputs: CollectionInputs) -> pd.DataFrame:
        path = inputs.resolved()["tracks"]
        frame = load_tracks(path)
        context.add_output_metadata({
            "path": MetadataValue.path(str(path)),
            "dagster/row_count": len(frame),
            "artists": int(frame["artist"].nunique()),
            "years": f"{frame['year'].min()}-{frame['year'].max()}",
            "columns": MetadataValue.json(list(frame.columns)),
            "with_scene_tags": int(frame["scene_tags"].map(bool).sum()),
            "preview": markdown_table(frame.head(8)[["track_id", "title", "artist", "year", "genre"]]
                                      .to_dict("records")),
        })
        return frame

    def tree_asset(tree_type: str) -> AssetsDefinition:
        env = Settings.env_name(f"{tree_type}_tree")

        @asset(
            name=f"{tree_type}_tree", key_prefix=list(mode.prefix) or None, group_name=mode.group,
            io_manager_key="json_io_manager", ins={"tracks": AssetIn(mode.key("tracks"))},
            description=f"The {tree_type} tree (JSON), validated against the tracks: unknown track ids "
                        f"dropped and counted. Source: {env}, else the demo collection.",
            kinds={"json"},
        )
        def _tree(context: AssetExecutionContext, inputs: CollectionInputs,
                  tracks: pd.DataFrame) -> dict[str, Any]:
            path = inputs.resolved()[f"{tree_type}_tree"]
            known = set(tracks["track_id"].astype(int).tolist())
            tree = load_tree(path, tree_type, known)
            leaves = collect_leaves(tree.doc)
            for warning in tree.warnings[:10]:
                context.log.warning(warning)
            context.add_output_metadata({
                "path": MetadataValue.path(str(path)),
                "tree_id": tree.id,
                "created_at": tree.created_at,
                "lineages": len(tree.doc["lineages"]),
                "leaves": len(leaves),
                "tracks_in_leaves": len({t for leaf in leaves for t in leaf["track_ids"]}),
                "dropped_unknown_ids": tree.dropped_unknown_ids,
            })
            return tree.doc

        return _tree

    return [tracks, tree_asset("genre"), tree_asset("scene")]


def load_tracks_input(frame: pd.DataFrame) -> pd.DataFrame:
    """Downstream assets receive the stored tracks table; restore list facets."""
    return tracks_from_storage(frame)

