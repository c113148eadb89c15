"""The exports' shared per-process column results (``exports.ColumnResults``, ``TrackColumns.mapped``):
every export of a build locates and cleans the same columns once, and a changed table is never
served an old result."""

import pandas as pd
import pytest

from collection_tree.exports import ColumnResults, TrackColumns
from collection_tree.exports.paths import display_texts, locate_tracks


def _tracks(locations: list[object], titles: list[object]) -> pd.DataFrame:
    return pd.DataFrame({"track_id": list(range(1, len(locations) + 1)), "location": locations, "title": titles})


@pytest.fixture
def counted(monkeypatch):
    """A fresh ``COLUMN_RESULTS`` and a ``locate_tracks`` that counts its calls."""
    import collection_tree.exports as exports

    monkeypatch.setattr(exports, "COLUMN_RESULTS", ColumnResults())
    calls: list[int] = []

    def locate(values, root):
        calls.append(len(values))
        return locate_tracks(values, root)

    return locate, calls


def test_mapped_gives_fn_of_the_tracks_values_in_their_order(counted):
    locate, _ = counted
    frame = _tracks(["a.mp3", "/abs/b.mp3", None, "../up.mp3"], [" Tab\there ", "Plain", None, "x"])
    table = TrackColumns(frame)
    ids = [3, 1, 4, 2]
    assert table.mapped("location", locate, ids, "/music") == locate_tracks(
        [frame.location[i - 1] for i in ids], "/music")
    assert table.mapped("title", display_texts, ids) == display_texts([frame.title[i - 1] for i in ids])
    assert table.mapped("title", display_texts, [2]) == ["Plain"]


def test_a_second_table_of_the_same_content_reuses_the_result(counted):
    locate, calls = counted
    locations = [f"dir/{i}.mp3" for i in range(50)]
    first = TrackColumns(_tracks(list(locations), ["t"] * 50))
    # a new frame with equal but distinct string objects, as the next export step reads it
    second = TrackColumns(_tracks([f"dir/{i}.mp3" for i in range(50)], ["t"] * 50))
    a = first.mapped("location", locate, list(range(1, 51)), "/music")
    b = second.mapped("location", locate, list(range(50, 0, -1)), "/music")
    assert calls == [50]
    assert b == a[::-1]
    second.mapped("location", locate, [1], "/elsewhere")  # another music root is another result
    assert calls == [50, 50]


def test_a_changed_value_is_computed_again(counted):
    locate, calls = counted
    before = TrackColumns(_tracks(["a.mp3", "b.mp3"], ["t", "t"]))
    after = TrackColumns(_tracks(["a.mp3", "c.mp3"], ["t", "t"]))
    assert before.mapped("location", locate, [2], "/m") == [("/m/b.mp3", None)]
    assert after.mapped("location", locate, [2], "/m") == [("/m/c.mp3", None)]
    assert calls == [2, 2]


def test_results_are_not_shared_with_callers(counted):  # counted: a fresh COLUMN_RESULTS
    table = TrackColumns(_tracks(["a.mp3", "b.mp3"], ["t", "u"]))
    got = table.mapped("title", display_texts, [1, 2])
    got.append("changed by a caller")
    assert table.mapped("title", display_texts, [1, 2]) == ["t", "u"]


def test_unhashable_values_are_computed_every_time():
    results = ColumnResults()
    calls: list[int] = []

    def lengths(values):
        calls.append(1)
        return [len(v) for v in values]

    assert results.get(lengths, [["a"], ["b", "c"]]) == [1, 2]
    assert results.get(lengths, [["a"], ["b", "c"]]) == [1, 2]
    assert len(calls) == 2


def test_only_the_last_few_columns_are_kept():
    results = ColumnResults(size=2)
    calls: list[str] = []

    def upper(values):
        calls.append(values[0])
        return [v.upper() for v in values]

    for word in ("a", "b", "c", "a"):
        results.get(upper, [word])
    assert calls == ["a", "b", "c", "a"]  # "a" was the oldest of three and left
