"""Every LLM task, one module per task: its prompt, its answer schema, its normaliser/validator and
its offline solver live together. ``TASKS`` finds them all (no list to keep in sync)."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from collection_tree.tasks.base import TaskSpec


def _discover() -> dict[str, TaskSpec]:
    found: dict[str, TaskSpec] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base" or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, TaskSpec):
                if value.name in found and found[value.name] is not value:
                    raise RuntimeError(f"two task specs named {value.name!r}")
                found[value.name] = value
    return found


TASKS: dict[str, TaskSpec] = _discover()


def solve_offline(task: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The named task's deterministic answer (what the fake API server answers with)."""
    return get_task(task).solve_offline(payload)


def get_task(name: str) -> TaskSpec:
    try:
        return TASKS[name]
    except KeyError as exc:
        raise KeyError(f"unknown LLM task {name!r}; known: {sorted(TASKS)}") from exc
