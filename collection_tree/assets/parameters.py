"""Run config derived from the phases' params dataclasses, and run config files.

A phase declares each parameter once, in its frozen params dataclass (``phases/*.py``, a
``PhaseParams`` with ``param(default, help)`` fields). This module turns that class into the
asset's Dagster ``Config`` (every field optional: ``None`` keeps the profile's value; a ``profile``
field when the phase has a seed profile; descriptions from the fields' help, with the default and
seed values), resolves an asset's params from its config and the build's profile, and reads
``collection-tree build --config run.yaml``. A field added to a params class is run config with no
edit here or in the asset.

``PARAMETERS`` says which params class each configurable asset takes (both build modes).
"""

import dataclasses
import functools
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import pydantic
from dagster import AssetKey, Config

from collection_tree.exports.params import ExportParams, TraktorParams
from collection_tree.phases.common import PhaseParams, check_profile
from collection_tree.phases.enrichment import EnrichParams
from collection_tree.phases.grouping import GroupingParams
from collection_tree.phases.incremental import TreeParams
from collection_tree.phases.leaves import LeafParams
from collection_tree.phases.naming import NamingParams
from collection_tree.phases.reassignment import ReassignParams
from collection_tree.phases.refinement import RefineParams
from collection_tree.phases.seed_clusters import SeedParams

P = TypeVar("P", bound=PhaseParams)

PARAMETERS: dict[str, type[PhaseParams]] = {
    "seed_clusters": SeedParams,
    "named_clusters": NamingParams,
    "assigned_clusters": ReassignParams,
    "refined_clusters": RefineParams,
    "categories": GroupingParams,
    "collection_leaves": LeafParams,
    "metadata_suggestions": EnrichParams,
    "collection_tree": TreeParams,  # the play order (PlaylistOrderParams) and the update switch
    "m3u_playlists": ExportParams,
    "rekordbox_xml": ExportParams,
    "serato_crates": ExportParams,
    "traktor_nml": TraktorParams,
}
PROFILE = "profile"


def has_profiles(params_cls: type[PhaseParams]) -> bool:
    """Whether the seed profile sets anything for this phase (then its config has a ``profile``)."""
    return bool(params_cls.SEED)


def _config_fields(params_cls: type[PhaseParams]) -> list[dataclasses.Field]:
    # A params field named "profile" (grouping's) mirrors the chosen profile; the config's own
    # ``profile`` selects it.
    # The base class's keyword-only fields (``max_fallback_share``) come last: the phase's own first.
    own = [f for f in dataclasses.fields(params_cls) if f.name != PROFILE]  # type: ignore[arg-type]
    return sorted(own, key=lambda f: f.kw_only is True)


@functools.cache
def config_class(params_cls: type[PhaseParams]) -> type[Config]:
    """The Dagster ``Config`` of an asset taking ``params_cls``: one optional field per parameter."""
    hints = typing.get_type_hints(params_cls)
    fields: dict[str, Any] = {}
    if has_profiles(params_cls):
        fields[PROFILE] = (str, pydantic.Field("", description=(
            "'default' (ours) or 'seed' (the reference's values); empty: the pipeline_settings resource's "
            "profile. The fields below override the profile's values.")))
    for f in _config_fields(params_cls):
        fields[f.name] = (hints[f.name] | None, pydantic.Field(None, description=params_cls.describe(f.name)))
    name = params_cls.__name__.removesuffix("Params") + "Config"
    return pydantic.create_model(name, __base__=Config, __module__=__name__, **fields)


def asset_config(asset: str) -> type[Config]:
    """The ``Config`` class of a configurable asset (by its name, without a key prefix)."""
    return config_class(PARAMETERS[asset])


def resolve_profile(config_profile: str, settings_profile: str) -> str:
    """The asset config's profile; when empty, ``PipelineSettings.profile``; when that is empty too, "default"."""
    return check_profile(config_profile or settings_profile or "default")


