"""Resources bound to environment variables (see README "Configuration")."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource, EnvVar

from collection_tree import settings
from collection_tree.core.inputs import load_config


class CollectionInputs(ConfigurableResource):
    """Where the three inputs and config.json are. Empty paths mean: the demo collection
    (generated on first use under ``<output>/demo_collection``)."""

    tracks_path: str = ""
    genre_tree_path: str = ""
    scene_tree_path: str = ""
    config_path: str = ""

    def resolved(self) -> dict[str, Path]:
        """The three input paths; generates the demo collection when none is configured."""
        given = check_inputs_given({"tracks": self.tracks_path, "genre_tree": self.genre_tree_path,
                                    "scene_tree": self.scene_tree_path})
        if given is None:
            from collection_tree.demo import ensure_demo_collection

            demo = ensure_demo_collection(settings.demo_dir())
            return {"tracks": demo / "tracks.csv", "genre_tree": demo / "genre_tree.json",
                    "scene_tree": demo / "scene_tree.json"}
        return given

    def model_config_values(self) -> dict[str, Any]:
        return load_config(self.config_path or None)


def check_inputs_given(given: dict[str, str]) -> dict[str, Path] | None:
    """The three configured input paths, None when none is set (the demo collection), else
    ``ValueError`` naming the variables missing: all three or none."""
    if not any(given.values()):
        return None
    missing = [k for k, v in given.items() if not v]
    if missing:
        raise ValueError("set all three inputs or none (the demo collection); missing: "
                         + ", ".join(settings.INPUT_ENVS[m] for m in missing))
    return {k: Path(v) for k, v in given.items()}


class PipelineSettings(ConfigurableResource):
    """Build-wide settings: the output folder and the default parameter profile."""

    output_dir: str = ""
    profile: str = "default"  # "default" (ours) or "seed" (the reference's parameters)

    def output_path(self) -> Path:
        return Path(self.output_dir) if self.output_dir else settings.output_dir()


def env_or(name: str, default: Any) -> Any:
    """Bind a field to the env var when it is set (shown as such in the UI), else the default."""
    return EnvVar(name) if os.environ.get(name) else default
