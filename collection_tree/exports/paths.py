"""Safe file names, containment checks, track paths and where the build's outputs live.

Names come from LLM-written titles and user tags: they are untrusted. Every name that becomes a
path component goes through :func:`safe_name`; every path an export writes is checked with
:func:`resolve_inside` so nothing lands outside the folder it was meant for.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pandas as pd
from upath import UPath

from collection_tree.core.atomic import atomic_write_bytes, atomic_writer, publish_folder, write_unpublished
from collection_tree.core.inputs import load_tracks, tracks_from_storage
from collection_tree.exports import ExportError
from collection_tree.settings import Places, Settings

MUSIC_ROOT_ENV = Settings.env_name("music_root")
MAX_NAME_BYTES = 120  # well under the 255-byte limit of common filesystems, room for " (2).m3u8"

# Separators and what Windows refuses in names: separators become "-", the rest a look-alike or nothing.
_REPLACE = str.maketrans({"/": "-", "\\": "-", "|": "-", ":": "-", '"': "'", "<": "", ">": "", "?": "", "*": ""})
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                    *(f"LPT{i}" for i in range(1, 10))}
_DRIVE = re.compile(r"^[A-Za-z]:/")


_BREAKING = ("Cc", "Cs", "Zl", "Zp")  # control chars (CR, LF, ESC, NUL), lone surrogates, line/paragraph separators
# Every code point of those categories (Cc: U+0000-001F and U+007F-009F; Cs: U+D800-DFFF; Zl: U+2028; Zp:
# U+2029) and the noncharacters U+FFFE/U+FFFF, as one compiled class: a regex over a title costs a
# fraction of a per-character category lookup (test_exports_m3u checks it against unicodedata).
_BREAKING_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\ufffe\uffff]")
# Bidi embeddings, overrides, isolates and marks: they can make text display as something it is not
# ("evil\u202egnp.mp3" shows as "evilpmg.exe"-style spoofs), so no export shows them.
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_BIDI_CHARS = re.compile(f"[{''.join(sorted(_BIDI))}]")


def strip_control(text: str, replacement: str = " ") -> str:
    """Characters that break line-based formats, terminals or XML replaced. Format characters such
    as zero-width spaces stay: real file names and titles use them."""
    if not _BREAKING_CHARS.search(text):
        return text
    return _BREAKING_CHARS.sub(lambda _match: replacement, text)


_CONTROL_CLASS = f"{_BREAKING_CHARS.pattern[1:-1]}{''.join(sorted(_BIDI))}"  # breaking and bidi characters
_CONTROL = re.compile(f"[{_CONTROL_CLASS}]")  # both, one class


def has_control(text: str) -> bool:
    """Control or bidi characters: a path holding them cannot be shown or written safely."""
    return _CONTROL.search(text) is not None


# Characters display_text changes, besides a plain space: breaking and bidi characters and every other
# whitespace character (``str.isspace``; test_exports_m3u checks the class against it).
_OTHER_SPACE = "\t\n\x0b\x0c\r\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_UNCLEAN = re.compile(f"[{_CONTROL_CLASS}{_OTHER_SPACE}]")


def display_text(value: object) -> str:
    """One line of text for a person or a DJ program: control characters become spaces, bidi controls
    go, runs of whitespace become one space. Missing values (None, NaN) are empty."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = value if type(value) is str else str(value)
    # Most titles are clean: checked in one pass (ASCII: printable is exactly "no control character").
    clean = text.isprintable() if text.isascii() else _UNCLEAN.search(text) is None
    if clean and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return " ".join(_BIDI_CHARS.sub("", _BREAKING_CHARS.sub(" ", text)).split())


def display_texts(values: Iterable[object]) -> list[str]:
    """:func:`display_text` of a whole column."""
    return [display_text(v) for v in values]


def safe_name(text: str, *, fallback: str = "untitled", max_bytes: int = MAX_NAME_BYTES) -> str:
    """One path component from an untrusted title: no separators, no ``..``, no control
    characters, no Windows-reserved names, at most ``max_bytes`` of UTF-8."""
    # Bidi overrides go too: they can make a name display as something it is not.
    name = _BIDI_CHARS.sub("", unicodedata.normalize("NFC", strip_control(str(text))))
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


class InsideFolder:
    """:func:`resolve_inside` for the many files of one folder (a build folder's playlists or crates):
    the folder and each sub-folder are resolved once, and a file's own name, a plain component, is
    only checked not to be a symbolic link. Anything else takes :func:`resolve_inside` itself."""

    def __init__(self, base: Path):
        self.base = Path(base).resolve()
        self._folders: dict[str, Path] = {"": self.base}

    def __call__(self, relative: str) -> Path:
        parent, _, name = relative.rpartition("/")
        if relative.startswith("/") or any(part in ("", ".", "..") for part in relative.split("/")):
            return resolve_inside(self.base, relative)
        if parent not in self._folders:
            self._folders[parent] = resolve_inside(self.base, parent)
        target = self._folders[parent] / name
        return resolve_inside(self.base, relative) if os.path.islink(target) else target


