"""Where a deployment's collections live in Postgres: :class:`PostgresBackend` lists, creates, opens,
peeks at and deletes collections (rows of ``collections`` and their tables, ``schema.py``), hands out
the shared job table, re-indexes, and picks the server a search reads from.

Read policies (``reads``), for hot standbys named by ``read_urls``:
- ``primary`` (the default): searches read the primary. Read-your-writes: an acknowledged write is
  seen by the next search through any replica.
- ``synchronous``: searches read the standbys, and every write commits with ``synchronous_commit =
  remote_apply``: the primary acknowledges it once the standbys named in its
  ``synchronous_standby_names`` have applied it, so read-your-writes holds on them too. Refused at
  start when the primary names no synchronous standby (the guarantee would be false).
- ``standby``: bounded staleness. A search reads a standby while it is known to have replayed all the
  primary had written at most ``max_lag`` seconds ago (the primary's WAL position is compared with the
  standby's replay position, at most every ``max_lag / 2`` seconds); otherwise it reads the primary.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg

from indexer.errors import CollectionNotFound, InvalidInput, NotSupported, StoreUnavailable
from indexer.stores.base import NoSnapshots, StoreMeta
from indexer.stores.postgres.connection import Pools, answering, scalar
from indexer.stores.postgres.jobs import PostgresJobTable
from indexer.stores.postgres.schema import create_collection_tables, create_shared, drop_collection_tables
from indexer.stores.postgres.store import PostgresStore

if TYPE_CHECKING:
    from indexer.embedding import Embedder

log = logging.getLogger(__name__)

READ_POLICIES = ("primary", "synchronous", "standby")
VECTOR_TYPES = ("vector", "halfvec")


class PostgresBackend:
    """Collections in one Postgres database (``url``, a libpq URL), in schema ``schema``."""

    backend = "postgres"
    damaged: tuple[type[Exception], ...] = ()

    def __init__(self, url: str, *, read_urls: Sequence[str] = (), reads: str = "primary", max_lag: float = 5.0,
                 vector_type: str = "vector", schema: str = "semsearch", pool_size: int = 8) -> None:
        if reads not in READ_POLICIES:
            raise InvalidInput(f"read policy {reads!r} is not one of {', '.join(READ_POLICIES)}", field="reads")
        if vector_type not in VECTOR_TYPES:
            raise InvalidInput(f"vector type {vector_type!r} is not one of {', '.join(VECTOR_TYPES)}",
                               field="vector_type")
        if reads != "primary" and not read_urls:
            raise InvalidInput(f"read policy {reads!r} reads from standbys: give their URLs "
                               "(SEMSEARCH_POSTGRES_READ_URLS)", field="read_urls")
        self.reads, self.max_lag, self.vector_type = reads, max_lag, vector_type
        self.pools = Pools(url, read_urls, max_size=pool_size, schema=schema)
        self.where = self.pools.where
        with self.pools.read("create semsearch's tables") as con:
            create_shared(con)
            if reads == "synchronous":
                names = scalar(con, "SHOW synchronous_standby_names")
                if not names:
                    self.pools.close()
                    raise StoreUnavailable(
                        f"SEMSEARCH_POSTGRES_READS=synchronous promises that a standby has applied every acknowledged "
                        f"write, but the primary at {self.where} names no synchronous standby: set "
                        "synchronous_standby_names on the primary (e.g. 'ANY 1 (standby1)'), or use "
                        "SEMSEARCH_POSTGRES_READS=standby (bounded staleness)")
        self._fresh_until = [0.0] * len(read_urls)  # monotonic time until which standby i is fresh enough
        self._lock = threading.Lock()

    # -- collections ---------------------------------------------------------------------------------
    def names(self) -> list[str]:
        with self.pools.read("list collections") as con:
            return [r[0] for r in con.execute("SELECT name FROM collections ORDER BY name").fetchall()]

    def exists(self, name: str) -> bool:
        with self.pools.read("look up a collection") as con:
            return con.execute("SELECT 1 FROM collections WHERE name = %s", (name,)).fetchone() is not None

    def open(self, name: str, *, model: str, dimension: int, index_type: str, checkpoint_every: int = 0,
             wal_checkpoint_seconds: float = 0.0) -> PostgresStore:
        if not self.exists(name):
            self.create(name, model=model, dimension=dimension, index_type=index_type)
        return PostgresStore(self, name)

    def create(self, name: str, *, model: str, dimension: int, index_type: str) -> None:
        """The collection's row and tables, in one transaction (a racing create of the same name waits,
        then finds it made)."""
        with self.pools.write(f"create collection {name!r}") as con:
            con.execute("SELECT pg_advisory_xact_lock(hashtext('semsearch create ' || %s))", (name,))
            if con.execute("SELECT 1 FROM collections WHERE name = %s", (name,)).fetchone():
                return
            phys = int(scalar(con, "SELECT nextval('phys_numbers')"))
            create_collection_tables(con, phys, dimension=dimension, vector_type=self.vector_type,
                                     index_type=index_type)
            con.execute("INSERT INTO collections (name, phys, model, dimension, index_type, vector_type, created) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        (name, phys, model, dimension, index_type, self.vector_type, time.time()))

    def delete(self, name: str) -> None:
        with self.pools.write(f"delete collection {name!r}") as con:
            got = con.execute("DELETE FROM collections WHERE name = %s RETURNING phys", (name,)).fetchone()
            if got is None:
                raise CollectionNotFound(name, self.names())
            drop_collection_tables(con, int(got[0]))

    def peek(self, name: str) -> tuple[StoreMeta, dict[str, int], int, int]:
        store = PostgresStore(self, name)
        return store.meta, store.count_sources(), store.count_chunks(), store.size_bytes()

    def job_table(self) -> PostgresJobTable:
        return PostgresJobTable(self.pools)  # every replica over this database

    @classmethod
    def require_files(cls, what: str) -> None:
        raise NotSupported(f"{what} works on the embedded store's files; with SEMSEARCH_STORE=postgres use the "
                           "server's own backups: pg_dump --schema=semsearch (docs/scaling.md)", field="collection")

    def snapshots(self) -> NoSnapshots:
        return NoSnapshots(self.require_files)

    def reindex(self, name: str, embedder: Embedder, *, progress: Callable[[dict[str, Any]], None] | None = None,
                cancel: threading.Event | None = None) -> Any:
        from indexer.stores.postgres.reindex import reindex

        return reindex(self, name, embedder, progress=progress, cancel=cancel)

    # -- where a search reads ------------------------------------------------------------------------
    @contextmanager
    def search_connection(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        standby = self.reads == "synchronous" or (self.reads == "standby" and self._standby_fresh())
        with self.pools.read(what, standby=standby) as con:
            yield con

    def _standby_fresh(self) -> bool:
        """Whether the standbys are known to hold every write the primary had at most ``max_lag`` ago."""
        now = time.monotonic()
        with self._lock:
            if all(now < t for t in self._fresh_until):
                return True
        try:
            with self.pools.read("read the primary's WAL position") as con:
                asked = time.monotonic()
                primary = scalar(con, "SELECT pg_current_wal_lsn()")
            fresh = True
            for i, pool in enumerate(self.pools.standbys):
                with answering(self.pools.standby_names[i], "read its replay position"), pool.connection() as con:
                    replayed = scalar(con, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (str(primary),)
                                           )
                with self._lock:
                    self._fresh_until[i] = asked + self.max_lag / 2 if replayed else 0.0
                fresh = fresh and bool(replayed)
            return fresh
        except StoreUnavailable as e:
            log.warning("reading the primary instead of the standbys: %s", e)
            return False

    def close(self) -> None:
        self.pools.close()
