"""The tree asset's incremental update (issue 15 part 1), and the choice between an update and a full
build that ``collection-tree update`` and the tracks sensor share.

With ``update: true`` in its run config (the ``collection_tree_update`` job sets it), the tree asset
reads the previous tree from its own latest materialisation (``assets/evolution.stored_tree``) and
runs ``phases/update.update_tree`` on the current tracks and trees, with the parameters the updated
build's phases recorded (``run_params``), instead of assembling the phases' outputs. The upstream
phase assets are not re-run.
"""

from pathlib import Path
from typing import Any, cast

import pandas as pd
from dagster import AssetExecutionContext, DagsterInstance, Failure, MetadataValue

from collection_tree.assets.checks import runs_params
from collection_tree.assets.evolution import stored_tree
from collection_tree.assets.llm_step import phase_llm
from collection_tree.assets.metadata import llm_metadata, to_dagster
from collection_tree.assets.modes import FULL, BuildMode
from collection_tree.assets.progress import PhaseProgress
from collection_tree.core.inputs import load_track_ids, load_tree
from collection_tree.phases.enrichment import EnrichParams
from collection_tree.phases.incremental import BuildChoice, TreeParams, choose_build, tree_only_gains_tracks
from collection_tree.phases.leaves import LeafParams
from collection_tree.phases.naming import NamingParams
from collection_tree.phases.reassignment import ReassignParams
from collection_tree.phases.refinement import RefineParams
from collection_tree.phases.seed_clusters import SeedParams
from collection_tree.phases.update import UpdateResult, UpdateSteps, previous_track_ids, update_tree
from collection_tree.resources.llm import LLMResource
from collection_tree.resources.settings import CollectionInputs

TREES = ("genre_tree", "scene_tree")


def update_steps(context: AssetExecutionContext, mode: BuildMode, params: TreeParams) -> UpdateSteps:
    """The parameters the phases of the build being updated ran with (their ``params`` metadata)."""
    names = ["seed_clusters", "named_clusters", "assigned_clusters", "refined_clusters", "collection_leaves",
             *(["metadata_suggestions"] if mode.enrich else [])]
    found = runs_params(context, {name: mode.key(name) for name in names})

    def recorded(name: str) -> Any:
        return found[name]

    return UpdateSteps(
        seeds=cast(SeedParams, recorded("seed_clusters")), naming=cast(NamingParams, recorded("named_clusters")),
        reassign=cast(ReassignParams, recorded("assigned_clusters")),
        refine=cast(RefineParams, recorded("refined_clusters")),
        leaves=cast(LeafParams, recorded("collection_leaves")),
        enrich=cast(EnrichParams, recorded("metadata_suggestions")) if mode.enrich else None,
        order=params, incremental=params)


def run_update(context: AssetExecutionContext, mode: BuildMode, llm: LLMResource, inputs: CollectionInputs,
               params: TreeParams, previous: dict[str, Any] | None, table: pd.DataFrame,
               genre_tree: dict[str, Any], scene_tree: dict[str, Any], build: dict[str, Any],
               progress: PhaseProgress) -> tuple[UpdateResult, dict[str, Any]]:
    """The update of the ``previous`` tree (``evolution.previous_tree``; before identity/overrides,
    which ``evolve`` applies) and its metadata. ``table``: the tracks as ``tracks_from_storage``
    gives them (the tree asset converts them once)."""
    if previous is None:
        raise Failure(description="update: there is no previous collection tree to update (no materialisation of "
                                  f"{mode.key('collection_tree').to_user_string()} with a readable stored value); "
                                  "run a full build first (`collection-tree build`).")
    steps = update_steps(context, mode, params)
    with phase_llm(context, llm, inputs, "collection_tree",
                   max_fallback_share=steps.reassign.max_fallback_share) as bound:
        result = update_tree(previous, table, genre_tree, scene_tree, bound, steps,
                             lambda f, m: progress(0.95 * f, m), build=build,
                             validate=False)  # the tree asset validates the tree it finishes
    report = result.report
    context.log.info(f"[collection_tree] update: +{report.tracks_added} tracks ({report.new_tracks_placed} placed, "
                     f"{report.new_tracks_ungrouped} ungrouped), -{report.tracks_removed}; "
                     f"{len(report.new_leaves)} new leaves, {report.refreshed_leaves} refreshed")
    return result, {"mode": "update", "update": MetadataValue.json(report.to_dict()),
                    **{f"update_{k}": v for k, v in to_dagster(report.to_metadata()).items()},
                    **llm_metadata(bound.stats())}


# ------------------------------------------------------------------------------ update or full?
def choose(instance: DagsterInstance, paths: dict[str, Path], mode: BuildMode = FULL) -> BuildChoice:
    """Update or full build, from the previous tree in the asset history and the current input files:
    an update when no track was removed and each tree only gained track ids (against the stored
    trees the previous build read). Raises ``InputError`` (a ``ValueError``) for an unreadable input."""
    previous = stored_tree(instance, mode)
    current, columns = load_track_ids(paths["tracks"])  # the rows themselves are validated by the build
    if previous is None:
        return choose_build(None, current, {})
    known = set(current)
    grown = {}
    for name in TREES:
        before = stored_tree(instance, mode, asset=name)
        now = load_tree(paths[name], name.removesuffix("_tree"), known, track_columns=set(columns)).doc
        grown[name.removesuffix("_tree")] = before is not None and tree_only_gains_tracks(before, now)
    return choose_build(previous_track_ids(previous), current, grown)
