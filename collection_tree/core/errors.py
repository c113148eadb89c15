"""Errors for bad input: each names the file, the field and what was expected."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """An input file breaks its contract.

    The message always reads ``<file>: field '<field>': expected <expected>[, got <got>]`` so a
    person can find and fix the offending value.
    """

    def __init__(self, file: str | Path, field: str, expected: str, got: object | None = None):
        self.file = str(file)
        self.field = field
        self.expected = expected
        self.got = got
        message = f"{self.file}: field '{field}': expected {expected}"
        if got is not None:
            shown = repr(got)
            message += f", got {shown[:200]}"
        super().__init__(message)
