"""The code location: assets of both build modes, jobs, the tree sensor, the rebuild schedule and the
resources, all from the settings of the environment it is loaded in (read once, here)."""

from __future__ import annotations

from dagster import Definitions

from collection_tree.assets.modes import MODES
from collection_tree.assets.pipeline import build_assets, build_checks
from collection_tree.executor import build_locked_executor
from collection_tree.jobs import collection_tree_job, collection_tree_test_job, collection_tree_update_job
from collection_tree.resources.factory import build_resources
from collection_tree.schedules import build_weekly_rebuild
from collection_tree.sensors import tracks_change_sensor, tree_version_sensor
from collection_tree.settings import current

_settings = current()

defs = Definitions(
    assets=[a for mode in MODES for a in build_assets(mode)],
    asset_checks=[c for mode in MODES for c in build_checks(mode)],
    jobs=[collection_tree_job, collection_tree_test_job, collection_tree_update_job],
    sensors=[tree_version_sensor, tracks_change_sensor],
    schedules=[build_weekly_rebuild(_settings)],
    resources=build_resources(_settings),
    # Steps share one process: no ~2 s process start per step (DESIGN section 4); every run holds the
    # output folder's build lock (collection_tree/executor.py).
    executor=build_locked_executor,
)
