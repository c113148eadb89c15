"""Parquet (tables) and JSON (nested documents) IO managers on a UPath base.

The base is a URL or a local path (``universal_pathlib``), so object storage needs no rewrite.
Writes go to a temporary sibling and are renamed into place: a crashed or stopped step never
leaves a half-written output behind, and the previous output stays until the new one is whole.
"""


import io
import json
import os
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from dagster import ConfigurableIOManagerFactory, InputContext, OutputContext, UPathIOManager
from upath import UPath

from collection_tree.core.inputs import facets_read_back
from collection_tree.core.json_text import WrittenDocument, dumps_indented
from collection_tree.core.report import PhaseReport
from collection_tree.resources.settings import PipelineSettings

COPY_CHUNK = 1 << 20  # bytes per read when a written file is copied into the store


def atomic_write(path: UPath, write: Callable[[BinaryIO], object]) -> None:
    """``write(handle)`` to a temporary sibling of ``path`` (local or object storage), then moved over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with tmp.open("wb") as handle:
            write(handle)
        tmp.rename(path) if not path.exists() else tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path: UPath, data: bytes) -> None:
    atomic_write(path, lambda handle: handle.write(data))


def _as_dict(value: Any) -> Any:
    """A typed report (or any record with ``to_dict``) inside a stored document, in its dict form."""
    if isinstance(value, PhaseReport):
        return value.to_dict()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _loads_as(context: InputContext, data: Any) -> Any:
    """Rebuild a record type (e.g. ``ClusterSet``) when the consuming asset annotates its input so."""
    typing_type = getattr(context.dagster_type, "typing_type", None)
    from_dict = getattr(typing_type, "from_dict", None)
    return from_dict(data) if callable(from_dict) and isinstance(data, dict) else data


class JsonDocumentIOManager(UPathIOManager):
    extension = ".json"

    def dump_to_path(self, context: OutputContext, obj: Any, path: UPath) -> None:
        if isinstance(obj, WrittenDocument):  # written already (the tree file): copied as it is
            with obj.file.open("rb") as source:
                atomic_write(path, lambda handle: shutil.copyfileobj(source, handle, COPY_CHUNK))
            return
        data = obj.to_dict() if hasattr(obj, "to_dict") and not isinstance(obj, pd.DataFrame) else obj
        atomic_write_bytes(path, dumps_indented(data, indent=1, default=_as_dict).encode("utf-8"))

    def load_from_path(self, context: InputContext, path: UPath) -> Any:
        upstream = context.upstream_output
        if upstream is not None and upstream.definition_metadata.get(SHARED_DOCUMENT):
            return RECENT_DOCUMENTS.load(path)
        with path.open("rb") as handle:
            return _loads_as(context, json.load(handle))


class ParquetTableIOManager(UPathIOManager):
    extension = ".parquet"

    def dump_to_path(self, context: OutputContext, obj: pd.DataFrame, path: UPath) -> None:
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(f"{context.asset_key.to_user_string()}: the Parquet IO manager stores "
                            f"DataFrames, got {type(obj).__name__}")
        # Without pandas' schema metadata: an Arrow list column's dtype name in that metadata is not
        # one pandas can parse back; plain Arrow types read back as lists/arrays everywhere.
        table = pa.Table.from_pandas(obj, preserve_index=False).replace_schema_metadata(None)
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        atomic_write_bytes(path, buffer.getvalue())

    def load_from_path(self, context: InputContext, path: UPath) -> pd.DataFrame:
        return RECENT_TABLES.load(path)


class RecentFiles:
    """The last few stored files read from local disk, parsed, kept per process: every phase, check and
    export of a build reads the same tracks table (17 reads in a full build, 0.2 s each at 30K tracks, 2 s
    at 300K) and every check and export the same tree document (8 parses, 0.7 s each at 300K), so the
    in-process executor parses each once. A hit is keyed by the file's inode, size and mtime (an atomic
    rewrite changes them) and returns ``share(value)``. Object-store paths are read every time."""

    def __init__(self, read: Callable[[BinaryIO], Any], share: Callable[[Any], Any], size: int):
        self.read, self.share, self.size = read, share, size
        self._lock = threading.Lock()
        self._values: OrderedDict[str, tuple[tuple[int, int, int], Any]] = OrderedDict()

    def load(self, path: UPath) -> Any:
        if getattr(path, "protocol", "") not in ("", "file", "local"):
            with path.open("rb") as handle:
                return self.read(handle)
        name = os.fspath(path.path if hasattr(path, "path") else path)
        stat = os.stat(name)
        key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        with self._lock:
            hit = self._values.get(name)
            if hit is not None and hit[0] == key:
                self._values.move_to_end(name)
                return self.share(hit[1])
        with open(name, "rb") as handle:
            value = self.read(handle)
        with self._lock:
            self._values[name] = (key, value)
            self._values.move_to_end(name)
            while len(self._values) > self.size:
                self._values.popitem(last=False)
        return self.share(value)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


class RecentTables(RecentFiles):
    """Tables: a step gets a shallow copy (pandas' copy-on-write keeps its changes to its frame out of the
    cached one); a table's list facets are read back once, as it is read (``inputs.facets_read_back``)."""

    def __init__(self, size: int = 2):
        super().__init__(lambda handle: facets_read_back(table_frame(pq.read_table(handle))),
                         lambda frame: frame.copy(deep=False), size)


# Definition metadata of an asset whose stored JSON document every consumer reads without changing it
# (the collection tree: its checks and exports, tested in test_shared_document.py): consumers in one
# process share one parsed copy (a plain dict: no record type is rebuilt) instead of parsing it each.
SHARED_DOCUMENT = "collection_tree/shared_document"
RECENT_DOCUMENTS = RecentFiles(json.load, lambda doc: doc, size=1)

RECENT_TABLES = RecentTables()


def table_frame(table: pa.Table) -> pd.DataFrame:
    """A stored table as pandas reads it, except that list columns hold Python lists (Arrow's
    ``to_pylist``) instead of a numpy array per cell: the phases want lists, and converting each
    cell back was most of reading the tracks (every phase reads them: ~0.5 s per read at 100K)."""
    lists = [name for name, kind in zip(table.column_names, table.schema.types, strict=True)
             if pa.types.is_list(kind) or pa.types.is_large_list(kind)]
    if not lists:
        return table.to_pandas()
    frame = table.drop_columns(lists).to_pandas()
    for name in lists:
        frame[name] = pd.Series(table.column(name).to_pylist(), index=frame.index, dtype=object)
    return frame[table.column_names]


class JsonIOManager(ConfigurableIOManagerFactory):
    """Nested documents (trees, cluster sets, the collection tree) as JSON in the build's store."""

    pipeline_settings: PipelineSettings

    def create_io_manager(self, context: Any) -> JsonDocumentIOManager:
        return JsonDocumentIOManager(base_path=UPath(self.pipeline_settings.places().store))


class ParquetIOManager(ConfigurableIOManagerFactory):
    """Tables (tracks, seed clusters, suggestion tables) as Parquet in the build's store."""

    pipeline_settings: PipelineSettings

    def create_io_manager(self, context: Any) -> ParquetTableIOManager:
        return ParquetTableIOManager(base_path=UPath(self.pipeline_settings.places().store))
