"""Safe file names, containment checks, track paths and where the build's outputs live.

Names come from LLM-written titles and user tags: they are untrusted. Every name that becomes a
path component goes through :func:`safe_name`; every path an export writes is checked with
:func:`resolve_inside` so nothing lands outside the folder it was meant for.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd

from collection_tree import settings
from collection_tree.core.atomic import atomic_write_bytes
from collection_tree.core.inputs import load_tracks, tracks_from_storage
from collection_tree.exports import ExportError

MUSIC_ROOT_ENV = "COLLECTION_TREE_MUSIC_ROOT"
STORE_ENV = "COLLECTION_TREE_STORE"  # same variable definitions.py binds the IO managers to
MAX_NAME_BYTES = 120  # well under the 255-byte limit of common filesystems, room for " (2).m3u8"

# Separators and what Windows refuses in names: separators become "-", the rest a look-alike or nothing.
_REPLACE = str.maketrans({"/": "-", "\\": "-", "|": "-", ":": "-", '"': "'", "<": "", ">": "", "?": "", "*": ""})
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                    *(f"LPT{i}" for i in range(1, 10))}
_DRIVE = re.compile(r"^[A-Za-z]:/")


_BREAKING = ("Cc", "Cs", "Zl", "Zp")  # control chars (CR, LF, ESC, NUL), lone surrogates, line/paragraph separators
# Bidi embeddings, overrides, isolates and marks: they can make text display as something it is not
# ("evil\u202egnp.mp3" shows as "evilpmg.exe"-style spoofs), so no export shows them.
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def strip_control(text: str, replacement: str = " ") -> str:
    """Characters that break line-based formats, terminals or XML replaced. Format characters such
    as zero-width spaces stay: real file names and titles use them."""
    return "".join(replacement if unicodedata.category(ch) in _BREAKING or ch in "\ufffe\uffff" else ch
                   for ch in text)


def has_control(text: str) -> bool:
    """Control or bidi characters: a path holding them cannot be shown or written safely."""
    return strip_control(text) != text or any(ch in _BIDI for ch in text)


def display_text(value: object) -> str:
    """One line of text for a person or a DJ program: control characters become spaces, bidi controls
    go, runs of whitespace become one space. Missing values (None, NaN) are empty."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = "".join(ch for ch in strip_control(str(value)) if ch not in _BIDI)
    return " ".join(text.split())


def safe_name(text: str, *, fallback: str = "untitled", max_bytes: int = MAX_NAME_BYTES) -> str:
    """One path component from an untrusted title: no separators, no ``..``, no control
    characters, no Windows-reserved names, at most ``max_bytes`` of UTF-8."""
    # Bidi overrides go too: they can make a name display as something it is not.
    name = "".join(ch for ch in unicodedata.normalize("NFC", strip_control(str(text))) if ch not in _BIDI)
    name = name.translate(_REPLACE)
    name = re.sub(r"\.{2,}", ".", name)  # no ".." anywhere, not even inside a name
    name = re.sub(r"\s+", " ", name).strip(" .")  # trailing dots/spaces vanish on Windows; "..": gone
    if not name:
        name = fallback
    if name.split(".")[0].upper() in _WINDOWS_DEVICES:
        name = f"_{name}"
    return truncate_bytes(name, max_bytes) or fallback


def truncate_bytes(text: str, max_bytes: int) -> str:
    """At most ``max_bytes`` of UTF-8, never cutting a character in half."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", errors="ignore").rstrip(" .")


def unique_names(names: Iterable[str], *, suffix: str = "") -> list[str]:
    """Make names (already made safe for their use) unique, case-insensitively (macOS and Windows folders are), by
    appending `` (2)``, `` (3)``... ``suffix`` (an extension) is appended to every name."""
    taken: set[str] = set()
    out: list[str] = []
    for name in names:
        candidate, n = name, 1
        while (candidate + suffix).casefold() in taken:
            n += 1
            tail = f" ({n})"
            candidate = truncate_bytes(name, MAX_NAME_BYTES - len(tail.encode())) + tail
        taken.add((candidate + suffix).casefold())
        out.append(candidate + suffix)
    return out


def resolve_inside(base: Path, target: str | Path) -> Path:
    """``target`` (relative: to ``base``) resolved, refused when it lies outside ``base``."""
    base_resolved = Path(base).resolve()
    path = Path(target)
    resolved = (path if path.is_absolute() else base_resolved / path).resolve()
    if resolved != base_resolved and base_resolved not in resolved.parents:
        raise ExportError(f"refusing to write to {str(target)!r}: it lies outside the output folder "
                          f"{str(base_resolved)!r}")
    return resolved


# ------------------------------------------------------------------------------------ track paths
def music_root_from_env() -> str | None:
    return os.environ.get(MUSIC_ROOT_ENV) or None


def _uri_to_path(location: str) -> str:
    """``file://localhost/C:/a%20b.mp3`` or ``file:///home/a.mp3`` -> a plain path."""
    parts = urlsplit(location)
    path = unquote(parts.path)
    if re.match(r"^/[A-Za-z]:/", path):  # file:///C:/... names a Windows drive
        path = path[1:]
    if parts.netloc and parts.netloc != "localhost":  # UNC share
        path = f"//{parts.netloc}{path}"
    return path


