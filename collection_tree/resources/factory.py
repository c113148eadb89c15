"""The one place the run's resources are built: definitions, tests and benchmarks all call
:func:`build_resources`, so the five resources are wired the same way everywhere."""

from __future__ import annotations

from typing import Any

from dagster import EnvVar

from collection_tree.resources.io_managers import JsonIOManager, ParquetIOManager
from collection_tree.resources.llm import LLMResource
from collection_tree.resources.settings import CollectionInputs, PipelineSettings
from collection_tree.settings import Settings, current


def bound(cfg: Settings, name: str) -> Any:
    """A setting as a resource field value: an ``EnvVar`` when the environment set it (shown as such
    in the UI, read when the run starts), else its value."""
    return EnvVar(Settings.env_name(name)) if name in cfg.env_set else getattr(cfg, name)


def build_resources(cfg: Settings | None = None, *, llm: type[LLMResource] = LLMResource,
                    **llm_fields: Any) -> dict[str, Any]:
    """The resources of a build from ``cfg`` (default: the environment's settings). ``llm`` and
    ``llm_fields``: another LLM resource class (tests, benchmarks) and its extra fields.

    ``pipeline_settings`` is configured at launch (its values here are the defaults) and the other
    resources depend on it, so launching with another ``output_dir`` moves the store, the LLM cache
    and the demo collection too."""
    cfg = cfg or current()
    pipeline = PipelineSettings.configure_at_launch(
        output_dir=bound(cfg, "output"), store=bound(cfg, "store"), llm_cache_path=bound(cfg, "llm_cache_path"),
        profile=bound(cfg, "profile"), music_root=bound(cfg, "music_root"), overrides=bound(cfg, "overrides"))
    return {
        "pipeline_settings": pipeline,
        "inputs": CollectionInputs(tracks_path=bound(cfg, "tracks"), genre_tree_path=bound(cfg, "genre_tree"),
                                   scene_tree_path=bound(cfg, "scene_tree"), config_path=bound(cfg, "config"),
                                   pipeline_settings=pipeline),
        "llm": llm(**{"provider": bound(cfg, "llm"), "base_url": bound(cfg, "anthropic_base_url"),
                      "cache_enabled": cfg.llm_cache_enabled, "timeout_s": cfg.llm_timeout_s(),
                      "max_retries": cfg.llm_retries(), "pipeline_settings": pipeline, **llm_fields}),
        "parquet_io_manager": ParquetIOManager(pipeline_settings=pipeline),
        "json_io_manager": JsonIOManager(pipeline_settings=pipeline),
    }
