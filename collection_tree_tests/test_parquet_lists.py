"""The store's Parquet IO manager reads list columns as Python lists, every other column as pandas
reads it, and the tracks cleaned from it are the ones cleaned from pandas' own reading."""

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from collection_tree.core.inputs import tracks_from_storage
from collection_tree.resources.io_managers import table_frame


def _stored(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None), buffer)
    return buffer.getvalue()


def test_list_columns_as_lists_the_rest_as_pandas_reads_them():
    frame = pd.DataFrame({
        "track_id": [3, 1, 2], "title": ["a", None, "c"], "bpm": [120.0, np.nan, 99.5],
        "genre": [["House", "Techno"], [], None], "scene_tags": [["Berlin"], ["Detroit", "Detroit"], ["x "]],
        "members": [[1, 2], [3], []],
    })
    data = _stored(frame)
    ours = table_frame(pq.read_table(io.BytesIO(data)))
    pandas = pd.read_parquet(io.BytesIO(data))
    assert list(ours.columns) == list(pandas.columns)
    assert (ours.dtypes == pandas.dtypes).all()
    for column in ("track_id", "title", "bpm"):
        assert ours[column].equals(pandas[column])
    assert ours["genre"].tolist() == [["House", "Techno"], [], None]
    assert ours["members"].tolist() == [[1, 2], [3], []]
    assert all(type(v) is list for v in ours["scene_tags"])
    # Cleaning gives the same tracks either way (the repeat and the stray space cleaned in both).
    ours, pandas = ours.drop(columns="members"), pandas.drop(columns="members")  # not a tracks column
    assert tracks_from_storage(ours).equals(tracks_from_storage(pandas))
    assert tracks_from_storage(ours)["scene_tags"].tolist() == [["Berlin"], ["Detroit"], ["x"]]


def test_recent_tables_read_a_file_once_until_it_changes(tmp_path, monkeypatch):
    from upath import UPath

    from collection_tree.resources import io_managers

    path = tmp_path / "tracks.parquet"
    path.write_bytes(_stored(pd.DataFrame({"track_id": [1, 2], "title": ["a", "b"], "genre": [["House"], []]})))
    reads = []
    real = pq.read_table
    monkeypatch.setattr(io_managers.pq, "read_table", lambda handle: reads.append(1) or real(handle))
    tables = io_managers.RecentTables()
    first = tables.load(UPath(path))
    first["title"] = ["changed", "by a step"]  # a step's own change to its frame
    second = tables.load(UPath(path))
    assert len(reads) == 1
    assert second["title"].tolist() == ["a", "b"]
    assert second["genre"].tolist() == [["House"], []]
    # An atomic rewrite (a new file under the name) is read again.
    fresh = tmp_path / "fresh.parquet"
    fresh.write_bytes(_stored(pd.DataFrame({"track_id": [3], "title": ["c"], "genre": [["Techno"]]})))
    fresh.replace(path)
    assert tables.load(UPath(path))["title"].tolist() == ["c"]
    assert len(reads) == 2


def test_recent_tables_read_object_store_paths_every_time(monkeypatch):
    from upath import UPath

    from collection_tree.resources import io_managers

    path = UPath("memory://recent-tables/tracks.parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_stored(pd.DataFrame({"track_id": [1], "title": ["a"]})))
    reads = []
    real = pq.read_table
    monkeypatch.setattr(io_managers.pq, "read_table", lambda handle: reads.append(1) or real(handle))
    tables = io_managers.RecentTables()
    assert tables.load(path)["title"].tolist() == ["a"]
    assert tables.load(path)["title"].tolist() == ["a"]
    assert len(reads) == 2


def _stored_tracks(tmp_path) -> tuple:
    from upath import UPath

    frame = pd.DataFrame({"track_id": [1, 2, 3], "title": ["a", "b", "c"],
                          "genre": [["House", " House "], ["Techno"], None], "scene_tags": [["Berlin"], [], ["x "]],
                          "descriptors": [["dark"], ["dark", "deep"], []]})
    path = tmp_path / "tracks.parquet"
    path.write_bytes(_stored(frame))
    return UPath(path), frame


def test_the_store_reads_list_facets_back_once_and_every_step_takes_them(tmp_path, monkeypatch):
    from collection_tree.core import inputs
    from collection_tree.resources import io_managers

    path, frame = _stored_tracks(tmp_path)
    cleaned = tracks_from_storage(frame)
    calls = []
    real = inputs._stored_facets
    monkeypatch.setattr(inputs, "_stored_facets", lambda values: calls.append(1) or real(values))
    tables = io_managers.RecentTables()
    first = tables.load(path)
    assert len(calls) == 3  # read back as the table is read: three list facets
    for _ in range(3):  # every step's read of the cached table
        step = tracks_from_storage(tables.load(path))
        assert step.equals(cleaned)
        assert step["genre"].tolist() == [["House"], ["Techno"], []]
    assert len(calls) == 3
    # a step's own change to its copy never reaches the next step's
    step["genre"] = [["changed"], [], []]
    assert tracks_from_storage(tables.load(path))["genre"].tolist() == [["House"], ["Techno"], []]
    assert first["genre"].tolist() == [["House"], ["Techno"], []]


def test_a_mark_from_a_file_another_process_or_over_arrays_is_not_trusted(tmp_path):
    from collection_tree.core.inputs import FACETS_READ_BACK, facets_read_back

    path, _ = _stored_tracks(tmp_path)
    marked = facets_read_back(table_frame(pq.read_table(path.path)))
    assert FACETS_READ_BACK in marked.attrs
    # pyarrow keeps attrs in a file it writes, and pandas reads them back over numpy arrays per cell
    again = tmp_path / "again.parquet"
    pq.write_table(pa.Table.from_pandas(marked, preserve_index=False), again)
    read = pd.read_parquet(again)
    assert read.attrs.get(FACETS_READ_BACK) == marked.attrs[FACETS_READ_BACK]
    assert all(type(v) is list for c in ("genre", "scene_tags", "descriptors") for v in tracks_from_storage(read)[c])
    # another process's mark over lists that are not clean
    foreign = table_frame(pq.read_table(path.path))
    foreign.attrs[FACETS_READ_BACK] = ["another process", "genre", "scene_tags", "descriptors"]
    assert tracks_from_storage(foreign)["genre"].tolist() == [["House"], ["Techno"], []]


def test_a_table_without_list_facets_is_read_as_it_is(tmp_path):
    from collection_tree.core.inputs import FACETS_READ_BACK, facets_read_back

    frame = pd.DataFrame({"cluster_id": ["a"], "members": [[1, 2]]})
    read = facets_read_back(table_frame(pq.read_table(io.BytesIO(_stored(frame)))))
    assert FACETS_READ_BACK not in read.attrs
    assert read["members"].tolist() == [[1, 2]]
