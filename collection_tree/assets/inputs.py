"""The three inputs as assets: read, validate, store normalised. A bad file fails here, naming the
file, the field and what was expected; nothing downstream is touched. Each records the file it read
(``source_path``) and its ``sha256``, which is also the materialisation's Dagster data version: a
re-read of the same content leaves everything downstream fresh, other content makes it stale."""


import warnings
from pathlib import Path
from typing import Any

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    BetaWarning,
    DataVersion,
    MetadataValue,
    Output,
    asset,
)

from collection_tree.assets.metadata import markdown_table
from collection_tree.assets.modes import BuildMode
from collection_tree.core.inputs import collect_leaves, file_sha256, load_tracks, load_tree, tracks_from_storage
from collection_tree.resources.settings import CollectionInputs
from collection_tree.settings import Settings

MAX_LOGGED_WARNINGS = 20  # per tree in the run log; the metadata lists up to 100


def build_input_assets(mode: BuildMode) -> list[AssetsDefinition]:
    @asset(
        key=mode.key("tracks"), group_name=mode.group, io_manager_key="parquet_io_manager",
        description="The collection's tracks (CSV or Parquet), validated: one row per track, list "
                    f"facets parsed. Source: {Settings.env_name('tracks')}, else the demo collection.",
        kinds={"pandas", "parquet"},
    )
    def tracks(context: AssetExecutionContext, inputs: CollectionInputs) -> Output[pd.DataFrame]:
        path = inputs.resolved()["tracks"]
        digest = file_sha256(path)
        frame = load_tracks(path)
        return versioned_output(frame, digest, {
            **source_metadata(path, digest),
            "dagster/row_count": len(frame),
            "artists": int(frame["artist"].nunique()),
            "years": f"{frame['year'].min()}-{frame['year'].max()}",
            "columns": MetadataValue.json(list(frame.columns)),
            "with_scene_tags": int(frame["scene_tags"].map(bool).sum()),
            "preview": markdown_table(frame.head(8)[["track_id", "title", "artist", "year", "genre"]]
                                      .to_dict("records")),
        })

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
                  tracks: pd.DataFrame) -> Output[dict[str, Any]]:
            path = inputs.resolved()[f"{tree_type}_tree"]
            digest = file_sha256(path)
            known = set(tracks["track_id"].astype(int).tolist())
            tree = load_tree(path, tree_type, known, track_columns=set(tracks.columns))
            leaves = collect_leaves(tree.doc)
            for warning in tree.warnings[:10] + tree.filter_warnings[:MAX_LOGGED_WARNINGS]:
                context.log.warning(warning)
            if len(tree.filter_warnings) > MAX_LOGGED_WARNINGS:
                context.log.warning(f"{path}: {len(tree.filter_warnings) - MAX_LOGGED_WARNINGS} more filter "
                                    "warnings (see the asset's metadata)")
            return versioned_output(tree.doc, digest, {
                **source_metadata(path, digest),
                "tree_id": tree.id,
                "created_at": tree.created_at,
                "lineages": len(tree.doc["lineages"]),
                "leaves": len(leaves),
                "tracks_in_leaves": len({t for leaf in leaves for t in leaf["track_ids"]}),
                "dropped_unknown_ids": tree.dropped_unknown_ids,
                "filter_warnings": len(tree.filter_warnings),
                "filter_warning_list": MetadataValue.json(tree.filter_warnings[:100]),
            })

        return _tree

    return [tracks, tree_asset("genre"), tree_asset("scene")]


def versioned_output(value: Any, digest: str, metadata: dict[str, Any]) -> Output:
    """The value with the file's sha256 as its data version (a beta parameter of ``Output``: its warning
    would reach every build's stderr)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)
        return Output(value, data_version=DataVersion(digest), metadata=metadata)


def source_metadata(path: Path, digest: str) -> dict[str, Any]:
    """The file an input asset read and its content hash (``path`` is the IO manager's: the stored copy)."""
    return {"source_path": MetadataValue.path(str(path)), "sha256": MetadataValue.text(digest)}


def load_tracks_input(frame: pd.DataFrame) -> pd.DataFrame:
    """Downstream assets receive the stored tracks table; restore list facets."""
    return tracks_from_storage(frame)

