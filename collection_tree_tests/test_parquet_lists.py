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
