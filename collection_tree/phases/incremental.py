"""The pure decisions of an incremental update (issue 15 part 1): what changed in the tracks, and which
leaves changed enough to need new text. No placement here: the update reuses the full build's phase
functions (``phases/placement.py``, ``phases/reassignment.py``) on the new tracks only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from collection_tree.phases.common import PhaseParams, param
from collection_tree.phases.identity import IdentityParams
from collection_tree.phases.playlist_order import PlaylistOrderParams


@dataclass(frozen=True)
class IncrementalParams(PhaseParams):
    PHASE = "incremental"

    update: bool = param(False, "Update the previous build's tree with the tracks file's change (new tracks placed "
                                "into its leaves, phases 1-7 run only on what changed) instead of assembling it "
                                "from the phases' outputs; the collection_tree_update job sets it")
    refresh_share: float = param(
        0.2, "A leaf whose membership changed by more than this share of its previous size gets a new "
             "description, exemplars and suggestions; the others keep theirs.")

    def validate(self) -> None:
        if not 0.0 <= self.refresh_share <= 1.0:
            raise ValueError(f"refresh_share must be in [0, 1], got {self.refresh_share!r}")


@dataclass(frozen=True)
class TracksChange:
    """The track ids added and removed between the previous build's tracks and the current ones."""

    added: frozenset[int]
    removed: frozenset[int]
    kept: frozenset[int]

    @property
    def append_only(self) -> bool:
        """Only new tracks: the change an incremental update handles without a full build."""
        return not self.removed and bool(self.added)

    @property
    def unchanged(self) -> bool:
        return not self.added and not self.removed


@dataclass(frozen=True)
class TreeParams(PlaylistOrderParams, IncrementalParams, IdentityParams):
    """The tree asset's run config: the play order of every leaf, the incremental update's switch and
    how a leaf continues a previous build's (identity)."""

    PHASE = "collection_tree"

    def validate(self) -> None:
        PlaylistOrderParams.validate(self)
        IncrementalParams.validate(self)
        IdentityParams.validate(self)


def tracks_change(previous: Iterable[int], current: Iterable[int]) -> TracksChange:
    before, after = frozenset(previous), frozenset(current)
    return TracksChange(added=after - before, removed=before - after, kept=before & after)


def membership_change_share(before: Iterable[int], after: Iterable[int]) -> float:
    """Tracks that joined or left, as a share of the leaf's previous size (1.0 for a new leaf)."""
    old, new = set(before), set(after)
    if not old:
        return 1.0
    return len(old ^ new) / len(old)


def leaves_to_refresh(before: Mapping[str, Iterable[int]], after: Mapping[str, Iterable[int]],
                      share: float) -> list[str]:
    """Ids of leaves in ``after`` that are new or whose membership changed by more than ``share``."""
    return sorted(leaf for leaf, members in after.items()
                  if membership_change_share(before.get(leaf, ()), members) > share)


def _nodes(tree: Mapping[str, object]) -> dict[str, tuple[str, frozenset[int]]]:
    """node id -> (parent id, its track ids), over a genre or scene tree's ``lineages``."""
    out: dict[str, tuple[str, frozenset[int]]] = {}

    def walk(node: Mapping[str, object], parent: str) -> None:
        key = str(node.get("id", ""))
        out[key] = (parent, frozenset(int(t) for t in node.get("track_ids", []) or []))  # type: ignore[union-attr]
        for child in node.get("children", []) or []:  # type: ignore[union-attr]
            walk(child, key)

    for root in tree.get("lineages", []) or []:  # type: ignore[union-attr]
        walk(root, "")
    return out


def tree_only_gains_tracks(previous: Mapping[str, object], current: Mapping[str, object]) -> bool:
    """The same nodes under the same parents, each keeping every track it had (it may gain some)."""
    old, new = _nodes(previous), _nodes(current)
    return old.keys() == new.keys() and all(new[k][0] == parent and tracks <= new[k][1]
                                            for k, (parent, tracks) in old.items())


@dataclass(frozen=True)
class BuildChoice:
    """What ``collection-tree update`` and the tracks sensor run: ``"update"`` or ``"full"``, and why."""

    kind: str
    reason: str
    change: TracksChange | None = None


def choose_build(previous_tracks: Iterable[int] | None, current_tracks: Iterable[int],
                 trees_grown_only: Mapping[str, bool]) -> BuildChoice:
    """An update when there is a previous tree, no track was removed and every tree only gained track
    ids; otherwise a full build, with the reason. ``previous_tracks`` None: no previous build."""
    if previous_tracks is None:
        return BuildChoice("full", "no previous build to update")
    change = tracks_change(previous_tracks, current_tracks)
    if change.removed:
        return BuildChoice("full", f"{len(change.removed)} tracks were removed from the tracks file "
                                   "(an update handles added tracks only)", change)
    changed = sorted(name for name, ok in trees_grown_only.items() if not ok)
    if changed:
        return BuildChoice("full", f"the {' and '.join(changed)} tree changed beyond gaining track ids", change)
    if change.unchanged:
        return BuildChoice("update", "no tracks added or removed", change)
    return BuildChoice("update", f"{len(change.added)} tracks added, none removed", change)
