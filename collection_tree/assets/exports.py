"""Exports downstream of the collection tree: M3U8 playlists, Rekordbox XML, Traktor NML, Serato
crates, the HTML browser and (full build only) the metadata-suggestion review table. Every export
plays a leaf in the tree's play order (leaf ``order``) and shows categories (and sections) as
folders. Each reads only the stored tree and tracks, writes its files itself (atomically) and
returns a MaterializeResult, so each can be re-materialised alone. Stored documents arrive through
declared inputs (the IO manager), so a store on object storage works too."""

from pathlib import Path
from typing import Any

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from collection_tree.assets.metadata import markdown_table
from collection_tree.assets.modes import BuildMode
from collection_tree.assets.parameters import asset_config, asset_params
from collection_tree.core.inputs import LIST_FACETS, tracks_from_storage
from collection_tree.exports import iter_leaves, provenance
from collection_tree.exports.html_browser import write_collection_html
from collection_tree.exports.m3u import playlist_layout, write_leaf_playlists
from collection_tree.exports.paths import MUSIC_ROOT_ENV, absolute_form
from collection_tree.exports.rekordbox import top_folder_name, write_rekordbox_xml
from collection_tree.exports.serato import SUBCRATES_DIR, write_serato_crates
from collection_tree.exports.suggestions_review import (
    TABLE_NAME,
    build_review_table,
    read_review_table,
    write_review_table,
)
from collection_tree.exports.traktor import write_traktor_nml
from collection_tree.exports.ungrouped import NOT_RECORDED, ungrouped_tracks
from collection_tree.resources.settings import CollectionInputs, PipelineSettings

ExportConfig = asset_config("m3u_playlists")  # the same ExportParams as rekordbox_xml and serato_crates
TraktorConfig = asset_config("traktor_nml")


def _music_root(config: Any, inputs: CollectionInputs, asset: str = "m3u_playlists") -> str:
    """Relative locations are taken as relative to the tracks file unless told otherwise: a
    playlist or Rekordbox needs absolute paths, and a library usually sits beside its tag export.
    Made absolute in the user's own form (never resolving symlinks: the DJ library holds that form)."""
    _, params = asset_params(config, "", asset)
    root = params.music_root or inputs.pipeline_settings.music_root
    return absolute_form(root) if root else str(Path(absolute_form(inputs.resolved()["tracks"])).parent)


def _without_facets(tracks: pd.DataFrame) -> pd.DataFrame:
    """The stored tracks for a DJ export (M3U, Rekordbox, Traktor, Serato), which names no genre, tag or
    descriptor: without the list facets, so it skips turning them back into lists (``tracks_from_storage``)."""
    return tracks.drop(columns=[c for c in LIST_FACETS if c in tracks.columns])


