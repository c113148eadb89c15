"""Run config: each asset's Dagster Config derived from its phase's params dataclass, run.yaml files
checked before a build starts, and asset checks holding a run to the parameters it was given."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar

import pytest
from dagster import AssetCheckKey, AssetSelection, DagsterInstance, materialize
from helpers import collection_resources

from collection_tree.assets import parameters
from collection_tree.assets.modes import FULL, TEST
from collection_tree.assets.parameters import (
    PARAMETERS,
    RunConfigError,
    asset_params,
    config_class,
    run_config_from_file,
)
from collection_tree.assets.pipeline import build_assets, build_checks
from collection_tree.cli import main as cli_main
from collection_tree.demo import write_demo_collection
from collection_tree.phases.common import param
from collection_tree.phases.enrichment import EnrichParams
from collection_tree.phases.naming import NamingParams


# ------------------------------------------------------------------------- Config from params
@pytest.mark.parametrize("asset", list(PARAMETERS))
def test_every_parameter_is_run_config_with_its_description(asset):
    params_cls = PARAMETERS[asset]
    fields = {f.name: f for f in dataclasses.fields(params_cls)}
    config = config_class(params_cls).model_fields
    assert set(config) - {"profile"} == set(fields) - {"profile"}
    assert ("profile" in config) == bool(params_cls.SEED)
    for name, spec in config.items():
        if name == "profile":
            continue
        assert spec.default is None  # None keeps the profile's value
        assert spec.description.startswith(fields[name].metadata["help"].rstrip("."))
        assert f"default {fields[name].default!r}" in spec.description
        if name in params_cls.SEED and params_cls.SEED[name] != fields[name].default:
            assert f"seed {params_cls.SEED[name]!r}" in spec.description


def test_the_hidden_parameters_are_exposed():
    assert "min_tracks" in config_class(PARAMETERS["seed_clusters"]).model_fields
    assert {"grey_floor", "dominant_share", "low_coherence"} <= set(config_class(EnrichParams).model_fields)


@dataclasses.dataclass(frozen=True)
class _WithANewParameter(NamingParams):
    """What another branch does to a phase: one field more in its params class, nothing else."""

    title_words: float = param(1.0, "Most words of a working title")

    SEED: ClassVar[dict] = {**NamingParams.SEED, "title_words": 0.5}


def test_a_field_added_to_a_params_class_becomes_run_config(monkeypatch):
    monkeypatch.setitem(PARAMETERS, "named_clusters", _WithANewParameter)
    config_cls = parameters.asset_config("named_clusters")
    assert "title_words" in config_cls.model_fields
    assert "(default 1.0; seed 0.5)" in config_cls.model_fields["title_words"].description
    profile, params = asset_params(config_cls(title_words=0.25), "", "named_clusters")
    assert (profile, params.title_words, params.batch_size) == ("default", 0.25, NamingParams.batch_size)
    profile, params = asset_params(config_cls(), "seed", "named_clusters")  # the resource's profile
    assert (profile, params.title_words, params.batch_size) == ("seed", 0.5, NamingParams.SEED["batch_size"])


# ------------------------------------------------------------------------------------ run.yaml
def test_run_yaml_becomes_dagster_run_config():
    doc = {"profile": "seed", "named_clusters": {"batch_size": 10}, "seed_clusters": {"min_tracks": 8},
           "metadata_suggestions": {"min_confidence": 0.5, "profile": "default"}}
    ops = run_config_from_file(doc, "run.yaml")["ops"]
    assert ops["named_clusters"] == {"config": {"batch_size": 10, "profile": "seed"}}
    assert ops["seed_clusters"] == {"config": {"min_tracks": 8}}  # no seed profile: no profile field
    assert ops["metadata_suggestions"] == {"config": {"min_confidence": 0.5, "profile": "default"}}
    assert ops["categories"] == {"config": {"profile": "seed"}}
    test_ops = run_config_from_file({"named_clusters": {"batch_size": 10}}, "run.yaml", TEST.prefix)["ops"]
    assert test_ops == {"test_run__named_clusters": {"config": {"batch_size": 10}}}
    assert run_config_from_file(None, "run.yaml") == {"ops": {}}


@pytest.mark.parametrize(("doc", "message"), [
    ({"named_clusterz": {}}, r"run.yaml: unknown key 'named_clusterz'; expected 'profile' or an asset name: "
                             r"seed_clusters, named_clusters, "),
    ({"named_clusters": {"batch_sise": 3}}, r"run.yaml: named_clusters: unknown parameter 'batch_sise'; valid: "
                                            r"profile, batch_size, workers, "),
    ({"named_clusters": {"batch_size": "many"}}, r"run.yaml: named_clusters.batch_size: .*integer.*'many'"),
    ({"named_clusters": {"batch_size": 0}}, r"run.yaml: named_clusters: batch_size must be >= 1"),
    ({"categories": {"min_categories": 9, "max_categories": 4}}, r"run.yaml: categories: .*min_categories"),
    ({"profile": "fast"}, r"run.yaml: profile: expected 'default' or 'seed', got 'fast'"),
    ({"named_clusters": [1, 2]}, r"run.yaml: named_clusters: expected a mapping of parameters"),
    ({"profile": ["seed"]}, r"run.yaml: profile: expected 'default' or 'seed', got \['seed'\]"),
    (["named_clusters"], r"run.yaml: expected a mapping of asset names to parameters, got list"),
])
def test_run_yaml_mistakes_are_refused_naming_the_entry(doc, message):
    with pytest.raises(RunConfigError, match=message):
        run_config_from_file(doc, "run.yaml")


def test_build_refuses_a_bad_run_yaml_before_starting(tmp_path, capsys):
    bad = tmp_path / "run.yaml"
    bad.write_text("metadata_suggestions:\n  min_confidence: 1.5\n")
    assert cli_main(["build", "--config", str(bad)]) == 2
    assert f"error: {bad}: metadata_suggestions: min_confidence must be between 0 and 1" in capsys.readouterr().err
    bad.write_text("named_clusters: [unclosed\n")
    assert cli_main(["build", "--config", str(bad)]) == 2
    assert f"error: {bad}: expected YAML" in capsys.readouterr().err
    assert cli_main(["build", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read the run config" in capsys.readouterr().err


# ------------------------------------------------------------- checks read the run's parameters
@pytest.fixture(scope="module")
def demo_1000(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo_1000")
    write_demo_collection(folder, 1000, 7)
    return folder


def build_with(run_yaml: dict, folder: Path, out: Path) -> tuple[dict[str, bool], object]:
    run_config = run_config_from_file(run_yaml, "run.yaml")
    result = materialize([*build_assets(FULL), *build_checks(FULL)], resources=collection_resources(out, folder),
                         run_config=run_config, instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success
    checks = {f"{c.asset_key.to_user_string()}:{c.check_name}": c.passed for c in result.get_asset_check_evaluations()}
    return checks, result


def test_min_confidence_from_run_config_passes_every_check(demo_1000, tmp_path):
    checks, result = build_with({"metadata_suggestions": {"min_confidence": 0.5}}, demo_1000, tmp_path)
    assert len(checks) == 9 and all(checks.values()), checks
    stored = result.output_for_node("metadata_suggestions")
    kept = [item["confidence"] for items in stored["suggestions"].values() for item in items]
    # Suggestions a 0.7 threshold would refuse are in the tree, and the checks accept them.
    assert min(kept) >= 0.5 and sum(c < EnrichParams.min_confidence for c in kept) > 0


def test_category_range_from_run_config_passes_every_check(demo_1000, tmp_path):
    checks, result = build_with({"categories": {"min_categories": 4, "max_categories": 6}}, demo_1000, tmp_path)
    assert len(checks) == 9 and all(checks.values()), checks
    count = len(result.output_for_node("categories")["categories"])
    assert 4 <= count <= 6  # below the default range: the check read the run's own


def test_leaf_bounds_from_run_config_hold_in_the_curation_check(demo_1000, tmp_path):
    """Phase 4's bounds are run config, and the tree's curation check holds the run to its own."""
    checks, result = build_with({"refined_clusters": {"max_leaf_tracks": 40}}, demo_1000, tmp_path)
    assert len(checks) == 9 and all(checks.values()), checks
    sizes = [c.track_count for c in result.output_for_node("refined_clusters").clusters]
    assert max(sizes) <= 40
    evaluation = next(c for c in result.get_asset_check_evaluations() if c.check_name == "curation_bounds")
    assert evaluation.metadata["max_leaf_tracks"].value == 40


def test_curation_check_alone_computes_what_the_build_reported(demo_1000, tmp_path, monkeypatch):
    """In a build the curation check takes the figures the tree asset computed in the same run (they
    are computed once); run alone (another run, the tree as stored) it computes them: the two
    evaluations agree."""
    from collection_tree.assets import collection_tree as tree_module

    computed = []
    real = tree_module.curation_figures
    monkeypatch.setattr(tree_module, "curation_figures", lambda *a, **k: computed.append(1) or real(*a, **k))
    instance = DagsterInstance.ephemeral()
    assets = [*build_assets(FULL), *build_checks(FULL)]
    resources = collection_resources(tmp_path, demo_1000)
    built = materialize(assets, resources=resources, instance=instance)
    assert len(computed) == 1  # the tree asset's; the check in the same run reused them
    key = AssetCheckKey(FULL.key("collection_tree"), "curation_bounds")
    again = materialize(assets, resources=resources, instance=instance, selection=AssetSelection.checks(key))
    assert len(computed) == 2  # the check alone computed them
    first, second = (next(c for c in r.get_asset_check_evaluations() if c.check_name == "curation_bounds")
                     for r in (built, again))
    assert again.run_id != built.run_id and again.get_asset_materialization_events() == []
    assert {k: v.value for k, v in first.metadata.items()} == {k: v.value for k, v in second.metadata.items()}
    assert first.passed == second.passed
