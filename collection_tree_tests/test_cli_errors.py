"""What ``collection-tree build`` says when it cannot build (issue 12, defect 4): the root cause as the
last line (an input error's file, field, expected and got), a non-zero exit, no Dagster "Not executing"
noise, no ``--resume`` advice when the input is what must change; the same for a missing input setting
and for ``COLLECTION_TREE_LLM=anthropic`` without a key. And the CLI's edges (defect 8): ``--version``,
a custom DAGSTER_HOME without Dagster's "No dagster instance configuration file" warning."""

import csv
import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
PROJECT = Path(__file__).resolve().parents[1]
GENIUS = PROJECT.parent / "shared" / "data" / "genius-2000s"


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "collection-tree"), *args], env=env, capture_output=True, text=True,
                          timeout=300, cwd=PROJECT)


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    folder = tmp_path / "collection"
    shutil.copytree(GENIUS, folder)
    return folder


@pytest.fixture
def env(tmp_path: Path, collection: Path) -> dict[str, str]:
    """A user's shell: a custom DAGSTER_HOME that has no dagster.yaml yet, the collection, no key."""
    values = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "COLLECTION_TREE_"))}
    values.update({"DAGSTER_HOME": str(tmp_path / "my_dagster_home"), "COLLECTION_TREE_OUTPUT": str(tmp_path / "out"),
                   "COLLECTION_TREE_TRACKS": str(collection / "tracks.csv"),
                   "COLLECTION_TREE_GENRE_TREE": str(collection / "genre_tree.json"),
                   "COLLECTION_TREE_SCENE_TREE": str(collection / "scene_tree.json")})
    return values


def duplicate_a_track_id(tracks_csv: Path) -> None:
    with tracks_csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rows.append([rows[18][0], *rows[1][1:]])  # a new row reusing the id of the 18th track
    with tracks_csv.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


@pytest.mark.dagster_instance
def test_an_input_error_is_the_last_line_without_noise_or_resume_advice(env, collection):
    duplicate_a_track_id(collection / "tracks.csv")
    duplicate = next(csv.reader((collection / "tracks.csv").open(encoding="utf-8").readlines()[18:19]))[0]
    result = cli(env, "build")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == (f"error: {collection / 'tracks.csv'}: field 'track_id': expected unique values, "
                         f"got 'duplicate track_id {duplicate}'")
    assert "Not executing" not in result.stderr
    assert "--resume" not in result.stderr
    assert "DagsterExecutionStepExecutionError" not in result.stderr
    assert "No dagster instance configuration file" not in result.stderr + result.stdout


@pytest.mark.parametrize(("change", "expected"), [
    ({"COLLECTION_TREE_SCENE_TREE": ""},
     "error: set all three inputs or none (the demo collection); missing: COLLECTION_TREE_SCENE_TREE"),
    ({"COLLECTION_TREE_LLM": "anthropic"}, "error: no Anthropic credentials: set ANTHROPIC_API_KEY"),
    ({"COLLECTION_TREE_LLM": "claude"}, "error: COLLECTION_TREE_LLM: expected 'auto' or one of offline, anthropic"),
    ({"COLLECTION_TREE_LLM_TIMEOUT": "soon"}, "error: COLLECTION_TREE_LLM_TIMEOUT: expected a float >= 0.001, "
                                              "got 'soon'"),
])
def test_a_settings_error_is_the_last_line_before_anything_runs(env, tmp_path, change, expected):
    result = cli({**env, **change}, "build")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(expected), result.stderr
    assert "--resume" not in result.stderr
    assert not (tmp_path / "out" / "store").exists()


def test_a_config_json_error_is_the_last_line(env, tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"creativ_model": "claude-opus-5-5"}', encoding="utf-8")
    result = cli({**env, "COLLECTION_TREE_CONFIG": str(config)}, "build")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {config}: field 'creativ_model': expected one of the keys creative_model, mechanical_model, "
        "got 'an unknown key'")


def test_version(env):
    result = cli(env, "--version")
    assert result.returncode == 0 and result.stdout.strip() == f"collection-tree {version('collection-tree')}"


@pytest.mark.dagster_instance
def test_a_custom_dagster_home_gets_the_project_instance_config(env):
    home = Path(env["DAGSTER_HOME"])
    result = cli(env, "status")
    assert result.returncode == 0, result.stderr
    assert "No dagster instance configuration file" not in result.stderr + result.stdout
    assert (home / "dagster.yaml").read_bytes() == (PROJECT / ".dagster_home" / "dagster.yaml").read_bytes()
    mine = b"telemetry:\n  enabled: false\n"
    (home / "dagster.yaml").write_bytes(mine)  # the user's own config is never replaced
    assert cli(env, "status").returncode == 0
    assert (home / "dagster.yaml").read_bytes() == mine


@pytest.mark.parametrize(("port", "expected"), [(None, "-p 3000"), ("3123", "-p 3123")])
def test_make_dev_takes_the_port_from_PORT(port, expected):
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    args = ["make", "-n", "--no-print-directory", "dev", *([f"PORT={port}"] if port else [])]
    dry = subprocess.run(args, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    [command] = [line for line in dry.stdout.splitlines() if "dagster dev" in line]
    assert command.endswith(f"dagster dev -w workspace.yaml -h 127.0.0.1 {expected}")
