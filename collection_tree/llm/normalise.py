"""Repairs for the LLM's known quirks, in one place (reference: "LLM Response Normalisation")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

ID_KEYS = ("track_id", "id", "cluster_id", "value")
SCORE_KEYS = ("score", "value", "rating", "coherence", "coherence_score")


def as_int(value: Any) -> int | None:
    """123, "123", 123.0, {"track_id": 123} -> 123; anything else -> None."""
    if isinstance(value, dict):
        for key in ID_KEYS:
            if key in value:
                return as_int(value[key])
        if len(value) == 1:
            return as_int(next(iter(value.values())))
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip().lstrip("#")
        if text.lstrip("-").isdigit():
            return int(text)
    return None


def as_int_ids(values: Any, allowed: Iterable[int] | None = None) -> list[int]:
    """A list of ids, each normalised, unknown ones (not in ``allowed``) dropped, order kept, deduped."""
    if values is None:
        return []
    if not isinstance(values, list):
        values = [values]
    allowed_set = set(allowed) if allowed is not None else None
    out: list[int] = []
    for value in values:
        number = as_int(value)
        if number is None or (allowed_set is not None and number not in allowed_set) or number in out:
            continue
        out.append(number)
    return out


def as_score(value: Any, default: float = 5.0, low: float = 1.0, high: float = 10.0) -> float:
    """A 1-10 score from 7, "7", 7.5, {"score": 7}; out-of-range values are clipped, junk -> default."""
    if isinstance(value, dict):
        for key in SCORE_KEYS:
            if key in value:
                return as_score(value[key], default, low, high)
        return default
    if isinstance(value, bool):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    if number != number:  # NaN
        return default
    return min(max(number, low), high)


def as_text(value: Any, default: str = "", limit: int | None = None) -> str:
    text = value if isinstance(value, str) else default
    text = " ".join(text.split())
    return text[:limit] if limit else text


def as_str_id(value: Any, allowed: Iterable[str]) -> str | None:
    """A string id that must be one of ``allowed`` (dict-wrapped ids unwrapped)."""
    if isinstance(value, dict):
        for key in ID_KEYS:
            if key in value:
                return as_str_id(value[key], allowed)
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(int(value)) if float(value).is_integer() else str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if value in set(allowed) else None
