"""The build's garbage-collector settings (``core/heap.build_heap``) hold inside a build and are undone
after it, nested or not."""

import gc

from collection_tree.core.heap import BUILD_THRESHOLDS, COMMAND_THRESHOLDS, build_heap, command_process


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


def test_a_command_process_runs_at_its_thresholds_and_ends_frozen():
    before = gc.get_threshold()
    seen = {}

    def command() -> int:
        seen["threshold"] = gc.get_threshold()
        with build_heap():  # a build inside the command still gets the build's settings
            seen["in_build"] = gc.get_threshold()
        seen["after_build"] = gc.get_threshold()
        return 3

    try:
        assert command_process(command) == 3
        assert gc.get_freeze_count() > 0  # the interpreter's exit collection will not walk it
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
    assert seen == {"threshold": COMMAND_THRESHOLDS, "in_build": BUILD_THRESHOLDS, "after_build": COMMAND_THRESHOLDS}


def test_the_console_script_is_the_command_process():
    import tomllib
    from pathlib import Path

    scripts = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["collection-tree"] == "collection_tree.cli:console"
