"""HNSW collections take deletes and updates like flat ones: through the library, across reopen and compaction."""

from __future__ import annotations

from indexer.collection import Collection, delete_collection, list_collection_names
from indexer.stores.embedded import EmbeddedBackend
from indexer.stores.embedded.vectors import VectorIndex
from tests.indexer.stores.embedded import files

DOCS = [
    {"id": "cats", "text": "Cats sleep most of the day in warm, sunny places."},
    {"id": "dogs", "text": "Dogs are loyal companions that love long walks."},
    {"id": "bread", "text": "Knead the dough and let it rise before baking bread."},
    {"id": "mars", "text": "Mars is the fourth planet from the Sun."},
    {"id": "tides", "text": "The Moon causes the ocean tides on Earth."},
]


def _ids(coll: Collection, query: str, k: int = 5) -> list[str]:
    return [h.id for h in coll.search(query, k=k, mode="dense")]


def test_hnsw_delete_update_reopen_and_delete_collection(tmp_path, embedder):
    coll = Collection.create(EmbeddedBackend(tmp_path), "h", embedder, index_type="hnsw")
    coll.upsert_documents(DOCS)
    assert coll.delete_documents(["cats", "dogs"]) == 2
    assert set(_ids(coll, "pets and animals")) == {"bread", "mars", "tides"}
    # an update (delete + add under the hood) and a new document, both after the delete
    counts = coll.upsert_documents([{"id": "mars", "text": "Red dust covers the Martian desert."},
                                    {"id": "tea", "text": "Green tea is brewed below boiling."}])
    assert counts["updated"] == 1 and counts["added"] == 1
    assert _ids(coll, "the red planet's desert", k=1) == ["mars"]
    assert coll.info().chunks == 4
    coll.close()  # saves the vector file with its tombstones

    again = Collection.open(EmbeddedBackend(tmp_path), "h", embedder, create=False)
    assert files.vectors(again).index_type == "hnsw" and files.vectors(again).ntotal == 4
    assert set(_ids(again, "pets and animals", k=10)) == {"bread", "mars", "tides", "tea"}
    again.close()
    delete_collection(EmbeddedBackend(tmp_path), "h")
    assert list_collection_names(EmbeddedBackend(tmp_path)) == []


def test_many_deletes_compact_the_graph_and_results_stay_right(tmp_path, embedder, monkeypatch):
    monkeypatch.setattr(VectorIndex, "COMPACT_SHARE", 0.3)
    coll = Collection.create(EmbeddedBackend(tmp_path), "h", embedder, index_type="hnsw")
    coll.upsert_documents(DOCS)
    coll.delete_documents(["cats", "dogs"])  # 2 of 5 > 30%: the write compacts and saves
    assert files.vectors(coll).tombstones == set() and int(files.vectors(coll).index.ntotal) == 3
    saved = VectorIndex.load(coll.path / files.INDEX_FILE, coll.dimension, "hnsw")
    assert saved.tombstones == set() and saved.ntotal == 3
    assert set(_ids(coll, "animals")) == {"bread", "mars", "tides"}
    coll.close()


def test_a_failing_vector_update_after_commit_does_not_fail_the_write(tmp_path, embedder, monkeypatch):
    coll = Collection.create(EmbeddedBackend(tmp_path), "h", embedder, index_type="hnsw")
    coll.upsert_documents(DOCS[:2])

    def broken(*a, **kw):
        raise RuntimeError("simulated FAISS failure")

    monkeypatch.setattr(VectorIndex, "apply", broken)
    coll.upsert_documents(DOCS[2:3])  # committed; the index is rebuilt from the catalog instead
    monkeypatch.undo()
    assert files.vectors(coll).ntotal == 3 and "bread" in _ids(coll, "baking bread")
    coll.close()
