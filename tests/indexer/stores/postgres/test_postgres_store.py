"""What the Postgres store does beyond the Store contract (tests/indexer/stores/test_contract.py runs that
on it too), against a real PostgreSQL 18 + pgvector the tests start (tests/postgres_server.py): a failed
write changes nothing, errors are one line saying what to do, halfvec, filtered HNSW still returns k,
and a re-index swaps in another model in one transaction while searches go on and writes are refused."""

from __future__ import annotations

import threading
import time
import uuid

import numpy as np
import psycopg
import pytest

from indexer.collection import Collection, Limits, read_info, reindex_collection
from indexer.errors import ModelMismatch, Reindexing, StoreUnavailable
from indexer.search import Filters
from indexer.stores.postgres import PostgresBackend, PostgresStore, connection
from tests.indexer.stores.qdrant.test_qdrant_reindex import Projected

DOCS = [
    {"id": "tea", "text": "Green tea is brewed with water just below boiling, for two or three minutes.",
     "metadata": {"topic": "drinks", "year": 2024}},
    {"id": "coffee", "text": "Espresso is brewed by forcing hot water through finely ground coffee beans.",
     "metadata": {"topic": "drinks", "year": 2023}},
    {"id": "granite", "text": "Granite is an igneous rock made of quartz, feldspar and mica.",
     "metadata": {"topic": "geology", "year": 2024}},
]


@pytest.fixture
def pg(postgres_db):
    b = PostgresBackend(postgres_db)
    yield b
    b.close()


def test_a_write_that_fails_midway_changes_nothing(pg, embedder, monkeypatch):
    coll = Collection.open(pg, "notes", embedder)
    coll.upsert_documents(DOCS)
    before = (coll.store.count_chunks(), coll.store.seq, coll.get_document("tea").text)

    def broken(*a, **kw):  # the connection drops after the old version was deleted inside the transaction
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(PostgresStore, "_copy_chunks", broken)
    with pytest.raises(StoreUnavailable) as e:
        coll.upsert_documents([{"id": "tea", "text": "Matcha is powdered green tea."}, {"id": "new", "text": "x"}])
    assert "rolled back whole" in e.value.message and "\n" not in e.value.message
    monkeypatch.undo()
    assert (coll.store.count_chunks(), coll.store.seq, coll.get_document("tea").text) == before
    assert coll.search("matcha powder", mode="keyword", k=3) == [] or all(
        h.id != "new" for h in coll.search("matcha powder", mode="keyword", k=3))
    coll.close()


def test_an_unreachable_server_is_one_line_naming_it_without_the_password():
    with pytest.raises(StoreUnavailable) as e:
        PostgresBackend("postgresql://semsearch:s3cret@127.0.0.1:9/search?connect_timeout=2")
    msg = e.value.message
    assert "127.0.0.1:9/search" in msg and "cannot be reached" in msg and "SEMSEARCH_POSTGRES_URL" in msg
    assert "s3cret" not in msg and "\n" not in msg


def test_an_old_pgvector_is_named_with_what_to_do(postgres_db, monkeypatch):
    monkeypatch.setattr(connection, "MIN_PGVECTOR", (99, 0, 0))
    with pytest.raises(StoreUnavailable) as e:
        PostgresBackend(postgres_db)
    assert "pgvector 0.8" in e.value.message and "ALTER EXTENSION vector UPDATE" in e.value.message


def test_a_missing_extension_that_semsearch_may_not_create_says_create_extension(postgres):
    """A role that is not a superuser cannot create pgvector (it is not a trusted extension)."""
    db = f"noext_{uuid.uuid4().hex[:8]}"
    role = f"plain_{uuid.uuid4().hex[:8]}"
    url = postgres.create_database(db, vector=False)
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f"CREATE ROLE {role} LOGIN")
        c.execute(f"GRANT CREATE ON DATABASE {db} TO {role}")
    try:
        with pytest.raises(StoreUnavailable) as e:
            PostgresBackend(_as_role(url, role))
        assert "CREATE EXTENSION vector" in e.value.message and "superuser" in e.value.message
    finally:
        postgres.drop_database(db)
        with postgres.connect() as c:
            c.execute(f"DROP ROLE {role}")


def _as_role(url: str, role: str) -> str:
    from psycopg import conninfo

    return conninfo.make_conninfo(url, user=role)


def test_a_vector_of_another_dimension_is_refused(pg, embedder):
    coll = Collection.open(pg, "notes", embedder)
    with pytest.raises(ModelMismatch):
        Collection.open(pg, "notes", Projected(embedder), create=False)
    coll.close()