def is_absolute(path: str) -> bool:
    """POSIX absolute, a Windows drive path or a UNC share (all with ``/`` separators)."""
    return path.startswith("/") or bool(_DRIVE.match(path))


MISSING = "missing"  # no location: left out (an entry needs a path)
OUTSIDE_ROOT = "outside_music_root"  # a relative location climbing out of the music root with "..": refused
UNREPRESENTABLE = "unrepresentable"  # control or bidi characters in the path: refused


def absolute_form(path: str | os.PathLike[str]) -> str:
    """``path`` made absolute in the user's own form: joined onto the working directory and cleaned
    lexically, never through ``Path.resolve()``, so a music folder reached through a symlink keeps
    the path the DJ library already holds."""
    text = str(path).replace("\\", "/")
    return text if is_absolute(text) else os.path.abspath(text).replace("\\", "/")


def locate_track(location: object, music_root: str | None) -> tuple[str | None, str | None]:
    """The path a playlist should name for a track's ``location`` (``/`` separators) and, when it
    cannot be used, why (``MISSING``, ``OUTSIDE_ROOT``, ``UNREPRESENTABLE``).

    Absolute locations (and ``file://`` URIs) are kept as written. Relative ones are joined onto
    ``music_root`` (else returned relative); one whose ``..`` steps climb out of the music root is
    refused rather than followed: the tags would otherwise make a DJ program load a file outside
    the collection the user pointed us at."""
    if location is None or (isinstance(location, float) and location != location):
        return None, MISSING
    text = str(location).strip()
    if not text:
        return None, MISSING
    if text.lower().startswith("file:"):
        text = _uri_to_path(text)
    text = text.replace("\\", "/")
    if has_control(text):
        return None, UNREPRESENTABLE
    if is_absolute(text):
        return text, None
    relative = posixpath.normpath(text)
    if relative == ".." or relative.startswith("../"):
        return None, OUTSIDE_ROOT
    if not music_root:
        return relative, None
    root = str(music_root).replace("\\", "/").rstrip("/")
    return f"{root}/{relative}", None


def track_path(location: object, music_root: str | None) -> str | None:
    """:func:`locate_track`'s path alone (None when the location cannot be used)."""
    return locate_track(location, music_root)[0]


# ---------------------------------------------------------------------------------- output places
@dataclass(frozen=True)
class OutputPlaces:
    """Where one build mode's outputs and stored phase documents are."""

    output_dir: Path
    store_dir: Path

    @classmethod
    def for_mode(cls, test: bool = False, output_dir: str | Path | None = None) -> OutputPlaces:
        base = Path(output_dir) if output_dir else settings.output_dir()
        store = Path(os.environ.get(STORE_ENV) or base / "store")
        # Same layout as BuildMode.output_dir and the IO managers' key prefix for the test run.
        return cls(output_dir=base / "test_run" if test else base, store_dir=store / "test_run" if test else store)

    @property
    def tree_json(self) -> Path:
        return self.output_dir / "curated_collection.json"

    @property
    def stored_tracks(self) -> Path:
        return self.store_dir / "tracks.parquet"


# ------------------------------------------------------------------------------------ atomic files
def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary sibling and rename: readers never see a half-written file."""
    atomic_write_bytes(path, data)


def replace_dir(final: Path, build: Path) -> None:
    """Swap a freshly written folder into place so no stale files from an older tree survive."""
    old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
    if final.exists():
        os.replace(final, old)
    try:
        os.replace(build, final)
    except OSError:
        if old.exists():
            os.replace(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def default_tracks_file(tracks_path: str | Path | None = None) -> Path | None:
    """The tracks file a build reads: ``tracks_path``, else ``COLLECTION_TREE_TRACKS``, else the demo
    collection's (when it exists)."""
    if tracks_path:
        return Path(tracks_path)
    if os.environ.get(settings.TRACKS_ENV):
        return Path(os.environ[settings.TRACKS_ENV])
    demo = settings.demo_dir() / "tracks.csv"
    return demo if demo.exists() else None


def default_music_root(music_root: str | None = None, tracks_path: str | Path | None = None) -> str | None:
    """The folder relative locations are under, as the build's exports use it: ``music_root``, else
    ``COLLECTION_TREE_MUSIC_ROOT``, else the tracks file's folder; absolute in the user's own form."""
    root = music_root or music_root_from_env()
    if root:
        return absolute_form(root)
    tracks = default_tracks_file(tracks_path)
    return str(Path(absolute_form(tracks)).parent) if tracks else None


def load_tracks_table(places: OutputPlaces, tracks_path: str | Path | None = None) -> pd.DataFrame:
    """The tracks for an export: ``tracks_path`` when given, else the build's stored (validated)
    table, else ``COLLECTION_TREE_TRACKS``."""
    if tracks_path:
        return load_tracks(tracks_path)
    if places.stored_tracks.exists():
        return tracks_from_storage(pd.read_parquet(places.stored_tracks))
    if os.environ.get(settings.TRACKS_ENV):
        return load_tracks(os.environ[settings.TRACKS_ENV])
    raise ExportError(f"no tracks table: {places.stored_tracks} does not exist; pass --tracks or set "
                      f"{settings.TRACKS_ENV}")
