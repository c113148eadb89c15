"""The collection tree document is parsed once per process and shared by its checks and exports
(``io_managers.SHARED_DOCUMENT``): sharing is only sound while none of them changes it."""

import json
from pathlib import Path

from dagster import PythonObjectDagsterType, build_input_context, build_output_context
from upath import UPath

from collection_tree.resources import io_managers


def _counting_documents(monkeypatch) -> tuple[io_managers.RecentFiles, list[object]]:
    """A fresh document cache in place of the process's, recording each parse and each object handed out."""
    handed: list[object] = []
    parses: list[int] = []

    def read(handle):
        parses.append(handle.name)
        return json.load(handle)

    def share(doc):
        handed.append(doc)
        return doc

    cache = io_managers.RecentFiles(read, share, size=1)
    cache.parses = parses  # type: ignore[attr-defined]
    monkeypatch.setattr(io_managers, "RECENT_DOCUMENTS", cache)
    return cache, handed


def _context(shared: bool):
    metadata = {io_managers.SHARED_DOCUMENT: True} if shared else {}
    return build_input_context(upstream_output=build_output_context(definition_metadata=metadata),
                               dagster_type=PythonObjectDagsterType(dict))


def test_a_shared_document_is_parsed_once_per_file_version(tmp_path, monkeypatch):
    cache, handed = _counting_documents(monkeypatch)
    manager = io_managers.JsonDocumentIOManager(base_path=UPath(tmp_path))
    path = tmp_path / "collection_tree.json"
    path.write_text(json.dumps({"categories": [{"id": "a"}]}), encoding="utf-8")
    first = manager.load_from_path(_context(shared=True), UPath(path))
    second = manager.load_from_path(_context(shared=True), UPath(path))
    assert first is second and first == {"categories": [{"id": "a"}]}
    assert len(cache.parses) == 1 and len(handed) == 2
    # an atomic rewrite (a new file under the name) is parsed again
    fresh = tmp_path / "fresh.json"
    fresh.write_text(json.dumps({"categories": []}), encoding="utf-8")
    fresh.replace(path)
    assert manager.load_from_path(_context(shared=True), UPath(path)) == {"categories": []}
    assert len(cache.parses) == 2


def test_a_document_not_marked_shared_is_parsed_for_each_consumer(tmp_path, monkeypatch):
    cache, handed = _counting_documents(monkeypatch)
    manager = io_managers.JsonDocumentIOManager(base_path=UPath(tmp_path))
    path = tmp_path / "genre_tree.json"
    path.write_text(json.dumps({"lineages": []}), encoding="utf-8")
    first = manager.load_from_path(_context(shared=False), UPath(path))
    second = manager.load_from_path(_context(shared=False), UPath(path))
    assert first == second == {"lineages": []}
    assert first is not second
    assert cache.parses == [] and handed == []


def test_every_consumer_of_a_build_shares_one_tree_and_none_changes_it(offline_cli_env, monkeypatch):
    """A whole offline build in this process: the tree's checks and exports each get the one parsed copy,
    and after all of them it still equals the stored file it was parsed from. (The stored file, not
    the fixture's output folder: an in-process build uses the code location's settings, read when
    ``collection_tree.definitions`` was first imported in this test session.)"""
    from collection_tree import cli

    cache, handed = _counting_documents(monkeypatch)
    assert cli.main(["build"]) == 0
    consumers = 2 + 6  # the checks tree_validates and curation_bounds; six exports
    assert len(handed) == consumers
    assert len(cache.parses) == 1 and cache.parses[0].endswith("collection_tree.json")
    assert all(doc is handed[0] for doc in handed)
    stored = json.loads(Path(cache.parses[0]).read_text(encoding="utf-8"))
    assert stored["tree_type"] == "collection" and stored["categories"]
    assert handed[0] == stored
