"""A build says how it was made (issue 12, defect 7): the tree's ``build`` object (provider, the models
actually used, profile, input hashes, version, run id), the CLI summary ("offline heuristics" or the model
names), phase code versions that change with a prompt, schema or parameter default, and input data
versions from the files' content."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import DagsterInstance, Definitions, materialize
from dagster._core.instance.ref import InstanceRef
from helpers import collection_resources

from collection_tree import operations as ops
from collection_tree import package_version
from collection_tree.assets import seed_clusters as seed_clusters_asset
from collection_tree.assets.modes import FULL, TEST
from collection_tree.assets.pipeline import build_assets
from collection_tree.assets.versions import code_version, phase_tasks
from collection_tree.core.inputs import file_sha256
from collection_tree.demo import input_paths
from collection_tree.phases import naming, reassignment
from collection_tree.phases.naming import NamingParams
from collection_tree.phases.reassignment import ReassignParams
from collection_tree.settings import Places

BIN = Path(sys.executable).parent
PROJECT = Path(__file__).resolve().parents[1]
GENIUS = PROJECT.parent / "shared" / "data" / "genius-2000s"


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "collection-tree"), *args], env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.dagster_instance
def test_an_offline_build_then_a_keyed_one_asks_the_api_and_says_so(build_env):
    """The README's path: `make run` (offline), then the same build with a key. Before the cache key held
    the provider, the second build sent no request and still reported `llm_provider: anthropic`."""
    env, api = build_env.env, build_env.api
    tree = build_env.out / "test_run" / "curated_collection.json"
    collection = Path(env["COLLECTION_TREE_TRACKS"]).parent
    hashes = {name: file_sha256(collection / f"{name}.{'csv' if name == 'tracks' else 'json'}")
              for name in ("tracks", "genre_tree", "scene_tree")}

    offline = cli({**env, "COLLECTION_TREE_LLM": "offline"}, "build", "--test")
    assert offline.returncode == 0, offline.stderr[-3000:]
    doc = json.loads(tree.read_text(encoding="utf-8"))
    with DagsterInstance.from_config(str(build_env.home)) as instance:
        run_id = instance.get_runs(limit=1)[0].run_id
        named = instance.get_latest_materialization_event(TEST.key("named_clusters")).asset_materialization
        assert named.metadata["calls_by_model"].value == {"offline heuristics": named.metadata["llm_calls"].value}
        assert named.metadata["models_used"].value == []
    assert doc["build"] == {"provider": "offline", "models": [], "profile": "default", "inputs": hashes,
                            "version": package_version(), "run_id": run_id}
    assert "made by: offline heuristics, no model called" in offline.stdout
    assert "claude" not in offline.stdout
    assert api.message_requests() == []

    keyed = cli(env, "build", "--test")
    assert keyed.returncode == 0, keyed.stderr[-3000:]
    assert len(api.message_requests()) > 0  # the offline answers in the cache did not serve this build
    doc = json.loads(tree.read_text(encoding="utf-8"))
    assert doc["build"]["provider"] == "anthropic"
    assert doc["build"]["models"] == ["claude-haiku-5-5", "claude-sonnet-5-5"]
    assert doc["build"]["inputs"] == hashes
    assert "made by: anthropic: claude-haiku-5-5, claude-sonnet-5-5;" in keyed.stdout

    again = cli(env, "build", "--test")  # every answer from the cache: still the models' answers
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(tree.read_text(encoding="utf-8"))["build"]["models"] == ["claude-haiku-5-5", "claude-sonnet-5-5"]
    assert "0 API calls" in again.stdout


def test_code_versions_follow_prompts_schemas_and_parameter_defaults(monkeypatch):
    assert [t.name for t in phase_tasks(naming)] == ["name_clusters", "name_clusters_brief"]
    naming_version, reassign_version = code_version(naming, NamingParams), code_version(reassignment, ReassignParams)
    assert naming_version == code_version(naming, NamingParams)  # deterministic

    monkeypatch.setattr(naming, "TASK", dataclasses.replace(naming.TASK, system=naming.TASK.system + " Be brief."))
    assert code_version(naming, NamingParams) != naming_version
    assert code_version(reassignment, ReassignParams) == reassign_version  # only the phase whose prompt changed
    monkeypatch.undo()

    schema = {**naming.TASK.schema, "description": "changed"}
    monkeypatch.setattr(naming, "TASK", dataclasses.replace(naming.TASK, schema=schema))
    assert code_version(naming, NamingParams) != naming_version
    monkeypatch.undo()

    @dataclasses.dataclass(frozen=True)
    class BiggerBatches(NamingParams):
        batch_size: int = 60

    assert code_version(naming, BiggerBatches) != naming_version


def test_status_marks_exactly_the_phase_whose_code_version_changed(tmp_path, monkeypatch):
    monkeypatch.setenv("COLLECTION_TREE_OUTPUT", str(tmp_path / "out"))
    monkeypatch.delenv("COLLECTION_TREE_STORE", raising=False)
    for name in ("tracks.csv", "genre_tree.json", "scene_tree.json"):
        monkeypatch.setenv(f"COLLECTION_TREE_{name.split('.')[0].upper()}", str(GENIUS / name))
    (tmp_path / "home").mkdir()
    resources = collection_resources(tmp_path / "out", GENIUS, llm_cache="off")
    places, inputs = Places.at(tmp_path / "out"), input_paths(GENIUS)
    wanted = ("tracks", "genre_tree", "scene_tree", "seed_clusters")

    def defs() -> Definitions:
        return Definitions(assets=[a for a in build_assets(FULL) if a.key.path[-1] in wanted], resources=resources)

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path / "home"))) as instance:
        first = defs()
        assert materialize(list(first.assets), resources=resources, instance=instance).success
        states = {s.key: (s.state, s.detail) for s in ops.asset_states(instance, first, FULL.group, places, inputs)}
        assert {state for state, _ in states.values()} == {"materialised"}
        # phase 1's default changes (as a prompt or a parameter default would for an LLM phase)
        monkeypatch.setattr(seed_clusters_asset, "code_version", lambda *a, **k: "a-new-version")
        states = {s.key: (s.state, s.detail) for s in ops.asset_states(instance, defs(), FULL.group, places, inputs)}
    assert states["seed_clusters"][0] == "stale"
    assert states["seed_clusters"][1].startswith("code version changed (") and "-> a-new-version)" in states[
        "seed_clusters"][1]
    assert states["tracks"] == states["genre_tree"] == states["scene_tree"] == ("materialised", "")
