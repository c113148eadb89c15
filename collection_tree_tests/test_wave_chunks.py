"""``wave_chunks``: batches that fill whole waves of parallel calls."""

import pytest

from collection_tree.phases.common import chunks, wave_chunks


def test_few_items_keep_the_batch_size():
    assert [len(b) for b in wave_chunks(list(range(100)), 40, 8, 80)] == [33, 34, 33]


def test_batches_grow_to_fit_one_wave():
    items = list(range(560))
    assert len(chunks(items, 40)) == 14  # two waves of 8 at size 40
    batches = wave_chunks(items, 40, 8, 80)
    assert len(batches) == 8
    assert [t for b in batches for t in b] == items
    assert max(map(len, batches)) == 70


def test_max_size_caps_the_growth():
    batches = wave_chunks(list(range(1000)), 40, 8, 60)
    assert len(batches) == 24  # three waves of 8: 1000 / 60 needs 17 batches, rounded to whole waves
    assert max(map(len, batches)) <= 60
    assert min(map(len, batches)) >= 41


def test_without_max_size_the_batches_never_grow():
    batches = wave_chunks(list(range(1000)), 40, 8)
    assert len(batches) == 25 and max(map(len, batches)) == 40


def test_empty_and_bad_arguments():
    assert wave_chunks([], 40, 8, 80) == []
    with pytest.raises(ValueError):
        wave_chunks([1], 40, 8, 20)
    with pytest.raises(ValueError):
        wave_chunks([1], 0, 8)
