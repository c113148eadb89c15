"""The code location: assets of both build modes, jobs, the tree sensor, the rebuild schedule, resources."""

from __future__ import annotations

import os

from dagster import Definitions

from collection_tree import settings
from collection_tree.assets.modes import MODES
from collection_tree.assets.pipeline import build_assets, build_checks
from collection_tree.executor import in_process_with_build_lock
from collection_tree.jobs import collection_tree_job, collection_tree_test_job
from collection_tree.resources.io_managers import JsonIOManager, ParquetIOManager
from collection_tree.resources.llm import LLMResource
from collection_tree.resources.settings import CollectionInputs, PipelineSettings, env_or
from collection_tree.schedules import weekly_rebuild
from collection_tree.sensors import tree_version_sensor

STORE_ENV = "COLLECTION_TREE_STORE"


def _store_base() -> str:
    return os.environ.get(STORE_ENV) or str(settings.output_dir() / "store")


defs = Definitions(
    assets=[a for mode in MODES for a in build_assets(mode)],
    asset_checks=[c for mode in MODES for c in build_checks(mode)],
    jobs=[collection_tree_job, collection_tree_test_job],
    sensors=[tree_version_sensor],
    schedules=[weekly_rebuild],
    resources={
        "inputs": CollectionInputs(
            tracks_path=env_or(settings.TRACKS_ENV, ""),
            genre_tree_path=env_or(settings.GENRE_TREE_ENV, ""),
            scene_tree_path=env_or(settings.SCENE_TREE_ENV, ""),
            config_path=env_or(settings.CONFIG_ENV, ""),
        ),
        "pipeline_settings": PipelineSettings(output_dir=env_or(settings.OUTPUT_ENV, ""),
                                              profile=env_or(settings.PROFILE_ENV, "default")),
        "llm": LLMResource(provider=env_or(settings.LLM_ENV, "auto"),
                           base_url=env_or(settings.ANTHROPIC_BASE_URL_ENV, "")),
        "parquet_io_manager": ParquetIOManager(base_path=_store_base()),
        "json_io_manager": JsonIOManager(base_path=_store_base()),
    },
    # Steps share one process: no ~2 s process start per step (DESIGN section 4); every run holds the
    # output folder's build lock (collection_tree/executor.py).
    executor=in_process_with_build_lock,
)
