"""The pure decisions of an incremental update (issue 15 part 1): what changed in the tracks, and which
leaves changed enough to need new text. No placement here: the update reuses the full build's phase
functions (``phases/placement.py``, ``phases/reassignment.py``) on the new tracks only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from collection_tree.phases.common import PhaseParams, param


@dataclass(frozen=True)
class IncrementalParams(PhaseParams):
    PHASE = "incremental"

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