def test_halfvec_collections_search_like_float32_ones(postgres_db, embedder):
    full, half = PostgresBackend(postgres_db), PostgresBackend(postgres_db, vector_type="halfvec")
    try:
        a = Collection.open(full, "full", embedder)
        b = Collection.open(half, "half", embedder)
        for c in (a, b):
            c.upsert_documents(DOCS)
        for q in ("volcanic stone", "hot drink", "beans"):
            ha, hb = a.search(q, mode="dense", k=3), b.search(q, mode="dense", k=3)
            assert [h.id for h in ha] == [h.id for h in hb]
            assert np.allclose([h.score for h in ha], [h.score for h in hb], atol=2e-3)
        with psycopg.connect(postgres_db) as con:
            types = dict(con.execute("SELECT name, vector_type FROM semsearch.collections").fetchall())
        assert types == {"full": "vector", "half": "halfvec"}
    finally:
        full.close()
        half.close()


def test_filtered_hnsw_still_returns_k_inside_the_filter(pg, embedder):
    """pgvector's iterative index scan: a filter that keeps 1 chunk in 10 still fills k."""
    coll = Collection.open(pg, "notes", embedder, index_type="hnsw", limits=Limits(batch_chunks=64))
    docs = [{"id": f"d{i}", "text": f"Note {i} about {'granite and basalt' if i % 10 == 0 else 'green tea'}.",
             "metadata": {"rare": i % 10 == 0}} for i in range(200)]
    coll.upsert_documents(docs)
    hits = coll.search("green tea", mode="dense", k=10, filters=Filters(metadata={"rare": True}))
    assert len(hits) == 10 and all(int(h.id[1:]) % 10 == 0 for h in hits)
    coll.close()


def test_reindex_swaps_in_another_model_in_one_transaction_while_searches_go_on(pg, postgres_db, embedder):
    coll = Collection.open(pg, "notes", embedder)
    coll.upsert_documents(DOCS)
    new = Projected(embedder)
    copying, release = threading.Event(), threading.Event()

    class Slow(Projected):
        def embed(self, texts, **kw):
            copying.set()
            assert release.wait(30)
            return super().embed(texts, **kw)

    slow = Slow(embedder)
    other = PostgresBackend(postgres_db)  # another replica, still on the old model
    try:
        result: dict = {}
        t = threading.Thread(target=lambda: result.update(r=reindex_collection(pg, "notes", slow)))
        t.start()
        assert copying.wait(30)
        # meanwhile: searches answer from the old tables, writes through any replica are refused at once
        assert coll.search("igneous rock", k=1)[0].id == "granite"
        started = time.monotonic()
        with pytest.raises(Reindexing) as e:
            Collection.open(other, "notes", embedder, create=False).upsert_documents([{"id": "x", "text": "y"}])
        assert time.monotonic() - started < 5
        assert slow.name in e.value.message and "retry" in e.value.message
        release.set()
        t.join(60)
        report = result["r"].to_dict()
        assert (report["model"], report["previous_model"], report["sources"], report["chunks"]) == (
            slow.name, embedder.name, 3, 3)
        info = read_info(pg, "notes")
        assert (info.model, info.chunks) == (slow.name, 3)
        fresh = Collection.open(pg, "notes", new, create=False)
        assert fresh.search("igneous rock", k=1)[0].id == "granite"
        assert fresh.search("quartz", mode="keyword", k=1)[0].id == "granite"  # the keyword index came along
        with pytest.raises(ModelMismatch):  # the replica on the old model is told which model to load
            coll.search("igneous rock", k=1)
        with psycopg.connect(postgres_db) as con:
            tables = {r[0] for r in con.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'semsearch'")}
        assert len([t for t in tables if t.endswith("_chunks")]) == 1  # the old tables are gone
    finally:
        release.set()
        other.close()


def test_a_failed_reindex_leaves_the_collection_as_it_was(pg, embedder):
    coll = Collection.open(pg, "notes", embedder)
    coll.upsert_documents(DOCS)

    class Broken(Projected):
        def embed(self, texts, **kw):
            raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError):
        reindex_collection(pg, "notes", Broken(embedder))
    assert read_info(pg, "notes").model == embedder.name
    assert coll.search("igneous rock", k=1)[0].id == "granite"
    coll.upsert_documents([{"id": "after", "text": "Writes work again at once: the lock went with the transaction."}])
    assert coll.store.count_chunks() == 4
    coll.close()
