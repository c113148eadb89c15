"""Build modes: the full build, and the reference's "Test Run (20 clusters)" in its own key space."""

from __future__ import annotations

from dataclasses import dataclass

from dagster import AssetKey

from collection_tree.settings import TEST_RUN, Places


@dataclass(frozen=True)
class BuildMode:
    name: str
    prefix: tuple[str, ...]
    group: str
    max_seeds: int | None
    enrich: bool  # phase 7 runs

    def key(self, name: str) -> AssetKey:
        return AssetKey([*self.prefix, name])

    def places(self, places: Places) -> Places:
        """This mode's places: the test run writes beside, never over, the full build."""
        return places.for_test_run(bool(self.prefix))


FULL = BuildMode(name="full", prefix=(), group="collection_tree", max_seeds=None, enrich=True)
TEST = BuildMode(name="test", prefix=(TEST_RUN,), group="test_run", max_seeds=20, enrich=False)
MODES = (FULL, TEST)