# ------------------------------------------------------------------------------------ track paths
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
    return locate_tracks([location], music_root)[0]


def locate_tracks(locations: Iterable[object], music_root: str | None) -> list[tuple[str | None, str | None]]:
    """:func:`locate_track` of a whole column (the music root prepared once)."""
    prefix = str(music_root).replace("\\", "/").rstrip("/") + "/" if music_root else ""
    found: list[tuple[str | None, str | None]] = []
    for location in locations:
        if location is None or (isinstance(location, float) and location != location):
            found.append((None, MISSING))
            continue
        text = str(location).strip()
        if not text:
            found.append((None, MISSING))
            continue
        if text[:5].lower() == "file:":
            text = _uri_to_path(text)
        if "\\" in text:
            text = text.replace("\\", "/")
        # ASCII without control characters is printable (bidi characters are not ASCII)
        if not (text.isprintable() if text.isascii() else _CONTROL.search(text) is None):
            found.append((None, UNREPRESENTABLE))
        elif text[:1] == "/" or _DRIVE.match(text):  # is_absolute
            found.append((text, None))
        else:
            found.append(_relative(text, prefix))
    return found


def _relative(text: str, prefix: str) -> tuple[str | None, str | None]:
    # normpath changes a path only with an empty, "." or ".." component: most are taken as they are
    if not text or text[:1] == "." or "/." in text or "//" in text or text[-1:] == "/":
        text = posixpath.normpath(text)
    if text == ".." or text.startswith("../"):
        return None, OUTSIDE_ROOT
    return prefix + text, None


def track_path(location: object, music_root: str | None) -> str | None:
    """:func:`locate_track`'s path alone (None when the location cannot be used)."""
    return locate_track(location, music_root)[0]


# ------------------------------------------------------------------------------------ atomic files
def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary sibling and rename: readers never see a half-written file."""
    atomic_write_bytes(path, data)


@contextlib.contextmanager
def atomic_text_writer(path: Path) -> Iterator[io.TextIOWrapper]:
    """A text handle (UTF-8, ``\n`` newlines, unencodable characters as XML references) on a temporary
    sibling, renamed into place when the block ends: a large export streams to disk instead of being
    held whole as bytes, and an error while producing it (a MemoryError included) surfaces as itself,
    not as ``ET.tostring``'s "I/O operation on closed file" (its writer's cleanup flushing into the
    buffer the failure left closed)."""
    with atomic_writer(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="xmlcharrefreplace", newline="\n")
        yield text
        text.flush()
        text.detach()  # the raw handle stays open for atomic_writer's fsync and rename


# ------------------------------------------------------------------------------------ XML as text
# The Rekordbox and Traktor documents are written as text, line by line, exactly as ElementTree wrote
# them (``ET.indent`` with two spaces, then ``write``): building ~200K elements and serialising them
# took seconds per export. Attribute values are escaped with ElementTree's own rules (``_escape_attrib``).
_SEPARATOR = "\x00"  # joins a column for one escaping pass (a value holding it is escaped alone)


# ElementTree's ``_escape_attrib`` replacements, in its order ("&" first: the others add one).
_ATTRIBUTE_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("\r", "&#13;"),
                      ("\n", "&#10;"), ("\t", "&#09;"))


def escape_attribute(text: str) -> str:
    """An XML attribute value escaped as ElementTree escapes it (``_escape_attrib``: the same
    replacements in the same order)."""
    for raw, escaped in _ATTRIBUTE_ESCAPES:
        if raw in text:
            text = text.replace(raw, escaped)
    return text


def escape_attributes(values: list[str]) -> list[str]:
    """:func:`escape_attribute` of a whole column, in one pass over the joined column."""
    joined = _SEPARATOR.join(values)
    if not values or joined.count(_SEPARATOR) != len(values) - 1:
        return [escape_attribute(v) for v in values]
    return escape_attribute(joined).split(_SEPARATOR)


def optional_attributes(name: str, values: list[str]) -> list[str]:
    """`` name="value"`` (escaped) per value of a column, empty where the value is."""
    return [f' {name}="{value}"' if value else "" for value in escape_attributes(values)]


def xml_attributes(attributes: Mapping[str, str]) -> str:
    """`` name="value"`` per attribute, in order."""
    return "".join(f' {name}="{escape_attribute(value)}"' for name, value in attributes.items())


def xml_element(depth: int, tag: str, attributes: Mapping[str, str], children: list[str] | None = None) -> list[str]:
    """An indented element's lines: ``<tag a="b" />`` without children, else its start tag, the
    children's lines (already indented one level deeper) and its end tag."""
    indent = "  " * depth
    if not children:
        return [f"{indent}<{tag}{xml_attributes(attributes)} />\n"]
    return [f"{indent}<{tag}{xml_attributes(attributes)}>\n", *children, f"{indent}</{tag}>\n"]


