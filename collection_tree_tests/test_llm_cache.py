"""The SQLite response cache: threads, two processes writing at once, the off switch, the CLI."""

from __future__ import annotations

import itertools
import logging
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from collection_tree.cli import main as cli_main
from collection_tree.llm.cache import SQLiteResponseCache
from collection_tree.llm.factory import build_client

WRITER = """
import sys, time
from collection_tree.llm.cache import SQLiteResponseCache
cache = SQLiteResponseCache(sys.argv[1])
name = sys.argv[2]
# a barrier: both writers start writing together
open(sys.argv[1] + ".ready-" + name, "w").close()
deadline = time.time() + 30
while not all(__import__("os").path.exists(sys.argv[1] + ".ready-" + n) for n in ("a", "b")):
    assert time.time() < deadline, "the other writer never started"
    time.sleep(0.005)
for i in range(int(sys.argv[3])):
    cache.put(f"{name}-{i}", '{"i": %d}' % i, task=name, model="m")
    assert cache.get(f"{name}-{i}") == '{"i": %d}' % i
print("done")
"""


def test_threads_share_one_cache(tmp_path: Path) -> None:
    cache = SQLiteResponseCache(tmp_path / "c.sqlite")
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(50):
                cache.put(f"t{t}-{i}", f'"{t}-{i}"', task=f"task{t % 2}", model="m")
                assert cache.get(f"t{t}-{i}") == f'"{t}-{i}"'
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert cache.count() == 400
    stats = cache.stats()
    assert stats["by_task"] == {"task0": 200, "task1": 200} and stats["bytes"] > 0


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, "1000"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    cache = SQLiteResponseCache(path)
    assert cache.count() == 2000
    assert cache.get("a-999") == '{"i": 999}' and cache.get("b-0") == '{"i": 0}'
    assert cache.stats()["by_task"] == {"a": 1000, "b": 1000}
    # the writes interleaved (both processes were writing at the same time)
    rows = cache._connect().execute("SELECT task FROM responses ORDER BY created").fetchall()
    switches = sum(1 for x, y in itertools.pairwise(rows) if x != y)
    assert switches > 1


def test_clear_all_or_one_task(tmp_path: Path) -> None:
    cache = SQLiteResponseCache(tmp_path / "c.sqlite")
    for i in range(3):
        cache.put(f"x{i}", "{}", task="x", model="m")
        cache.put(f"y{i}", "{}", task="y", model="m")
    assert cache.clear(task="x") == 3 and cache.count() == 3
    assert cache.clear() == 3 and cache.count() == 0


@pytest.mark.parametrize("value", ["off", "0", "false", "OFF"])
def test_env_switch_turns_the_cache_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str) -> None:
    monkeypatch.setenv("COLLECTION_TREE_LLM", "offline")
    monkeypatch.setenv("COLLECTION_TREE_LLM_CACHE", value)
    assert build_client(cache_path=tmp_path / "c.sqlite").cache is None
    monkeypatch.setenv("COLLECTION_TREE_LLM_CACHE", "on")
    assert isinstance(build_client(cache_path=tmp_path / "c.sqlite").cache, SQLiteResponseCache)
    assert build_client(cache_path=None).cache is None


def test_a_corrupt_cache_file_does_not_stop_a_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("COLLECTION_TREE_LLM", "offline")
    monkeypatch.delenv("COLLECTION_TREE_LLM_CACHE", raising=False)
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.WARNING):
        client = build_client(cache_path=path)
    assert client.cache is None
    assert "unusable" in caplog.text


def test_cli_stats_and_clear(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "c.sqlite"
    assert cli_main(["llm-cache", "stats", "--path", str(path)]) == 0
    assert "no LLM cache" in capsys.readouterr().out
    cache = SQLiteResponseCache(path)
    for i in range(4):
        cache.put(f"k{i}", "{}", task="name_clusters" if i % 2 else "reassign_tracks", model="claude-haiku-5-5",
                  provider="offline" if i < 3 else "anthropic", endpoint="" if i < 3 else "https://api.anthropic.com")
    assert cli_main(["llm-cache", "stats", "--path", str(path)]) == 0
    out = capsys.readouterr().out
    assert "4 cached answer(s)" in out and "name_clusters: 2" in out and "claude-haiku-5-5: 4" in out
    assert "provider offline: 3" in out and "provider anthropic https://api.anthropic.com: 1" in out
    assert cli_main(["llm-cache", "clear", "--path", str(path), "--task", "name_clusters"]) == 0
    assert "removed 2" in capsys.readouterr().out
    assert cli_main(["llm-cache", "clear", "--path", str(path)]) == 0
    assert "removed 2" in capsys.readouterr().out
    assert cache.count() == 0


def test_a_cache_from_before_provider_keys_keeps_working(tmp_path: Path, capsys: Any) -> None:
    """The old table (no provider/endpoint columns) is migrated on open; its entries are counted as
    unrecorded and new entries are written beside them."""
    import sqlite3

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE responses (key TEXT PRIMARY KEY, task TEXT NOT NULL, model TEXT NOT NULL, "
                     "answer TEXT NOT NULL, created REAL NOT NULL)")
        conn.execute("INSERT INTO responses VALUES ('old', 'name_clusters', 'claude-sonnet-5-5', '{}', 1.0)")
    cache = SQLiteResponseCache(path)
    cache.put("new", "{}", task="name_clusters", model="claude-sonnet-5-5", provider="offline")
    assert cache.get("old") == "{}" and cache.get("new") == "{}"
    assert cache.stats()["by_provider"] == {"": 1, "offline": 1}
    assert SQLiteResponseCache(path).count() == 2  # opening a migrated cache again changes nothing
    assert cli_main(["llm-cache", "stats", "--path", str(path)]) == 0
    assert "provider (unrecorded" in capsys.readouterr().out
