"""The exports' parameters (run config of the export assets), declared like a phase's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from collection_tree.exports.traktor import SYSTEM_VOLUME
from collection_tree.phases.common import PhaseParams, param


@dataclass(frozen=True)
class ExportParams(PhaseParams):
    music_root: str = param("", "Folder that relative track locations are under (empty: the music_root setting, "
                                "COLLECTION_TREE_MUSIC_ROOT, else the tracks file's folder)")

    PHASE: ClassVar[str] = "exports"


@dataclass(frozen=True)
class TraktorParams(ExportParams):
    system_volume: str = param(SYSTEM_VOLUME, "Traktor's name for the start-up disk (macOS); paths under "
                                              "/Volumes/<name>/ and Windows drives name their own volume")
