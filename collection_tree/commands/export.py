"""``collection-tree export FORMAT...``: re-materialise export assets alone from the built tree (the
same as ``dagster asset materialize --select <asset>``, recorded in the same Dagster history), e.g.
``collection-tree export traktor`` after installing Traktor, or ``export all --music-root /Volumes/USB``."""

from __future__ import annotations

import argparse
import sys

from collection_tree.commands._home import ensure_dagster_home
from collection_tree.commands.build import QUIET_RUN_CONFIG

# Format name on the command line -> export asset.
FORMATS = {"playlists": "m3u_playlists", "rekordbox": "rekordbox_xml", "traktor": "traktor_nml",
           "serato": "serato_crates", "html": "collection_html", "suggestions": "metadata_suggestions_review"}
MUSIC_ROOT_ASSETS = ("m3u_playlists", "rekordbox_xml", "traktor_nml", "serato_crates")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("export", help="rewrite exports (playlists, rekordbox, traktor, serato, html) "
                                           "from the built tree")
    parser.add_argument("formats", nargs="+", choices=[*FORMATS, "all"], metavar="FORMAT",
                        help=f"one or more of {', '.join(FORMATS)}, or all")
    parser.add_argument("--music-root", default=None,
                        help="folder relative track locations are under (default: COLLECTION_TREE_MUSIC_ROOT, "
                             "else the tracks file's folder)")
    parser.add_argument("--test", action="store_true", help="the test run's exports (<output>/test_run)")
    parser.add_argument("--verbose", action="store_true", help="Dagster's full event log")
    parser.set_defaults(func=run)


def asset_names(formats: list[str], test: bool) -> list[str]:
    names = list(FORMATS.values()) if "all" in formats else [FORMATS[f] for f in dict.fromkeys(formats)]
    if test:  # the test run has no phase 7, so no suggestion review
        names = [n for n in names if n != "metadata_suggestions_review"]
    return names


def run(args: argparse.Namespace) -> int:
    from collection_tree import settings
    from collection_tree.core.build_lock import BuildLock, BuildLockBusy

    cfg = settings.current()
    ensure_dagster_home(cfg)
    lock = BuildLock(cfg.places().output)
    try:
        lock.acquire(command="collection-tree export")  # never rewrite exports under a running build
    except BuildLockBusy as busy:
        print(f"error: {busy}", file=sys.stderr)
        return 1
    try:
        return _export(args)
    finally:
        lock.release()


def _export(args: argparse.Namespace) -> int:
    from dagster import AssetKey, DagsterInstance

    from collection_tree import operations as ops
    from collection_tree.definitions import defs

    names = asset_names(args.formats, args.test)
    if not names:
        print("error: the test run has no suggestion review", file=sys.stderr)
        return 2
    prefix = ["test_run"] if args.test else []
    run_config: dict = {} if args.verbose else dict(QUIET_RUN_CONFIG)
    if args.music_root:
        run_config["ops"] = {"__".join([*prefix, n]): {"config": {"music_root": args.music_root}}
                             for n in names if n in MUSIC_ROOT_ASSETS}
    job = defs.resolve_job_def(ops.TEST_JOB if args.test else ops.FULL_JOB)
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False,
                                        asset_selection=[AssetKey([*prefix, n]) for n in names])
    if not result.success:
        failure = next((e for e in result.all_events if e.is_step_failure), None)
        detail = failure.event_specific_data.error.message.strip() if failure else "see the run's logs"
        print(f"error: export failed: {detail}", file=sys.stderr)
        return 1
    for event in result.get_asset_materialization_events():
        metadata = event.event_specific_data.materialization.metadata
        where = metadata.get("path")
        print(f"{event.asset_key.to_user_string()}: {where.value if where is not None else 'done'}")
    return 0
