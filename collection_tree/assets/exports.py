"""Exports downstream of the collection tree: M3U8 playlists, Rekordbox XML, the HTML browser and
(full build only) the metadata-suggestion review table. Each reads only the stored tree and tracks,
writes its files itself (atomically) and returns a MaterializeResult, so each can be
re-materialised alone. Stored documents arrive through declared inputs (the IO manager), so a
store on object storage works too."""

from pathlib import Path
from typing import Any

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)

from collection_tree.assets.metadata import markdown_table
from collection_tree.assets.modes import BuildMode
from collection_tree.assets.parameters import asset_config, asset_params
from collection_tree.core.clusters import ClusterSet
from collection_tree.core.inputs import tracks_from_storage
from collection_tree.exports import iter_leaves
from collection_tree.exports.html_browser import write_collection_html
from collection_tree.exports.m3u import playlist_layout, write_leaf_playlists
from collection_tree.exports.paths import MUSIC_ROOT_ENV
from collection_tree.exports.rekordbox import write_rekordbox_xml
from collection_tree.exports.suggestions_review import (
    TABLE_NAME,
    build_review_table,
    read_review_table,
    write_review_table,
)
from collection_tree.exports.ungrouped import NOT_RECORDED, reasons_of, ungrouped_tracks
from collection_tree.resources.settings import CollectionInputs, PipelineSettings

ExportConfig = asset_config("m3u_playlists")  # the same ExportParams as rekordbox_xml


def _music_root(config: Config, inputs: CollectionInputs) -> str:
    """Relative locations are taken as relative to the tracks file unless told otherwise: a
    playlist or Rekordbox needs absolute paths, and a library usually sits beside its tag export."""
    _, params = asset_params(config, "", "m3u_playlists")
    return (params.music_root or inputs.pipeline_settings.music_root
            or str(inputs.resolved()["tracks"].resolve().parent))


def _ins(mode: BuildMode) -> dict[str, AssetIn]:
    # Input managers named explicitly: an export loads the stored documents the same way whether or
    # not the upstream assets are part of the run.
    return {"collection_tree": AssetIn(mode.key("collection_tree"), input_manager_key="json_io_manager"),
            "tracks": AssetIn(mode.key("tracks"), input_manager_key="parquet_io_manager")}


def _output_dir(mode: BuildMode, settings: PipelineSettings) -> Path:
    return mode.places(settings.places()).output


def _path_meta(path: Path) -> dict[str, Any]:
    return {"path": MetadataValue.path(str(path)), "url": MetadataValue.url(path.resolve().as_uri())}


