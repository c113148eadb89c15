"""One settings resolver: the only reader of the environment, the places derived from the output
folder, the resources bound to it, and a build that follows the output folder wherever it is set."""

from __future__ import annotations

import ast
from pathlib import Path

from dagster import DagsterInstance, EnvVar, materialize
from helpers import collection_settings

from collection_tree.assets.modes import FULL
from collection_tree.assets.pipeline import build_assets, build_checks
from collection_tree.resources.factory import build_resources
from collection_tree.settings import TEST_RUN, Places, Settings

PACKAGE = Path(__file__).resolve().parents[1] / "collection_tree"


def environ_readers() -> list[str]:
    """Modules of the package that touch ``os.environ`` / ``os.getenv`` (or import ``environ``)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            touches = ((isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv"))
                       or (isinstance(node, ast.ImportFrom) and node.module == "os"
                       and any(a.name in ("environ", "getenv") for a in node.names)))
            if touches:
                found.append(str(path.relative_to(PACKAGE.parent)))
                break
    return found


def test_only_the_settings_module_reads_the_environment():
    assert environ_readers() == ["collection_tree/settings.py"]


def test_settings_come_from_their_variables_with_defaults():
    env = {"COLLECTION_TREE_OUTPUT": "/data/out", "COLLECTION_TREE_PROFILE": "seed", "COLLECTION_TREE_LLM": " offline ",
           "COLLECTION_TREE_TRACKS": "", "ANTHROPIC_API_KEY": "sk-ant-test-never-valid", "UNRELATED": "x"}
    cfg = Settings.from_env(env)
    assert (cfg.output, cfg.profile, cfg.llm, cfg.tracks) == ("/data/out", "seed", "offline", "")
    assert (cfg.rebuild_cron, cfg.timezone, cfg.llm_cache) == ("0 3 * * 1", "UTC", "on")  # defaults
    assert cfg.env_set == {"output", "profile", "llm"}  # an empty variable counts as unset
    assert cfg.anthropic_key_set and "sk-ant" not in repr(cfg)  # whether a key is set, never the key
    assert Settings.env_name("music_root") == "COLLECTION_TREE_MUSIC_ROOT"
    assert all(f.metadata["env"] and f.metadata["help"] for f in Settings.settings())
    assert not Settings.from_env({"COLLECTION_TREE_LLM_CACHE": "Off"}).llm_cache_enabled
    assert cfg.with_values(output="/elsewhere").env_set == {"profile", "llm"}


def test_every_place_follows_the_output_folder_unless_set(tmp_path):
    places = Settings(output=str(tmp_path)).places()
    assert places == Places(output=tmp_path, store=str(tmp_path / "store"), llm_cache=tmp_path / "llm_cache.sqlite")
    assert (places.demo, places.tree_file) == (tmp_path / "demo_collection", tmp_path / "curated_collection.json")
    test = places.for_test_run()
    assert (test.output, test.store, test.llm_cache) == (tmp_path / TEST_RUN, str(tmp_path / "store" / TEST_RUN),
                                                         places.llm_cache)
    own = Settings(output=str(tmp_path), store="s3://bucket/store", llm_cache_path="/cache/c.sqlite").places()
    assert (own.store, own.llm_cache, own.for_test_run().store) == ("s3://bucket/store", Path("/cache/c.sqlite"),
                                                                   "s3://bucket/store/test_run")


def test_resources_bind_the_environment_as_env_vars(tmp_path):
    cfg = Settings.from_env({"COLLECTION_TREE_OUTPUT": str(tmp_path), "COLLECTION_TREE_LLM": "offline"})
    resources = build_resources(cfg.with_values(tracks="t.csv"))
    settings_config = resources["pipeline_settings"].data  # configured at launch: these are its defaults
    assert settings_config["output_dir"] == EnvVar("COLLECTION_TREE_OUTPUT") and settings_config["profile"] == "default"
    assert resources["llm"].provider == EnvVar("COLLECTION_TREE_LLM")
    assert resources["inputs"].tracks_path == "t.csv"  # given in code, not from the environment
    assert resources["json_io_manager"].pipeline_settings is resources["pipeline_settings"]


def test_launching_with_another_output_folder_moves_everything(tmp_path):
    """The code location's resources for one output folder; the run configures pipeline_settings with
    another: the demo collection, the store, the LLM cache, the tree and the exports all go there."""
    configured, launched = tmp_path / "configured", tmp_path / "launched"
    resources = build_resources(collection_settings(configured))
    run_config = {"resources": {"pipeline_settings": {"config": {"output_dir": str(launched)}}}}
    result = materialize([*build_assets(FULL), *build_checks(FULL)], resources=resources, run_config=run_config,
                         instance=DagsterInstance.ephemeral())
    assert result.success
    assert not configured.exists()
    for place in ("demo_collection/tracks.csv", "store/collection_leaves.json", "llm_cache.sqlite",
                  "curated_collection.json", "collection.html", "rekordbox.xml", "playlists"):
        assert (launched / place).exists(), place


def test_the_readme_lists_every_setting():
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| variable | default | meaning |"):].split("\n\n")[0]
    listed = {line.split("`")[1] for line in table.splitlines()[2:]}
    assert listed == {f.metadata["env"] for f in Settings.settings()} | {"ANTHROPIC_API_KEY"}
