"""Reusable asset checks for cluster-set assets (phases 3 and later)."""

from dagster import AssetCheckResult, AssetChecksDefinition, AssetCheckSeverity, MetadataValue, asset_check

from collection_tree.assets.metadata import markdown_table
from collection_tree.assets.modes import BuildMode
from collection_tree.core.clusters import ClusterSet


def exactly_once_summary(cluster_set: ClusterSet) -> MetadataValue:
    """One line for an asset's metadata: "ok: ..." or the count of each membership problem."""
    problems = cluster_set.membership_problems()
    if not any(problems.values()):
        return MetadataValue.text("ok: every in-scope track in exactly one cluster or explained in unplaced")
    return MetadataValue.text(", ".join(f"{k}: {len(v)}" for k, v in problems.items() if v))


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
