"""app/service.py: the front door every interface calls - one model load, one query check, the same answers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from app.service import Service
from indexer.errors import CollectionNotFound, InvalidInput
from indexer.search import Filters
from tests.app.conftest import make_settings, write_docs


def count_model_loads(monkeypatch: pytest.MonkeyPatch, embedder: Any) -> list[Any]:
    """Make the service's model loader hand out ``embedder`` and record each call (its backend) in the list."""
    loads: list[Any] = []

    def load(settings: Any, backend: str | None = None) -> Any:
        loads.append(backend)
        return embedder

    monkeypatch.setattr("app.service.load_model", load)
    return loads


def test_the_model_loads_once_and_only_when_needed(tmp_data_dir, embedder, monkeypatch):
    loads = count_model_loads(monkeypatch, embedder)
    service = Service.from_settings(make_settings(tmp_data_dir))
    try:
        assert service.scan() == ([], {}) and not service.model_loaded  # the store alone: no model
        with pytest.raises(CollectionNotFound):
            with service.open_collection("missing", create=False):
                pass
        assert loads == []  # a missing collection fails before the model loads
        assert service.embed(["a"]).dimension == embedder.dimension
        service.compare(["a", "b"])
        assert loads == [None]
    finally:
        service.close()


def test_work_that_embeds_nothing_loads_no_model(tmp_path, tmp_data_dir, embedder, monkeypatch):
    """Removing a path that is not indexed, removing one that is and re-indexing an unchanged folder
    never create the model; a new text loads it on its first chunk."""
    docs = write_docs(tmp_path / "docs")
    first = Service.from_settings(make_settings(tmp_data_dir), embedder=embedder)
    try:
        first.index_folder("notes", docs)
    finally:
        first.close()
    loads = count_model_loads(monkeypatch, embedder)
    service = Service.from_settings(make_settings(tmp_data_dir))
    try:
        assert service.remove_path("notes", tmp_path / "not" / "indexed") == 0
        report = service.index_folder("notes", docs)
        assert report.unchanged == 4 and report.chunks_embedded == 0
        one = sorted(docs.rglob("*.*"))[0]
        assert service.remove_path("notes", one) == 1
        assert loads == [] and not service.model_loaded
        one.write_text("A note never embedded before, about estuaries.")  # (the old text is in the embedding cache)
        assert service.index_folder("notes", docs).added == 1  # the file removed comes back changed: now it loads
        assert loads == [None] and service.model_loaded
    finally:
        service.close()


def test_a_query_is_checked_once_with_the_librarys_messages(tmp_data_dir, embedder):
    service = Service.from_settings(make_settings(tmp_data_dir, max_k=20), embedder=embedder)
    try:
        with pytest.raises(InvalidInput, match="send either query"):
            service.query_request(query="x", like="y", k=5, offset=0, mode="hybrid", filters=Filters(),
                                  explain=False)
        _, opts = service.query_request(query="x", like=None, k=5, offset=0, mode="hybrid", filters=Filters(),
                                        explain=False)
        assert opts.fusion == service.settings.fusion  # SEMSEARCH_FUSION fills a missing fusion
    finally:
        service.close()


def test_the_lanes_and_the_in_process_query_give_the_same_bytes(tmp_path, tmp_data_dir, embedder):
    service = Service.from_settings(make_settings(tmp_data_dir), embedder=embedder)
    try:
        report = service.index_folder("notes", write_docs(tmp_path / "docs"))
        assert report.to_dict()["files"]["added"] == 4
        query, opts = service.query_request(query="green tea", like=None, k=2, offset=0, mode="dense",
                                            filters=Filters(), explain=False)
        here = service.query("notes", query, opts)
        service.start(jobs=False)
        lane = asyncio.run(service.submit_query("notes", query, opts))
        assert lane == here and json.loads(here)["hits"][0]["id"].endswith("tea.txt")
        assert [i.name for i in service.collections.infos()] == ["notes"]
        service.delete_collection("notes")
        assert service.scan() == ([], {})
    finally:
        service.close()


def test_the_start_up_line_says_whether_the_model_must_be_converted(tmp_path, tmp_data_dir):
    """`semsearch serve` logs this before its address, so a first start's minute of converting is
    explained; the note only looks at the cache folder."""
    from app.service import model_load_note
    from indexer.embedding.graph_cache import GraphCache
    from indexer.embedding.selection import bundled_model_path

    settings = make_settings(tmp_data_dir, model_cache=str(tmp_path / "cache"))
    assert model_load_note(settings).startswith("first load: converting the model")
    entry = GraphCache(tmp_path / "cache", bundled_model_path()).dir
    entry.mkdir(parents=True)
    (entry / "meta.json").write_text("{}")
    assert model_load_note(settings) == "converted graph cached"
    assert "cache off" in model_load_note(make_settings(tmp_data_dir, model_cache="off"))
    assert "NumPy" in model_load_note(make_settings(tmp_data_dir, backend="minimal"))


def test_a_copied_folder_indexed_into_another_collection_loads_no_model(tmp_path, tmp_data_dir, embedder,
                                                                        monkeypatch):
    """The embedding cache in the data folder: the same chunks, by the same model, in another collection
    cost nothing - not even a model load - and the report says so; SEMSEARCH_EMBEDDING_CACHE_MB=0 turns it off."""
    docs = write_docs(tmp_path / "docs")
    first = Service.from_settings(make_settings(tmp_data_dir), embedder=embedder)
    try:
        cold = first.index_folder("notes", docs).to_dict()["embedding_cache"]
    finally:
        first.close()
    assert cold["hits"] == 0 and cold["looked_up"] == 4 and (tmp_data_dir / "embedding-cache.sqlite3").is_file()
    copy = write_docs(tmp_path / "copy")
    loads = count_model_loads(monkeypatch, embedder)
    service = Service.from_settings(make_settings(tmp_data_dir))
    try:
        report = service.index_folder("copy", copy)
        assert report.added == 4 and report.to_dict()["embedding_cache"] == {"looked_up": 4, "hits": 4,
                                                                            "hit_rate": 1.0}
        assert loads == [] and not service.model_loaded
        assert json.loads(service.query("copy", "sourdough", service.query_request(
            query="sourdough", like=None, k=1, offset=0, mode="dense", filters=Filters(), explain=False)[1]))
    finally:
        service.close()
    off = Service.from_settings(make_settings(tmp_data_dir, embedding_cache_mb=0), embedder=embedder)
    try:
        assert off.index_folder("uncached", copy).to_dict()["embedding_cache"] is None
    finally:
        off.close()
