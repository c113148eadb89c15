"""``publish_folder``: the new folder swapped in whole; the old one removed, in the background inside
``removals_in_background`` (waited for on leaving it), and leftovers of an interrupted removal swept."""

import threading

import pytest

from collection_tree.core import atomic
from collection_tree.core.atomic import publish_folder, removals_in_background


def folder(path, files):
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def test_publish_swaps_the_folder_and_removes_the_old_one_at_once(tmp_path):
    publish_folder(folder(tmp_path / ".b1", {"a.m3u8": "old"}), tmp_path / "playlists")
    publish_folder(folder(tmp_path / ".b2", {"b.m3u8": "new"}), tmp_path / "playlists")
    assert [p.name for p in tmp_path.iterdir()] == ["playlists"]
    assert {p.name: p.read_text() for p in (tmp_path / "playlists").iterdir()} == {"b.m3u8": "new"}


def test_in_background_the_old_folder_goes_in_a_thread_and_is_waited_for(tmp_path, monkeypatch):
    publish_folder(folder(tmp_path / ".b1", {"a.m3u8": "old"}), tmp_path / "playlists")
    release, removing = threading.Event(), []
    real_rmtree = atomic.shutil.rmtree

    def slow_rmtree(path, ignore_errors=False):
        removing.append(threading.current_thread().name)
        release.wait(10)
        real_rmtree(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(atomic.shutil, "rmtree", slow_rmtree)
    with removals_in_background():
        publish_folder(folder(tmp_path / ".b2", {"b.m3u8": "new"}), tmp_path / "playlists")
        # published already; the old folder, moved aside, is still being removed by another thread
        assert {p.name: p.read_text() for p in (tmp_path / "playlists").iterdir()} == {"b.m3u8": "new"}
        assert len(list(tmp_path.glob(".playlists.old-*"))) == 1
        assert removing == ["publish_folder-removal"]
        release.set()
    assert [p.name for p in tmp_path.iterdir()] == ["playlists"]


def test_a_folder_left_aside_by_an_interrupted_run_is_swept_at_the_next_publish(tmp_path):
    folder(tmp_path / ".playlists.old-deadbeef", {"x.m3u8": "stale"})
    folder(tmp_path / ".Subcrates.old-deadbeef", {"x.crate": "another export's"})
    with removals_in_background():
        publish_folder(folder(tmp_path / ".b1", {"a.m3u8": "new"}), tmp_path / "playlists")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".Subcrates.old-deadbeef", "playlists"]


def test_a_failed_swap_keeps_the_old_folder(tmp_path, monkeypatch):
    publish_folder(folder(tmp_path / ".b1", {"a.m3u8": "old"}), tmp_path / "playlists")
    real_replace = atomic.os.replace

    def refuse_the_new(src, dst):
        if str(src).endswith(".b2"):
            raise OSError("no space")
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", refuse_the_new)
    with pytest.raises(OSError, match="no space"), removals_in_background():
        publish_folder(folder(tmp_path / ".b2", {"b.m3u8": "new"}), tmp_path / "playlists")
    assert {p.name: p.read_text() for p in (tmp_path / "playlists").iterdir()} == {"a.m3u8": "old"}