def asset_params(config: Config, settings_profile: str, asset: str) -> tuple[str, PhaseParams]:
    """The resolved profile and the asset's params: the profile's values, overridden by every other
    field of the config that has a value."""
    params_cls = PARAMETERS[asset]
    values = config.model_dump()
    profile = resolve_profile(values.pop(PROFILE, ""), settings_profile)
    return profile, params_cls.for_profile(profile, **values)


def recorded_params(params_cls: type[P], recorded: Mapping[str, Any] | None, profile: str = "") -> P:
    """The params a materialisation recorded (its ``params`` metadata); unknown names are ignored
    (a parameter since removed), missing ones take the recorded profile's value."""
    names = {f.name for f in dataclasses.fields(params_cls)}  # type: ignore[arg-type]
    values = {k: v for k, v in (recorded or {}).items() if k in names}
    return params_cls.for_profile(check_profile(profile or "default")).with_overrides(**values)


# ----------------------------------------------------------------------------------- run.yaml
class RunConfigError(ValueError):
    """A run config file that does not fit: names the file, the entry and what was expected."""


def run_config_from_file(doc: Any, source: str, prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    """Dagster run config (``{"ops": {op: {"config": {...}}}}``) from a run config document::

        profile: seed            # optional, every phase with a seed profile
        named_clusters:          # an asset name: its parameters (see ``collection-tree build --help``)
          batch_size: 10

    ``prefix``: the build mode's key prefix (the test run's ``test_run``). Every name and value is
    checked: unknown assets and parameters are refused with the valid names, values by the
    parameter's type and the phase's own bounds."""
    if doc is None:
        return {"ops": {}}
    if not isinstance(doc, Mapping):
        raise RunConfigError(f"{source}: expected a mapping of asset names to parameters, got {type(doc).__name__}")
    profile = doc.get(PROFILE, "")
    if profile:
        try:
            check_profile(profile)
        except ValueError as exc:
            raise RunConfigError(f"{source}: {exc}") from None
    ops: dict[str, Any] = {}
    for asset, values in doc.items():
        if asset == PROFILE:
            continue
        if asset not in PARAMETERS:
            raise RunConfigError(f"{source}: unknown key {asset!r}; expected '{PROFILE}' or an asset name: "
                                 + ", ".join(PARAMETERS))
        config = _asset_values(PARAMETERS[asset], values or {}, profile, f"{source}: {asset}")
        ops[AssetKey([*prefix, asset]).to_python_identifier()] = {"config": config}
    if profile:
        for asset, params_cls in PARAMETERS.items():
            op = AssetKey([*prefix, asset]).to_python_identifier()
            if has_profiles(params_cls) and PROFILE not in ops.get(op, {}).get("config", {}):
                ops.setdefault(op, {"config": {}})["config"][PROFILE] = profile
    return {"ops": ops}


def _asset_values(params_cls: type[PhaseParams], values: Any, profile: str, where: str) -> dict[str, Any]:
    if not isinstance(values, Mapping):
        raise RunConfigError(f"{where}: expected a mapping of parameters, got {values!r}")
    cls = config_class(params_cls)
    valid = list(cls.model_fields)
    unknown = [k for k in values if k not in valid]
    if unknown:
        raise RunConfigError(f"{where}: unknown parameter {unknown[0]!r}; valid: {', '.join(valid)}")
    try:
        config = cls.model_validate(dict(values))
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        raise RunConfigError(f"{where}.{'.'.join(map(str, first['loc']))}: {first['msg']} "
                             f"(got {first.get('input')!r})") from None
    dumped = {k: v for k, v in config.model_dump().items() if k in values}
    try:
        resolved = dumped.pop(PROFILE, "") or profile
        params_cls.for_profile(check_profile(resolved or "default"), **dumped)
    except ValueError as exc:
        raise RunConfigError(f"{where}: {exc}") from None
    return {k: v for k, v in config.model_dump().items() if k in values}
