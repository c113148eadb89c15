"""Code versions of the phase assets: a hash of what shapes a phase's output besides its inputs, i.e.
the prompts and answer schemas of the LLM tasks it uses and its parameter defaults (both profiles).

Dagster compares an asset's current code version with the one its last materialisation recorded, so
``collection-tree status`` and the UI mark exactly the phases a prompt, schema or default change makes
stale (and, through the data versions, what is downstream of them). The tasks are found in the phase
module itself (its ``TaskSpec`` globals and the task modules it imports), so a new task needs no list
kept in sync here."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from collection_tree.tasks.base import TaskSpec

TASKS_PACKAGE = "collection_tree.tasks."


def phase_tasks(module: ModuleType) -> list[TaskSpec]:
    """The LLM tasks a phase module uses, by name."""
    found: dict[str, TaskSpec] = {}
    for value in vars(module).values():
        if isinstance(value, TaskSpec):
            found[value.name] = value
        elif isinstance(value, ModuleType) and value.__name__.startswith(TASKS_PACKAGE):
            found.update({v.name: v for v in vars(value).values() if isinstance(v, TaskSpec)})
    return [found[name] for name in sorted(found)]


def _params(params_cls: type | None) -> dict[str, Any]:
    if params_cls is None:
        return {}
    return {"default": dataclasses.asdict(params_cls()), "seed": dict(getattr(params_cls, "SEED", {}))}


def code_version(module: ModuleType | None = None, params_cls: type | None = None,
                 extra: Mapping[str, Any] | None = None) -> str:
    """16 hex digits of the sha256 over the phase's task prompts, schemas, tiers and token limits, its
    parameter defaults, and ``extra`` (an asset's own config defaults)."""
    tasks = [{"name": t.name, "tier": t.tier, "system": t.system, "schema": t.schema, "max_tokens": t.max_tokens}
             for t in (phase_tasks(module) if module is not None else [])]
    blob = json.dumps({"tasks": tasks, "params": _params(params_cls), "extra": dict(extra or {})},
                      sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