def _left_out(context: AssetExecutionContext, what: str, missing: int, relative: int, refused: int) -> None:
    if missing + relative + refused:
        context.log.warning(f"{missing + relative + refused} tracks left out of {what}: it needs absolute file "
                            f"locations ({relative} relative: set {MUSIC_ROOT_ENV}; {missing} without a location; "
                            f"{refused} refused: a '..' location climbing out of the music root, or control or "
                            "bidi characters in the path)")


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
                       "(exemplars first). The folder is replaced whole, so removed leaves leave no file; a playlist "
                       "the previous export made from the same leaf and tracks is linked, not rendered again.")
    def m3u_playlists(context: AssetExecutionContext, config: ExportConfig, pipeline_settings: PipelineSettings,
                      inputs: CollectionInputs, collection_tree: dict[str, Any],
                      tracks: pd.DataFrame) -> MaterializeResult:
        out = _output_dir(mode, pipeline_settings)
        report = write_leaf_playlists(collection_tree, _without_facets(tracks), out, _music_root(config, inputs),
                                      reuse=True)
        if report.relative_paths:
            context.log.warning(f"{report.relative_paths} playlist entries are relative paths; set "
                                f"{MUSIC_ROOT_ENV} (or music_root) to the folder the locations are under")
        if report.outside_music_root or report.unrepresentable:
            context.log.warning(f"{report.outside_music_root} tracks refused: their '..' location climbs out of the "
                                f"music root; {report.unrepresentable} refused: control or bidi characters in "
                                "the path")
        layout = playlist_layout(collection_tree)
        preview = [{"category": c.get("title"), "leaf": leaf.get("title"), "tracks": leaf.get("track_count"),
                    "file": layout[str(leaf.get("id"))]} for c, leaf in iter_leaves(collection_tree)]
        return MaterializeResult(metadata={
            "path": MetadataValue.path(str(out / "playlists")),
            "playlists": len(report.files), "playlists_kept": report.kept, "tracks_written": report.tracks_written,
            "missing_location": report.missing_location, "relative_paths": report.relative_paths,
            "unrepresentable_paths": report.unrepresentable, "outside_music_root": report.outside_music_root,
            "preview": markdown_table(preview, limit=15),
        })

    @asset(key=mode.key("rekordbox_xml"), group_name=mode.group, ins=_ins(mode), kinds={"xml"},
           description="<output>/rekordbox.xml: the tree as Rekordbox playlist folders (import via "
                       "Preferences > Advanced > rekordbox xml). Carries no comments or genres, so an "
                       "import cannot overwrite the library's own tags.")
    def rekordbox_xml(context: AssetExecutionContext, config: ExportConfig, pipeline_settings: PipelineSettings,
                      inputs: CollectionInputs, collection_tree: dict[str, Any],
                      tracks: pd.DataFrame) -> MaterializeResult:
        target = _output_dir(mode, pipeline_settings) / "rekordbox.xml"
        report = write_rekordbox_xml(collection_tree, _without_facets(tracks), target, _music_root(config, inputs))
        _left_out(context, "rekordbox.xml", report.missing_location, report.relative_location,
                  report.refused_location)
        return MaterializeResult(metadata={
            **_path_meta(target), "tracks": report.tracks, "playlists": report.playlists,
            "folders": report.folders, "root_folder": top_folder_name(collection_tree),
            "left_out_relative_location": report.relative_location,
            "left_out_missing_location": report.missing_location, "left_out_refused_location": report.refused_location,
        })

    @asset(key=mode.key("traktor_nml"), group_name=mode.group, ins=_ins(mode), kinds={"xml"},
           description="<output>/collection.nml: the tree as Traktor playlist folders (category > section > "
                       "leaf), tracks in play order; import in Traktor's browser (Playlists > Import). Identity "
                       "fields only, so an import cannot overwrite the library's own tags.")
    def traktor_nml(context: AssetExecutionContext, config: TraktorConfig, pipeline_settings: PipelineSettings,
                    inputs: CollectionInputs, collection_tree: dict[str, Any],
                    tracks: pd.DataFrame) -> MaterializeResult:
        target = _output_dir(mode, pipeline_settings) / "collection.nml"
        _, params = asset_params(config, "", "traktor_nml")
        report = write_traktor_nml(collection_tree, _without_facets(tracks), target,
                                   _music_root(config, inputs, "traktor_nml"), params.system_volume)
        _left_out(context, "collection.nml", report.missing_location, report.relative_location,
                  report.refused_location)
        return MaterializeResult(metadata={
            **_path_meta(target), "tracks": report.tracks, "playlists": report.playlists, "folders": report.folders,
            "volumes": MetadataValue.json(report.volumes),
            "provenance": provenance(collection_tree) or "(not recorded)",
            "left_out_relative_location": report.relative_location,
            "left_out_missing_location": report.missing_location, "left_out_refused_location": report.refused_location,
        })

    @asset(key=mode.key("serato_crates"), group_name=mode.group, ins=_ins(mode), kinds={"serato"},
           description=f"<output>/{SUBCRATES_DIR}/: a Serato crate per leaf nested under its category (and "
                       "section): Category%%Leaf.crate, tracks in play order, paths relative to the drive root. "
                       "Copy into _Serato_/Subcrates on the music's drive. The folder is replaced whole.")
    def serato_crates(context: AssetExecutionContext, config: ExportConfig, pipeline_settings: PipelineSettings,
                      inputs: CollectionInputs, collection_tree: dict[str, Any], tracks: pd.DataFrame
                      ) -> MaterializeResult:
        out = _output_dir(mode, pipeline_settings)
        report = write_serato_crates(collection_tree, _without_facets(tracks), out, _music_root(config, inputs),
                                     reuse=True)
        _left_out(context, "the Serato crates", report.missing_location, report.relative_location,
                  report.refused_location)
        if len(report.drives) > 1:
            context.log.warning(f"tracks on {len(report.drives)} drives ({', '.join(sorted(report.drives))}): Serato "
                                "keeps a crate's paths relative to one drive; copy the crates to each drive's _Serato_")
        return MaterializeResult(metadata={
            "path": MetadataValue.path(str(report.folder)), "crates": report.crates, "crates_kept": report.kept,
            "parent_crates": report.parent_crates, "tracks_written": report.tracks_written,
            "drives": MetadataValue.json(report.drives),
            "left_out_relative_location": report.relative_location,
            "left_out_missing_location": report.missing_location, "left_out_refused_location": report.refused_location,
        })

    @asset(key=mode.key("collection_html"), group_name=mode.group, ins=_ins(mode),
           deps=[mode.key("m3u_playlists")], kinds={"html"},
           description="<output>/collection.html: a self-contained, paged browser of the tree (categories and "
                       "sections, search over every track, sorting, full track lists in play order with BPM, key "
                       "and energy, provenance, inline suggestion review with a decisions CSV); opens from disk.")
    def collection_html(context: AssetExecutionContext, pipeline_settings: PipelineSettings,
                        collection_tree: dict[str, Any], tracks: pd.DataFrame) -> MaterializeResult:
        out = _output_dir(mode, pipeline_settings)
        table = tracks_from_storage(tracks)
        # The tree carries every ungrouped track's reason (``ungrouped_reasons``, from every phase's
        # unplaced list, and an update's own); the phases' stored leaves, an input before, are not read:
        # 75 MB of JSON at 1M tracks, and an update does not rewrite them.
        rows = ungrouped_tracks(collection_tree, table, {})
        review = build_review_table(collection_tree, table) if mode.enrich else None
        target = write_collection_html(collection_tree, table, playlist_layout(collection_tree), rows,
                                       out / "collection.html", review)
        transitions = [leaf["transitions"] for _, leaf in iter_leaves(collection_tree) if "transitions" in leaf]
        return MaterializeResult(metadata={
            **_path_meta(target), "bytes": target.stat().st_size,
            "provenance": provenance(collection_tree) or "(not recorded)",
            "suggestions_reviewable": 0 if review is None else len(review),
            "leaves_with_transitions": len(transitions),
            "categories": len(collection_tree.get("categories", [])),
            "cards": sum(1 for _ in iter_leaves(collection_tree)), "ungrouped": len(rows),
            "ungrouped_without_reason": sum(r["reason"] == NOT_RECORDED for r in rows),
        })

    assets = [m3u_playlists, rekordbox_xml, traktor_nml, serato_crates, collection_html]
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
