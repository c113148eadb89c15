"""The build's garbage-collector settings (``core/heap.build_heap``) hold inside a build and are undone
after it, nested or not."""

import gc

from collection_tree.core.heap import BUILD_THRESHOLDS, build_heap


def test_inside_a_build_the_heap_is_frozen_and_collected_less_often():
    before, frozen_before = gc.get_threshold(), gc.get_freeze_count()
    with build_heap():
        assert gc.get_threshold() == BUILD_THRESHOLDS
        assert gc.get_freeze_count() > frozen_before
        with build_heap():  # nested: the outer settings stay
            assert gc.get_threshold() == BUILD_THRESHOLDS
        assert gc.get_threshold() == BUILD_THRESHOLDS
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_an_error_inside_still_restores_the_collector():
    before = gc.get_threshold()
    try:
        with build_heap():
            raise RuntimeError("phase failed")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
