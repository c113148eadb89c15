"""Settings for tests: a collection's three files and an output folder, offline by default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from collection_tree.resources.factory import build_resources
from collection_tree.settings import Settings


def collection_settings(output: Path, data: Path | None = None, **values: Any) -> Settings:
    """Settings (not from the environment) for the collection in ``data`` (``tracks.csv``,
    ``genre_tree.json``, ``scene_tree.json``; none: the demo collection) building into ``output``."""
    paths = {} if data is None else {"tracks": str(data / "tracks.csv"), "genre_tree": str(data / "genre_tree.json"),
                                     "scene_tree": str(data / "scene_tree.json")}
    return Settings(**{"output": str(output), "llm": "offline", **paths, **values})


def collection_resources(output: Path, data: Path | None = None, **values: Any) -> dict[str, Any]:
    """The resources the code location would build for :func:`collection_settings`."""
    return build_resources(collection_settings(output, data, **values))