def build_export_assets(mode: BuildMode) -> list[AssetsDefinition]:
    @asset(key=mode.key("m3u_playlists"), group_name=mode.group, ins=_ins(mode), kinds={"m3u8"},
           description="One M3U8 playlist per leaf under <output>/playlists/<category>/<leaf>.m3u8 "
                       "(exemplars first). The folder is replaced whole, so removed leaves leave no file.")
    def m3u_playlists(context: AssetExecutionContext, config: ExportConfig, pipeline_settings: PipelineSettings,
                      inputs: CollectionInputs, collection_tree: dict[str, Any],
                      tracks: pd.DataFrame) -> MaterializeResult:
        out = _output_dir(mode, pipeline_settings)
        report = write_leaf_playlists(collection_tree, tracks_from_storage(tracks), out, _music_root(config, inputs))
        if report.relative_paths:
            context.log.warning(f"{report.relative_paths} playlist entries are relative paths; set "
                                f"{MUSIC_ROOT_ENV} (or music_root) to the folder the locations are under")
        layout = playlist_layout(collection_tree)
        preview = [{"category": c.get("title"), "leaf": leaf.get("title"), "tracks": leaf.get("track_count"),
                    "file": layout[str(leaf.get("id"))]} for c, leaf in iter_leaves(collection_tree)]
        return MaterializeResult(metadata={
            "path": MetadataValue.path(str(out / "playlists")),
            "playlists": len(report.files), "tracks_written": report.tracks_written,
            "missing_location": report.missing_location, "relative_paths": report.relative_paths,
            "unrepresentable_paths": report.unrepresentable, "preview": markdown_table(preview, limit=15),
        })

    @asset(key=mode.key("rekordbox_xml"), group_name=mode.group, ins=_ins(mode), kinds={"xml"},
           description="<output>/rekordbox.xml: the tree as Rekordbox playlist folders (import via "
                       "Preferences > Advanced > rekordbox xml). Carries no comments or genres, so an "
                       "import cannot overwrite the library's own tags.")
    def rekordbox_xml(context: AssetExecutionContext, config: ExportConfig, pipeline_settings: PipelineSettings,
                      inputs: CollectionInputs, collection_tree: dict[str, Any],
                      tracks: pd.DataFrame) -> MaterializeResult:
        target = _output_dir(mode, pipeline_settings) / "rekordbox.xml"
        report = write_rekordbox_xml(collection_tree, tracks_from_storage(tracks), target, _music_root(config, inputs))
        left_out = report.missing_location + report.relative_location
        if left_out:
            context.log.warning(f"{left_out} tracks left out of rekordbox.xml: Rekordbox needs absolute file "
                                f"locations ({report.relative_location} relative: set {MUSIC_ROOT_ENV}; "
                                f"{report.missing_location} without a location)")
        return MaterializeResult(metadata={
            **_path_meta(target), "tracks": report.tracks, "playlists": report.playlists,
            "folders": report.folders, "left_out_relative_location": report.relative_location,
            "left_out_missing_location": report.missing_location,
        })

    @asset(key=mode.key("collection_html"), group_name=mode.group,
           ins={**_ins(mode), "collection_leaves": AssetIn(mode.key("collection_leaves"),
                                                           input_manager_key="json_io_manager")},
           deps=[mode.key("m3u_playlists")], kinds={"html"},
           description="<output>/collection.html: a self-contained browser of the tree (category sidebar, "
                       "card grid, search, playlist links, ungrouped tracks with reasons); opens from disk.")
    def collection_html(context: AssetExecutionContext, pipeline_settings: PipelineSettings,
                        collection_tree: dict[str, Any], tracks: pd.DataFrame,
                        collection_leaves: ClusterSet) -> MaterializeResult:
        out = _output_dir(mode, pipeline_settings)
        # The leaves' unplaced list carries every earlier phase's reasons (each phase passes it on).
        rows = ungrouped_tracks(collection_tree, tracks_from_storage(tracks), reasons_of(collection_leaves))
        target = write_collection_html(collection_tree, playlist_layout(collection_tree), rows,
                                       out / "collection.html")
        return MaterializeResult(metadata={
            **_path_meta(target), "bytes": target.stat().st_size,
            "categories": len(collection_tree.get("categories", [])),
            "cards": sum(1 for _ in iter_leaves(collection_tree)), "ungrouped": len(rows),
            "ungrouped_without_reason": sum(r["reason"] == NOT_RECORDED for r in rows),
        })

    assets = [m3u_playlists, rekordbox_xml, collection_html]
    if not mode.enrich:
        return assets

    @asset(key=mode.key("metadata_suggestions_review"), group_name=mode.group, ins=_ins(mode),
           kinds={"csv", "parquet"},
           description="<output>/metadata_suggestions.csv/.parquet: one row per (track, field) with the "
                       "current and proposed value, status pending. Review with `collection-tree suggestions "
                       "show`, apply with `suggestions apply` (writes a new tracks file, never in place).")
    def metadata_suggestions_review(context: AssetExecutionContext, pipeline_settings: PipelineSettings,
                                    collection_tree: dict[str, Any], tracks: pd.DataFrame) -> MaterializeResult:
        out = _output_dir(mode, pipeline_settings)
        previous = None
        if (out / f"{TABLE_NAME}.parquet").exists():
            try:  # keep the statuses of an earlier review; an unreadable table only costs that
                previous = read_review_table(out)
            except (OSError, ValueError, KeyError) as exc:
                context.log.warning(f"previous review table unreadable, statuses start over: {exc}")
        table = build_review_table(collection_tree, tracks_from_storage(tracks), previous)
        parquet_path, csv_path = write_review_table(table, out)
        counts = table["field"].value_counts().to_dict()
        return MaterializeResult(metadata={
            "path": MetadataValue.path(str(csv_path)), "parquet": MetadataValue.path(str(parquet_path)),
            "dagster/row_count": len(table), "tracks": int(table["track_id"].nunique()),
            **{f"rows_{field}": int(counts.get(field, 0)) for field in ("genre", "scene_tags", "descriptors", "era")},
            "kept_review_status": int((table["status"] != "pending").sum()),
            "preview": markdown_table(table.head(10)[["id", "artist", "title", "field", "current", "proposed",
                                                      "confidence"]].to_dict("records")),
        })

    return [*assets, metadata_suggestions_review]