def xml_streamed(depth: int, tag: str, attributes: Mapping[str, str], runs: Iterable[str],
                 count: int) -> Iterator[str]:
    """:func:`xml_element` for a long list of children (a collection's entries), written as they are
    made: ``runs`` are the children's lines joined a run at a time, ``count`` how many children there
    are (none: the empty element, and ``runs`` is not read)."""
    if not count:
        yield from xml_element(depth, tag, attributes)
        return
    indent = "  " * depth
    yield f"{indent}<{tag}{xml_attributes(attributes)}>\n"
    yield from runs
    yield f"{indent}</{tag}>\n"


# Tracks whose collection lines (Rekordbox TRACK, Traktor ENTRY) are made at a time: a run's escaped columns
# and lines are a few dozen MB, where the whole collection's were held at once (the 1M build's peaks in those
# steps: Rekordbox 5,436 -> 4,751 MiB, Traktor 5,497 -> 5,302 MiB).
COLLECTION_RUN = 32_768


def column_runs(columns: Sequence[Sequence[Any]]) -> Iterator[list[Sequence[Any]]]:
    """Equal-length columns cut into runs of ``COLLECTION_RUN`` rows: each run's slice of every column."""
    rows = len(columns[0]) if columns else 0
    for start in range(0, rows, COLLECTION_RUN):
        yield [column[start:start + COLLECTION_RUN] for column in columns]


def joined_runs(lines: list[str], run: int = 4096) -> Iterator[str]:
    """``lines`` joined ``run`` at a time, for writing: the playlists' lines of a 1M-track collection
    joined whole were one string of a few hundred MB beside the lines themselves."""
    for start in range(0, len(lines), run):
        yield "".join(lines[start:start + run])


def xml_bytes(declaration: str, lines: Iterable[str]) -> bytes:
    """The declaration line and the document's lines, in memory: the bytes :func:`atomic_write_xml`
    streams to disk (characters UTF-8 cannot hold as XML references, as ElementTree wrote them)."""
    return (declaration + "\n" + "".join(lines)).encode("utf-8", errors="xmlcharrefreplace")


def atomic_write_xml(path: Path, declaration: str, lines: Iterable[str]) -> None:
    """The declaration line and the document's lines (each ending in a newline), streamed atomically
    (the bytes :func:`xml_bytes` gives)."""
    with atomic_text_writer(path) as text:
        text.write(declaration + "\n")
        for line in lines:
            text.write(line)


def replace_dir(final: Path, build: Path) -> None:
    """Swap a freshly written folder into place so no stale files from an older tree survive."""
    publish_folder(build, final)


def write_in_build(path: Path, data: bytes) -> None:
    """A file of a build folder that ``replace_dir`` swaps in whole (no per-file rename or fsync)."""
    write_unpublished(path, data)


def default_music_root(music_root: str | None, tracks_file: str | Path | None) -> str | None:
    """The folder relative locations are under, as the build's exports use it: ``music_root`` (the
    option, else the music_root setting), else the tracks file's folder; absolute in the user's own
    form (never resolved through symlinks)."""
    if music_root:
        return absolute_form(music_root)
    return str(Path(absolute_form(tracks_file)).parent) if tracks_file else None


def stored_tracks(places: Places) -> UPath:
    """The build's stored (validated) tracks table in the phase store (a path or a URL)."""
    return UPath(places.store) / "tracks.parquet"


def load_tracks_table(places: Places, tracks_path: str | Path | None = None,
                      configured_tracks: str = "") -> pd.DataFrame:
    """The tracks for an export: ``tracks_path`` when given, else the build's stored (validated)
    table, else ``configured_tracks`` (the tracks setting)."""
    if tracks_path:
        return load_tracks(tracks_path)
    stored = stored_tracks(places)
    if stored.exists():
        with stored.open("rb") as handle:
            return tracks_from_storage(pd.read_parquet(handle))
    if configured_tracks:
        return load_tracks(configured_tracks)
    raise ExportError(f"no tracks table: {stored} does not exist; pass --tracks or set "
                      f"{Settings.env_name('tracks')}")
