"""The tree asset's link to the previous build (issue 15 parts 2-4): keep the previous leaves' and
categories' ids and titles (``phases/identity.py``), apply ``overrides.json`` (``phases/overrides.py``),
and record the diff (``phases/changes.py``) as metadata and ``<output>/changes.json``. The previous
tree is the stored value of this asset's latest materialisation (Dagster's own history: its ``path``
metadata, written by the JSON IO manager), read before this run replaces it."""

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, DagsterInstance, MetadataValue
from upath import UPath

from collection_tree.assets.modes import BuildMode
from collection_tree.core.atomic import atomic_write_json
from collection_tree.core.curation import facet_words_of
from collection_tree.phases.changes import diff_trees, markdown
from collection_tree.phases.identity import IdentityParams, carry_identity
from collection_tree.phases.overrides import apply_overrides, load_overrides
from collection_tree.phases.reassignment import PreviousPlacement
from collection_tree.phases.update import kept_identity
from collection_tree.resources.settings import PipelineSettings


def previous_stored(instance: DagsterInstance, key: AssetKey,
                    warn: Callable[[str], Any] | None = None) -> dict[str, Any] | None:
    """The stored value of ``key``'s latest materialisation (its IO manager's ``path`` metadata, a
    local path or an object-store URL), read before this run replaces it; None when there is none."""
    event = instance.get_latest_materialization_event(key)
    materialization = event.asset_materialization if event is not None else None
    stored = materialization.metadata.get("path") if materialization is not None else None
    if stored is None or not UPath(str(stored.value)).exists():
        return None
    try:
        value = json.loads(UPath(str(stored.value)).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        if warn is not None:
            warn(f"[{key.to_user_string()}] previous value at {stored.value} unreadable ({exc})")
        return None
    return value if isinstance(value, dict) else None


def stored_tree(instance: DagsterInstance, mode: BuildMode, warn: Callable[[str], Any] | None = None, *,
                asset: str = "collection_tree") -> dict[str, Any] | None:
    """The previous tree, or the genre/scene tree the previous build read (``asset``)."""
    tree = previous_stored(instance, mode.key(asset), warn)
    key = "categories" if asset == "collection_tree" else "lineages"
    return tree if tree is not None and isinstance(tree.get(key), list) else None


def previous_tree(context: AssetExecutionContext, mode: BuildMode) -> dict[str, Any] | None:
    return stored_tree(context.instance, mode, context.log.warning)


def previous_placement(context: AssetExecutionContext, mode: BuildMode) -> PreviousPlacement | None:
    """Phase 3's decisions in the previous build (``ReassignParams.keep_previous``)."""
    stored = previous_stored(context.instance, mode.key("assigned_clusters"), context.log.warning)
    report = stored.get("report") if stored is not None else None
    return PreviousPlacement.from_report(report) if isinstance(report, dict) else None


def evolve(context: AssetExecutionContext, mode: BuildMode, settings: PipelineSettings,
           previous: dict[str, Any] | None, doc: dict[str, Any], params: IdentityParams, tracks: pd.DataFrame, *,
           carry_ids: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tree with the ``previous`` tree's ids/titles (``previous_tree``) and the user's overrides,
    and the metadata saying so. ``carry_ids=False``: the tree kept them by construction (an
    incremental update), only checked."""
    carried, identity = (carry_identity(previous, doc, params, facet_words_of(tracks)) if carry_ids
                         else (doc, kept_identity(previous, doc)))
    overridden, overrides = apply_overrides(carried, load_overrides(settings.overrides_file()), previous)
    changes = diff_trees(previous, overridden)
    path = atomic_write_json(mode.places(settings.places()).output / "changes.json", changes)
    for line in overrides.stale:
        context.log.warning(f"[collection_tree] override no longer applies: {line}")
    return overridden, {
        "identity": MetadataValue.json(identity.to_dict()),
        "overrides_applied": MetadataValue.json(overrides.applied),
        "overrides_stale": MetadataValue.json(overrides.stale),
        "changes": MetadataValue.md(markdown(changes)),
        "changes_file": MetadataValue.path(str(path)),
        "tracks_moved": changes["counts"]["moved"],
    }


HISTORY_DIR = "history"  # beside the tree file: the trees of the last builds, by run id
TREES_KEPT = 20  # builds whose tree ``collection-tree diff RUN_A RUN_B`` can still read


def keep_tree(tree_file: Path, run_id: str) -> Path:
    """This run's tree kept as ``history/<run_id>.json`` beside the tree file (a hard link: the tree
    file is replaced, never rewritten in place, so the link keeps this build's bytes), the oldest
    beyond ``TREES_KEPT`` removed. The path goes in the tree's metadata (``tree_snapshot``)."""
    history = tree_file.parent / HISTORY_DIR
    history.mkdir(parents=True, exist_ok=True)
    kept = history / f"{run_id}.json"
    kept.unlink(missing_ok=True)  # a re-executed run keeps its latest tree
    try:
        os.link(tree_file, kept)
    except OSError:  # no hard links on this file system
        shutil.copyfile(tree_file, kept)
    trees = sorted(history.glob("*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in trees[TREES_KEPT:]:
        old.unlink(missing_ok=True)
    return kept
