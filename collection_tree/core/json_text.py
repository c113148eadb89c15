"""JSON documents at scale: indented text byte for byte what ``json.dumps(data, ensure_ascii=False,
indent=n)`` gives, and deep copies, each at a fraction of the standard library's cost on large trees.

The standard library's C encoder only serves ``indent=None``; with an indent every value goes through
nested Python generators, each chunk re-yielded by every level above it (the collection tree's JSON
and the store's documents were ~10% of a 100K-track build). Here one recursive pass appends to a list,
and the bulk of a tree, flat lists of track ids or of strings, is joined by C-level ``map``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from json.encoder import encode_basestring  # type: ignore[attr-defined]  # the C function when available
from pathlib import Path
from typing import Any, BinaryIO

_INFINITY = float("inf")


def _float(value: float) -> str:
    """As ``json``'s floatstr (allow_nan: NaN and the infinities as JavaScript names)."""
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return float.__repr__(value)


def _scalar(value: Any) -> str | None:
    """A JSON scalar as ``json`` writes it (None: not a scalar)."""
    if isinstance(value, str):
        return encode_basestring(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _float(value)
    return None


def _key(key: Any) -> str | None:
    """A dict key as ``json`` writes it, before quoting (None: a key type it refuses)."""
    return key if isinstance(key, str) else _scalar(key)


FLUSH_PARTS = 1 << 16  # pieces held before a streamed write (``write_indented``) goes to its handle


def dumps_indented(data: Any, indent: int = 1, default: Callable[[Any], Any] | None = None) -> str:
    """``json.dumps(data, ensure_ascii=False, indent=indent, default=default)`` (keys in their order,
    NaN allowed, no circularity check: the documents are trees)."""
    parts: list[str] = []
    _encode(data, indent, default, parts, None)
    return "".join(parts)


def write_indented(data: Any, handle: BinaryIO, indent: int = 1, default: Callable[[Any], Any] | None = None) -> None:
    """``dumps_indented(data, indent, default)`` UTF-8 encoded to ``handle``, written in chunks as it is
    made: a 1M-track tree's text (~230 MB), its pieces and its encoding are never held whole."""
    def flush(parts: list[str]) -> None:
        handle.write("".join(parts).encode("utf-8"))
        parts.clear()

    parts: list[str] = []
    _encode(data, indent, default, parts, flush)
    flush(parts)


def _encode(data: Any, indent: int, default: Callable[[Any], Any] | None, parts: list[str],
            flush: Callable[[list[str]], None] | None) -> None:
    """Appends ``data``'s indented JSON to ``parts``; with ``flush``, hands them over every
    ``FLUSH_PARTS`` pieces (between a container's items, so a chunk never splits a character)."""
    step = " " * indent
    append = parts.append

    def encode(value: Any, level: int) -> None:
        text = _scalar(value)
        if text is not None:
            append(text)
        elif isinstance(value, list | tuple):
            if not value:
                append("[]")
                return
            inner = "\n" + step * (level + 1)
            append("[" + inner)
            kinds = set(map(type, value))
            if kinds == {int}:
                append(("," + inner).join(map(int.__repr__, value)))
            elif kinds == {str}:
                append(("," + inner).join(map(encode_basestring, value)))
            else:
                for i, item in enumerate(value):
                    if i:
                        append("," + inner)
                    encode(item, level + 1)
                    if flush is not None and len(parts) >= FLUSH_PARTS:
                        flush(parts)
            append("\n" + step * level + "]")
        elif isinstance(value, dict):
            if not value:
                append("{}")
                return
            inner = "\n" + step * (level + 1)
            append("{" + inner)
            first = True
            for key, item in value.items():
                name = _key(key)
                if name is None:
                    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
                append(("" if first else "," + inner) + encode_basestring(name) + ": ")
                first = False
                encode(item, level + 1)
                if flush is not None and len(parts) >= FLUSH_PARTS:
                    flush(parts)
            append("\n" + step * level + "}")
        elif default is not None:
            encode(default(value), level)
        else:
            raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    encode(data, 0)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def copy_document(value: Any) -> Any:
    """``copy.deepcopy`` of a JSON-like document (dicts and lists of scalars) without deepcopy's memo
    and dispatch per value: a flat list is sliced whole (the 100K-track tree: 1.7 s -> a tenth).
    Anything else inside (tuples, sets, objects) goes through ``copy.deepcopy``. Containers shared
    between two places of the document come out as two copies (a JSON document has no sharing)."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return {key: copy_document(item) for key, item in value.items()}
    if kind is list:
        if set(map(type, value)) <= _SCALARS:
            return value[:]
        return [copy_document(item) for item in value]
    return copy.deepcopy(value)


class WrittenDocument(dict):  # type: ignore[type-arg]
    """A JSON document already written as ``write_indented(doc, 1)`` plus a final newline to ``file``,
    for a document stored twice (the tree file, then the phase store's copy of it): the store copies the
    file instead of serialising a 1M-track tree again. Only valid while neither changes: make it last."""

    def __init__(self, doc: dict[str, Any], file: Path):
        super().__init__(doc)
        self.file = file
