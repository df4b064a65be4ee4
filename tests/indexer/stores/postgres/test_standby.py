"""Searches from hot standbys (indexer/stores/postgres/backend.py's read policies), against a real primary
with a synchronous and an asynchronous standby made by ``pg_basebackup -R`` (tests/postgres_server.py):
the standby returns the primary's top-10, ``synchronous`` sees a write at once, ``standby`` (bounded
staleness) reads the primary when a standby is behind, and ``synchronous`` is refused where the primary
waits for no standby (its promise would be false)."""

from __future__ import annotations

import pytest

from indexer.collection import Collection, Limits
from indexer.errors import StoreUnavailable
from indexer.stores.postgres import PostgresBackend
from tests.postgres_server import PostgresServer

pytestmark = pytest.mark.slow  # three servers of its own

TOPICS = ["granite and basalt", "green tea", "river deltas", "bread baking", "orbital mechanics", "jazz harmony"]
DOCS = [{"id": f"d{i}", "text": f"Note {i}: a few lines about {TOPICS[i % len(TOPICS)]}, number {i}.",
         "metadata": {"n": i}} for i in range(60)]
QUERIES = ["volcanic stone", "a hot drink", "where rivers meet the sea", "yeast and flour", "satellites", "chords"]


@pytest.fixture(scope="module")
def servers():
    with PostgresServer.create() as primary:
        url = primary.create_database("search")
        sync = primary.standby(synchronous=True)
        lagging = primary.standby()
        try:
            yield url, sync.url_for("search"), lagging
        finally:
            lagging.stop()
            sync.stop()


@pytest.fixture(scope="module")
def filled(servers, embedder):
    url, _, _ = servers
    b = PostgresBackend(url)
    coll = Collection.open(b, "notes", embedder, index_type="hnsw", limits=Limits(batch_chunks=32))
    coll.upsert_documents(DOCS)
    yield coll
    coll.close()
    b.close()


def _on_standby(backend: PostgresBackend) -> bool:
    with backend.search_connection("check") as con:
        row = con.execute("SELECT pg_is_in_recovery()").fetchone()
    return bool(row and row[0])


def test_a_standby_returns_the_primarys_top_10(servers, filled, embedder):
    url, standby_url, _ = servers
    reader = PostgresBackend(url, read_urls=[standby_url], reads="synchronous")
    try:
        assert _on_standby(reader)
        on_standby = Collection.open(reader, "notes", embedder, create=False)
        for q in QUERIES:
            for mode in ("dense", "keyword", "hybrid"):
                want = [(h.id, round(h.score, 5)) for h in filled.search(q, mode=mode, k=10)]
                assert [(h.id, round(h.score, 5)) for h in on_standby.search(q, mode=mode, k=10)] == want
    finally:
        reader.close()


def test_synchronous_reads_see_a_write_through_another_replica_at_once(servers, filled, embedder):
    url, standby_url, _ = servers
    reader = PostgresBackend(url, read_urls=[standby_url], reads="synchronous")
    try:
        on_standby = Collection.open(reader, "notes", embedder, create=False)
        for i in range(5):  # each write is acknowledged once the standby applied it (remote_apply)
            on_standby.upsert_documents([{"id": f"new{i}", "text": f"Quasar {i} outshines its whole galaxy."}])
            assert on_standby.search(f"quasar {i} galaxy", mode="keyword", k=1)[0].id == f"new{i}"
        assert _on_standby(reader)
    finally:
        reader.close()


def test_bounded_staleness_reads_the_primary_while_a_standby_lags(servers, filled, embedder):
    url, _, lagging = servers
    reader = PostgresBackend(url, read_urls=[lagging.url_for("search")], reads="standby", max_lag=0.5)
    try:
        with lagging.connect() as con:
            con.execute("SELECT pg_wal_replay_pause()")
        try:
            filled.upsert_documents([{"id": "late", "text": "The aurora glowed green over the fjord."}])
            coll = Collection.open(reader, "notes", embedder, create=False)
            assert coll.search("aurora over the fjord", mode="keyword", k=1)[0].id == "late"
            assert not _on_standby(reader)  # behind: the search went to the primary
        finally:
            with lagging.connect() as con:
                con.execute("SELECT pg_wal_replay_resume()")
        lagging._wait(lambda: _assert(_on_standby(reader)), "catch up")  # caught up: back on the standby
    finally:
        reader.close()


def _assert(ok: bool) -> None:
    if not ok:
        raise AssertionError("not yet")


def test_synchronous_reads_are_refused_where_the_primary_waits_for_no_standby(postgres_db):
    with pytest.raises(StoreUnavailable) as e:
        PostgresBackend(postgres_db, read_urls=[postgres_db], reads="synchronous")
    assert "synchronous_standby_names" in e.value.message and "SEMSEARCH_POSTGRES_READS=standby" in e.value.message
