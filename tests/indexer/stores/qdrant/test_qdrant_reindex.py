"""Re-indexing a Qdrant collection with another model (indexer/stores/qdrant/reindex.py), in the
client's local mode: searches go on and writes are refused while it copies, the alias moves in one
step, a process still on the old model is told so, and a failed or killed re-index changes nothing."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from indexer.collection import Collection, read_info, reindex_collection
from indexer.errors import ModelMismatch, NotSupported, Reindexing
from indexer.search import Filters
from indexer.stores.embedded import EmbeddedBackend
from indexer.stores.qdrant import QdrantBackend, QdrantStore
from indexer.stores.qdrant.points import PREFIX
from tests.indexer.test_collection import TOPICS, make_folder

pytest.importorskip("qdrant_client")

DOCS = [{"id": "tea", "text": "Green tea is brewed with water just below boiling.", "metadata": {"topic": "drinks"}},
        {"id": "granite", "text": "Granite is an igneous rock made of quartz and mica.", "metadata": {"topic": "rock"}}]


class Projected:
    """Another model: the real one's vectors through a fixed random projection to 128 dimensions
    (only one model is installed here; what matters is that name, dimension and vectors all change)."""

    def __init__(self, base: Any, dimension: int = 128) -> None:
        self.base, self.dimension = base, dimension
        self.name = f"{base.name}-projected-{dimension}"
        self.p = np.random.default_rng(7).standard_normal((base.dimension, dimension)).astype(np.float32)

    def _project(self, v: np.ndarray) -> np.ndarray:
        out = v @ self.p
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)

    def embed(self, texts: Any, **kw: Any) -> np.ndarray:
        return self._project(self.base.embed(texts, **kw))

    def embed_queries(self, texts: Any, **kw: Any) -> np.ndarray:
        return self._project(self.base.embed_queries(texts, **kw))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.base, name)


@pytest.fixture
def qb(tmp_path):
    b = QdrantBackend(path=tmp_path / "qdrant")
    yield b
    b.close()


@pytest.fixture
def filled(qb, embedder, tmp_path):
    coll = Collection.open(qb, "notes", embedder)
    coll.index_folder(make_folder(tmp_path / "docs"))
    coll.upsert_documents(DOCS)
    yield coll
    coll.close()


def physicals(qb: QdrantBackend, name: str) -> list[str]:
    return sorted(c.name for c in qb.client.get_collections().collections if c.name.startswith(f"{PREFIX}{name}__"))


def test_reindex_swaps_in_the_new_model_while_searches_go_on(qb, embedder, filled):
    new_model = Projected(embedder)
    old_phys = qb.physical("notes")
    files_before = filled.store.file_states("")
    during: dict[str, Any] = {}

    def progress(p: dict[str, Any]) -> None:
        if not during:  # mid-copy: the old collection still answers, and refuses writes
            during["top"] = filled.search("which planet is red", k=1)[0].path
            with pytest.raises(Reindexing, match="being re-indexed with model .*projected-128.*retry"):
                filled.upsert_documents([{"id": "late", "text": "written during the re-index"}])
        during["last"] = p

    report = reindex_collection(qb, "notes", new_model, progress=progress)
    assert during["top"].endswith("mars.rst")
    assert during["last"]["sources_done"] == during["last"]["sources_total"] == len(TOPICS) + len(DOCS)
    assert (report.model, report.previous_model) == (new_model.name, embedder.name)
    assert (report.sources, report.chunks, report.rounds) == (len(TOPICS) + len(DOCS), len(TOPICS) + len(DOCS), 1)

    info = read_info(qb, "notes")
    assert (info.model, info.dimension, info.files, info.documents) == (new_model.name, 128, len(TOPICS), 2)
    assert physicals(qb, "notes") == [qb.physical("notes")] and qb.physical("notes") != old_phys
    # the process still holding the old model is told what to restart with, at its next search or write
    with pytest.raises(ModelMismatch, match="projected-128"):
        filled.search("which planet is red", k=1)
    with pytest.raises(ModelMismatch):
        filled.upsert_documents([{"id": "late", "text": "too late"}])

    with Collection.open(qb, "notes", new_model, create=False) as coll:
        for mode in ("dense", "keyword", "hybrid"):
            assert coll.search("which planet is red", mode=mode, k=1)[0].path.endswith("mars.rst"), mode
        hits = coll.search("brewed", k=5, filters=Filters(metadata={"topic": "drinks"}))
        assert [h.id for h in hits] == ["tea"]  # metadata and its payload index came along
        assert coll.store.vectors_for(coll.store.chunk_ids())[coll.store.chunk_ids()[0]].shape == (128,)
        coll.upsert_documents([{"id": "after", "text": "Writes work again once the new model is in."}])
        assert coll.search("writes work again", mode="keyword", k=1)[0].id == "after"
        assert coll.store.file_states("") == files_before  # same hashes: indexing the folder again costs nothing


def test_a_write_that_was_in_flight_is_copied_in_another_round(qb, embedder, filled, monkeypatch):
    new_model = Projected(embedder)
    landed: list[bool] = []

    def progress(p: dict[str, Any]) -> None:
        if not landed:  # a write that passed its check just before the mark was set commits now
            with monkeypatch.context() as m:
                m.setattr(QdrantStore, "_check_current", lambda self, meta, writing=True: None)
                filled.upsert_documents([{"id": "inflight", "text": "Basalt is a dark volcanic rock."}])
                filled.delete_documents(["tea"])
            landed.append(True)

    report = reindex_collection(qb, "notes", new_model, progress=progress)
    assert report.rounds == 2
    with Collection.open(qb, "notes", new_model, create=False) as coll:
        ids = {h.id for h in coll.search("rock", k=20, mode="keyword")}
        assert "inflight" in ids
        assert coll.search("green tea", k=20, filters=Filters(metadata={"topic": "drinks"})).hits == []
        assert read_info(qb, "notes").documents == 2  # granite, inflight


def test_a_failed_reindex_leaves_the_collection_as_it_was(qb, embedder, filled):
    before = qb.physical("notes")

    def boom(p: dict[str, Any]) -> None:
        raise RuntimeError("the machine ran out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        reindex_collection(qb, "notes", Projected(embedder), progress=boom)
    assert qb.physical("notes") == before and physicals(qb, "notes") == [before]
    assert filled.search("which planet is red", k=1)[0].path.endswith("mars.rst")
    filled.upsert_documents([{"id": "later", "text": "writes are allowed again"}])  # the mark is cleared


def test_a_killed_reindex_blocks_nothing_once_stale(qb, embedder, filled, monkeypatch):
    """A re-index killed with SIGKILL leaves its mark and its half-filled collection: writes go on once
    the mark is stale, and the next re-index removes the leftover."""
    leftover = qb.create_physical("notes", 128)
    filled.store._set_meta(reindexing={"model": "other", "by": "elsewhere:1", "heartbeat": time.time()})
    with pytest.raises(Reindexing, match="by elsewhere:1"):
        filled.upsert_documents([{"id": "x", "text": "refused while the mark is fresh"}])
    with pytest.raises(Reindexing):
        reindex_collection(qb, "notes", Projected(embedder))
    filled.store._set_meta(reindexing={"model": "other", "by": "elsewhere:1", "heartbeat": time.time() - 3600})
    filled.upsert_documents([{"id": "x", "text": "allowed once the mark is stale"}])
    reindex_collection(qb, "notes", Projected(embedder))
    assert leftover not in physicals(qb, "notes") and len(physicals(qb, "notes")) == 1


def test_the_embedded_store_says_what_to_do_instead(tmp_path, embedder):
    b = EmbeddedBackend(tmp_path / "data")
    Collection.open(b, "notes", embedder).close()
    with pytest.raises(NotSupported, match="Qdrant collection aliases.*Index into a new collection"):
        reindex_collection(b, "notes", Projected(embedder))


def test_cleaning_up_leftovers_spares_a_collection_whose_name_extends_this_one(qb, embedder, filled):
    other = Collection.open(qb, "notes__1", embedder)  # physical: semsearch_notes__1__<created>
    other.upsert_documents(DOCS[:1])
    reindex_collection(qb, "notes", Projected(embedder))
    assert read_info(qb, "notes__1").documents == 1
    other.close()


def test_reindex_keeps_the_collections_keyword_language(qb, embedder):
    """The copy recomputes each chunk's sparse vector: with the collection's analysis (its language, each
    source's detected one under auto), not English."""
    with Collection.open(qb, "mixed", embedder, language="auto") as coll:
        coll.upsert_documents([
            {"id": "de", "text": "Es regnet seit Tagen. Die alten Häuser am Fluss wurden im Winter renoviert."},
            {"id": "fr", "text": "Il pleut depuis hier. Les chevaux galopent dans le pré derrière la ferme."}])
    reindex_collection(qb, "mixed", Projected(embedder))
    with Collection.open(qb, "mixed", Projected(embedder), create=False) as coll:
        assert (coll.info().language, coll.info().keyword_index) == ("auto", "analysed")
        assert coll.search("Haus", mode="keyword", k=1)[0].id == "de"
        assert coll.search("cheval", mode="keyword", k=1)[0].id == "fr"
