"""The speed work (issue 18 part 1) must not change the trees: an offline build of the 6,303-track demo
and of genius-2000s gives the same leaves (memberships and titles) and categories as before it.

The expected digests were computed on branch h11-speed at f2bf9ea (before any speed change) with
``tree_digest`` below over the ``curated_collection.json`` of an offline ``collection-tree build``
(default profile, no run config): the demo collection (``collection-tree demo-data`` defaults) and
../shared/data/genius-2000s. A change of the tree made on purpose (another issue) updates them: run
``python -m pytest collection_tree_tests/test_outputs_unchanged_by_speed.py`` and copy the digest
the failure prints. Updated for issue 17's shorter chain (phases 2-7 in fewer round-trips: batches cut
differently, stop below a batch, working descriptions, overlapped refinement rounds, lineage-scoped
category assignment) and leaf titles naming a style 60% of the tracks carry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GENIUS_DIR

EXPECTED = {
    "demo": "19658851a3bfe9652e365c130162e518a65b76250ffba05dc4961a954d7cb0b1",
    "genius-2000s": "2408ad5116c236793b1cc1d999019faeec3f50a9ceed99515001738c49ad7ac8",
}


def tree_digest(tree: dict) -> str:
    """sha256 over the tree's shape, sorted: each leaf (id, title, sorted track ids) within its category
    (id, title), and the ungrouped track ids."""
    categories = sorted(
        (c["id"], c["title"], sorted((leaf["id"], leaf["title"], sorted(leaf["track_ids"])) for leaf in c["leaves"]))
        for c in tree["categories"])
    shape = {"categories": categories, "ungrouped": sorted(tree["ungrouped_track_ids"])}
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


def offline_build(base: Path, data: Path | None) -> dict:
    """``collection-tree build`` offline in a fresh process with its own DAGSTER_HOME and output folder
    (``data``: a collection folder; None: the demo collection)."""
    home = base / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(Path(__file__).resolve().parents[1] / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COLLECTION_TREE_", "ANTHROPIC_"))}
    env.update({"DAGSTER_HOME": str(home), "COLLECTION_TREE_OUTPUT": str(base / "out"),
                "COLLECTION_TREE_LLM": "offline"})
    if data is not None:
        env.update({"COLLECTION_TREE_TRACKS": str(data / "tracks.csv"),
                    "COLLECTION_TREE_GENRE_TREE": str(data / "genre_tree.json"),
                    "COLLECTION_TREE_SCENE_TREE": str(data / "scene_tree.json")})
    done = subprocess.run([sys.executable, "-m", "collection_tree.cli", "build"], env=env, capture_output=True,
                          text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((base / "out" / "curated_collection.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name, data", [("demo", None), ("genius-2000s", GENIUS_DIR)])
def test_offline_tree_unchanged(tmp_path, name, data):
    tree = offline_build(tmp_path, data)
    assert tree["assigned_tracks"] + len(tree["ungrouped_track_ids"]) == tree["total_tracks"]
    assert tree_digest(tree) == EXPECTED[name], f"{name}: the tree changed; digest now {tree_digest(tree)}"
