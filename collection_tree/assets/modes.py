"""Build modes: the full build, and the reference's "Test Run (20 clusters)" in its own key space."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dagster import AssetKey


@dataclass(frozen=True)
class BuildMode:
    name: str
    prefix: tuple[str, ...]
    group: str
    max_seeds: int | None
    enrich: bool  # phase 7 runs

    def key(self, name: str) -> AssetKey:
        return AssetKey([*self.prefix, name])

    def output_dir(self, base: Path) -> Path:
        """Final outputs (tree JSON, playlists...): the test run writes beside, never over, the full build."""
        return base.joinpath(*self.prefix) if self.prefix else base


FULL = BuildMode(name="full", prefix=(), group="collection_tree", max_seeds=None, enrich=True)
TEST = BuildMode(name="test", prefix=("test_run",), group="test_run", max_seeds=20, enrich=False)
MODES = (FULL, TEST)
