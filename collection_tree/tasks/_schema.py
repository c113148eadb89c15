"""Builders for the shapes every task's answer schema is made of (not a task: discovery skips modules
starting with "_"). Structured output wants strict objects: every property listed as required and no
other property allowed."""

from __future__ import annotations

from typing import Any


def strict_object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """An object with exactly ``properties``; all of them required unless ``required`` names them."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(properties) if required is None else required,
        "properties": properties,
    }


def record_array(properties: dict[str, Any], **array: Any) -> dict[str, Any]:
    """An array of strict records with ``properties``; ``array`` adds keywords of the array itself
    (e.g. ``description``)."""
    return {"type": "array", **array, "items": strict_object(properties)}


def record_list(key: str, properties: dict[str, Any], **array: Any) -> dict[str, Any]:
    """The usual answer, ``{key: [record, ...]}``: a strict object holding one array of strict records."""
    return strict_object({key: record_array(properties, **array)})


def category_list(members: str, **naming: dict[str, Any]) -> dict[str, Any]:
    """Phase 5's answer of categories: ``{"categories": [{<naming fields>, "description", <members>:
    [string, ...]}]}`` (``members``: the key of the category's cluster ids or candidate names)."""
    return record_list("categories", {**naming, "description": {"type": "string"},
                                      members: {"type": "array", "items": {"type": "string"}}})
