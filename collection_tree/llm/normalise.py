"""Repairs for the LLM's known quirks, in one place (reference: "LLM Response Normalisation")."""

from __future__ import annotations

import json
import re
import unicodedata
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
    return value if value in (allowed if isinstance(allowed, set | frozenset) else set(allowed)) else None


def as_str_ids(values: Any, allowed: Iterable[str], taken: set[str] | None = None) -> list[str]:
    """A list of string ids (one id accepted too), each through :func:`as_str_id`: ids not in
    ``allowed`` dropped, order kept, deduped. With ``taken``, ids already in it are dropped as well and
    the kept ones are added to it (each id in one list at most, across calls)."""
    if values is None:
        return []
    if not isinstance(values, list):
        values = [values]
    allowed = allowed if isinstance(allowed, set | frozenset) else set(allowed)  # once, not per id
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        sid = as_str_id(value, allowed)
        if sid is None or sid in seen or (taken is not None and sid in taken):
            continue
        out.append(sid)
        seen.add(sid)
        if taken is not None:
            taken.add(sid)
    return out


_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


def parse_json_answer(text: str) -> Any:
    """The JSON value in an answer's text: plain JSON, or JSON wrapped in a ```json fence or in prose
    ("Here is the answer: {...}"). Raises ``ValueError`` when there is no complete JSON value."""
    if not isinstance(text, str):
        raise ValueError(f"answer text is {type(text).__name__}, not str")
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as first_error:
        candidates = [m.group(1).strip() for m in _FENCE.finditer(stripped)]
        start = stripped.find("{")
        if start >= 0:
            candidates.append(stripped[start:])
        decoder = json.JSONDecoder()
        for candidate in candidates:
            try:
                value, _ = decoder.raw_decode(candidate)
            except json.JSONDecodeError:
                continue
            return value
        raise ValueError(f"answer is not JSON ({first_error})") from first_error


CONFIDENCE_KEYS = ("confidence", "score", "value", "probability")


def as_confidence(value: Any, default: float = 0.0) -> float:
    """A confidence in [0, 1] from 0.8, "0.8", "80%", 80 (a percentage), {"confidence": 0.8};
    junk -> ``default`` (0: an unreadable confidence never passes a threshold)."""
    if isinstance(value, dict):
        for key in CONFIDENCE_KEYS:
            if key in value:
                return as_confidence(value[key], default)
        return default
    if isinstance(value, bool):
        return default
    percent = isinstance(value, str) and value.strip().endswith("%")
    try:
        number = float(value.strip().rstrip("%")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return default
    if number != number or number < 0:  # NaN or negative
        return default
    if percent or 1.0 < number <= 100.0:
        number /= 100.0
    return min(number, 1.0)


def as_str_list(values: Any, limit: int | None = None, exclude: Iterable[str] = ()) -> list[str]:
    """A list of short strings: one string or a list; blanks, non-strings and case-insensitive
    duplicates dropped, as are values in ``exclude`` (e.g. what a track already carries)."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        return []
    seen = {str(v).strip().casefold() for v in exclude}
    out: list[str] = []
    for value in values:
        text = as_text(value)
        if not text or text.casefold() in seen:
            continue
        seen.add(text.casefold())
        out.append(text)
    return out[:limit] if limit is not None else out


def as_records(value: Any, id_key: str, value_key: str | None = None) -> list[dict[str, Any]]:
    """A list of answer records from a list of dicts, or from a dict keyed by id (a common quirk:
    ``{"c1": {...}}`` or ``{"17": "c1"}`` instead of ``[{"cluster_id": "c1", ...}]``). A scalar
    value of a keyed dict lands under ``value_key``; anything else is dropped."""
    if isinstance(value, dict):
        records = []
        for key, item in value.items():
            if isinstance(item, dict):
                records.append({id_key: key, **item})
            elif value_key is not None:
                records.append({id_key: key, value_key: item})
        return records
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []


NAME_KEYS = ("name", "category", "title", "value")


def as_choice(value: Any, allowed: Iterable[str]) -> str | None:
    """One of ``allowed`` (e.g. the category names a request offered as an ``enum``): exact, or equal
    ignoring case and spacing; dict-wrapped values (``{"name": ...}``) unwrapped. Anything else -> None."""
    if isinstance(value, dict):
        for key in NAME_KEYS:
            if key in value:
                return as_choice(value[key], allowed)
        return None
    if not isinstance(value, str):
        return None
    options = list(allowed)
    if value in options:
        return value
    wanted = " ".join(value.split()).casefold().strip(" \"'“”")
    for option in options:
        if " ".join(option.split()).casefold() == wanted:
            return option
    return None


def kebab_case(text: str, default: str = "item") -> str:
    """``"Hip-Hop & Rap (USA)"`` -> ``"hip-hop-and-rap-usa"``: ASCII letters and digits joined by hyphens
    (accents folded, "&" read as "and"); ``default`` when nothing is left."""
    folded = unicodedata.normalize("NFKD", str(text).replace("&", " and ")).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", folded.casefold()).strip("-")
    return slug or default
