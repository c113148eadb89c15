"""The build-wide settings and the inputs as Dagster resources (see README "Configuration")."""


from pathlib import Path
from typing import Any

from dagster import ConfigurableResource

from collection_tree import settings
from collection_tree.core.inputs import load_config
from collection_tree.demo import input_paths, resolved_inputs


class PipelineSettings(ConfigurableResource):
    """Where a build's files go and the default parameter profile. The store, the LLM cache and
    the demo collection follow ``output_dir`` unless set on their own (``settings.Places``); the
    IO managers, the LLM resource and the inputs depend on this resource, so configuring it (in
    the environment or at launch) moves all of them."""

    output_dir: str = ""
    store: str = ""
    llm_cache_path: str = ""
    profile: str = "default"  # "default" (ours) or "seed" (the reference's parameters)
    music_root: str = ""
    overrides: str = ""  # overrides.json (default <output>/overrides.json)

    def overrides_file(self) -> Path:
        return Path(self.overrides) if self.overrides else self.output_path() / "overrides.json"

    def places(self) -> settings.Places:
        return settings.Places.at(self.output_dir or settings.default_output_dir(), store=self.store,
                                  llm_cache=self.llm_cache_path)

    def output_path(self) -> Path:
        return self.places().output


class CollectionInputs(ConfigurableResource):
    """Where the three inputs and config.json are. Empty paths mean: the demo collection
    (generated on first use under ``<output>/demo_collection``)."""

    tracks_path: str = ""
    genre_tree_path: str = ""
    scene_tree_path: str = ""
    config_path: str = ""
    pipeline_settings: PipelineSettings

    def configured(self) -> dict[str, str]:
        given = {"tracks": self.tracks_path, "genre_tree": self.genre_tree_path, "scene_tree": self.scene_tree_path}
        return {k: v for k, v in given.items() if v}

    def demo_paths(self) -> dict[str, Path]:
        """The demo collection's files (not generated here)."""
        return input_paths(self.pipeline_settings.places().demo)

    def resolved(self) -> dict[str, Path]:
        """The three input paths; generates the demo collection when none is configured."""
        return resolved_inputs(self.configured(), self.pipeline_settings.places().demo)

    def model_config_values(self) -> dict[str, Any]:
        return load_config(self.config_path or None)
