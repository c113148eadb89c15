"""What asset checks share: the parameters the run used, and the exactly-once check of cluster sets."""

from collections.abc import Iterable, Mapping
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    DagsterInstance,
    MetadataValue,
    asset_check,
)

from collection_tree.assets.metadata import markdown_table
from collection_tree.assets.modes import BuildMode
from collection_tree.assets.parameters import PARAMETERS, recorded_params
from collection_tree.core.clusters import ClusterSet
from collection_tree.phases.common import PhaseParams


def run_params(context: AssetCheckExecutionContext | AssetExecutionContext, key: AssetKey, asset: str) -> PhaseParams:
    """The parameters the latest materialisation of ``key`` ran with (its ``params`` metadata, which
    every phase asset records), so a check holds a run to the thresholds it was given. A
    materialisation without them (none yet, or from before they were recorded): the profile's."""
    return runs_params(context, {asset: key})[asset]


def runs_params(context: AssetCheckExecutionContext | AssetExecutionContext,
                assets: Mapping[str, AssetKey]) -> dict[str, PhaseParams]:
    """``run_params`` of several assets (asset name -> its key) from one event-log query."""
    found = latest_metadata(context.instance, assets.values())
    return {asset: recorded_params(PARAMETERS[asset], found[key].get("params"),
                                   str(found[key]["profile"]) if "profile" in found[key] else "")
            for asset, key in assets.items()}


def latest_metadata(instance: DagsterInstance, keys: Iterable[AssetKey]) -> dict[AssetKey, dict[str, Any]]:
    """Each asset's latest materialisation metadata, as values (one event-log query; {} for none)."""
    keys = list(keys)
    events = instance.get_latest_materialization_events(keys)
    out: dict[AssetKey, dict[str, Any]] = {}
    for key in keys:
        event = events.get(key)
        materialization = event.asset_materialization if event is not None else None
        out[key] = {k: v.value for k, v in materialization.metadata.items()} if materialization is not None else {}
    return out


def exactly_once_check(mode: BuildMode, asset_name: str) -> AssetChecksDefinition:
    """Every in-scope track is in exactly one cluster, or listed in ``unplaced`` with a reason; no
    cluster holds a track outside the scope. Blocking: a failure stops downstream assets of the run."""

    @asset_check(
        asset=mode.key(asset_name), name="exactly_once", blocking=True,
        description=f"Every track of {asset_name}.all_track_ids sits in exactly one cluster, or is listed "
                    "in unplaced with a reason; no cluster holds a track outside the scope.",
    )
    def _exactly_once(cluster_set: ClusterSet) -> AssetCheckResult:
        problems = cluster_set.membership_problems()
        unexplained = [u for u in cluster_set.unplaced if not str(u.get("reason", "")).strip()]
        placed = sum(len(c.track_ids) for c in cluster_set.clusters)
        passed = not any(problems.values()) and not unexplained
        examples = [{"problem": kind, "track_id": t} for kind, ids in problems.items() for t in ids[:5]]
        examples += [{"problem": "unplaced without reason", "track_id": u.get("track_id")} for u in unexplained[:5]]
        return AssetCheckResult(
            passed=passed,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "tracks_in_scope": len(set(cluster_set.all_track_ids)),
                "tracks_in_clusters": placed,
                "unplaced": len(cluster_set.unplaced),
                "duplicated": len(problems["duplicated"]),
                "out_of_scope": len(problems["out_of_scope"]),
                "orphaned": len(problems["orphaned"]),
                "unplaced_without_reason": len(unexplained),
                "examples": markdown_table(examples) if examples else MetadataValue.md("_(none)_"),
            },
        )

    return _exactly_once
