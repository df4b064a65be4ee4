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

from indexer.chunking import Chunk
from indexer.collection import Collection, read_info, reindex_collection
from indexer.errors import ModelMismatch, Reindexing, StoreUnavailable
from indexer.search import Filters
from indexer.stores.base import SourceWrite
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


def test_the_hnsw_index_is_built_once_big_enough_and_a_filtered_search_still_fills_k(postgres_db):
    """Below ``hnsw_after`` chunks an exact scan; past it, the index, built once. Through it, pgvector's
    iterative scan keeps a filtered search full: ef_search 40 alone finds ~4 of 10 when 1 chunk in 10
    passes the filter. (Synthetic vectors, so the planner has enough rows to choose the index.)"""
    pg = PostgresBackend(postgres_db, hnsw_after=1000)
    try:
        store = pg.open("notes", model="m", dimension=8, index_type="hnsw")
        rng = np.random.default_rng(3)

        def source(i: int, n: int) -> SourceWrite:
            v = rng.standard_normal((n, 8)).astype(np.float32)
            chunks = [Chunk(ord=j, start=j, end=j + 1, text=f"chunk {j} of {i}", tokens=4) for j in range(n)]
            return SourceWrite(kind="doc", key=f"d{i}", sha256=str(i), chunks=chunks,
                               vectors=v / np.linalg.norm(v, axis=1, keepdims=True), metadata={"rare": i % 10 == 0})

        store.write([source(0, 10)])
        assert _indexes(postgres_db) == set()
        store.write([source(i, 50) for i in range(1, 101)])  # 5,010 chunks: past hnsw_after
        assert _indexes(postgres_db) == {f"c{store.phys}_chunks_hnsw"}
        q = rng.standard_normal(8).astype(np.float32)
        with store.reading():
            con = store._local.con
            plan = " ".join(r[0] for r in con.execute(
                f"EXPLAIN SELECT id FROM c{store.phys}_chunks ORDER BY embedding <#> %s LIMIT 10", (q,)).fetchall())
            # As the planner does on a big table with a loose filter: through the index, then filtered (on
            # 5,010 rows it would rather sort the filtered rows exactly, which is never short).
            con.execute("SET LOCAL enable_seqscan = off")
            con.execute("SET LOCAL enable_sort = off")
            hits = store.dense_chunks(q, 10, Filters(metadata={"rare": True}))
            sources = store.sources_of_chunks([c for c, _ in hits])
        assert "hnsw" in plan
        rare = {r.id for r in store.list_sources(kind=None, offset=0, limit=1000)[0] if r.metadata["rare"]}
        assert len(hits) == 10 and set(sources.values()) <= rare
    finally:
        pg.close()


def _indexes(url: str) -> set[str]:
    with psycopg.connect(url) as con:
        return {r[0] for r in con.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'semsearch' "
                                          "AND indexdef LIKE '%USING hnsw%'")}


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


def test_tables_made_before_copies_gain_same_as_on_open_and_keep_their_duplicates(pg, embedder, tmp_path):
    root = tmp_path / "old"
    root.mkdir()
    text = "The lighthouse lamp is cleaned every Sunday by the keeper.\n"
    (root / "a.txt").write_text(text)
    coll = Collection.open(pg, "before", embedder)
    coll.index_folder(root)
    coll.close()
    sources = f"c{coll.store.phys}_sources"
    with pg.pools.write("make it old") as con:  # what the tables looked like before copies
        con.execute(f"DROP INDEX {sources}_same_as, {sources}_sha256")
        con.execute(f"ALTER TABLE {sources} DROP COLUMN same_as")
    (root / "b.txt").write_text(text)
    coll = Collection.open(pg, "before", embedder)
    report = coll.index_folder(root)
    assert (report.unchanged, report.copies, report.chunks_embedded) == (1, 1, 0)
    assert coll.search("lighthouse keeper", k=1)[0].also_at == [str(root / "b.txt")]
    coll.close()
