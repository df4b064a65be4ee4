"""The connections of the Postgres store: one pool to the primary (every write, and reads that must see
them), optional pools to hot standbys (searches, by the read policy), and the one place where a driver
error becomes a :class:`~indexer.errors.StoreUnavailable` line naming the server and what to do.

A URL may name several hosts (libpq's ``postgresql://h1:5432,h2:5432/db?target_session_attrs=read-write``):
libpq then connects to whichever is the primary, so after a standby is promoted the pool's next
connection goes to it with no restart (a broken connection is noticed when it is handed out:
``check=ConnectionPool.check_connection``).
"""

from __future__ import annotations

import itertools
import logging
import threading
import zlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

import psycopg
from pgvector.psycopg import register_vector
from psycopg import conninfo, errors
from psycopg_pool import ConnectionPool, PoolTimeout

from indexer.errors import StoreUnavailable

log = logging.getLogger(__name__)

MIN_PGVECTOR = (0, 8, 0)  # iterative HNSW scans (a filtered search still returns k) and halfvec
POOL_TIMEOUT = 10.0  # seconds to wait for a connection before answering store_unavailable


def describe(url: str) -> str:
    """``host:port/dbname`` of a libpq URL, without user or password: what messages and logs name."""
    try:
        info = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the SEMSEARCH_POSTGRES_URL given (not a valid libpq URL)"
    db = info.get("dbname") or info.get("user") or ""
    return f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}/{db}"


@contextmanager
def answering(where: str, what: str) -> Iterator[None]:
    """Turn the driver's connection-level errors into one StoreUnavailable line (``what`` failed at
    ``where``: check the server and the URL). SQL errors the caller expects pass through."""
    try:
        yield
    except PoolTimeout as e:
        raise StoreUnavailable(f"Postgres at {where} cannot be reached to {what} within {POOL_TIMEOUT:.0f}s ({e}); "
                               "check that the server runs and SEMSEARCH_POSTGRES_URL points at it") from e
    except errors.ReadOnlySqlTransaction as e:
        raise StoreUnavailable(f"Postgres at {where} is a read-only standby and cannot {what}: point "
                               "SEMSEARCH_POSTGRES_URL at the primary (or at every host, with "
                               "target_session_attrs=read-write)") from e
    except (psycopg.OperationalError, psycopg.InterfaceError) as e:
        raise StoreUnavailable(f"Postgres at {where} failed to {what}: {str(e).strip().splitlines()[0]}; check that "
                               "the server runs and SEMSEARCH_POSTGRES_URL points at it. A write that failed "
                               "this way was rolled back whole.") from e


def advisory_key(purpose: str, name: str) -> int:
    """The int64 key of an advisory lock semsearch takes for ``purpose`` ("index", "reindex") on collection
    ``name``: the same in every process, one key space per purpose."""
    return zlib.crc32(f"semsearch {purpose} {name}".encode()) - 2**31


def scalar(con: psycopg.Connection[Any], sql: Any, params: Any = None) -> Any:
    """The first column of the one row ``sql`` returns (a statement that always returns a row)."""
    row = con.execute(sql, params).fetchone()
    assert row is not None, sql
    return row[0]


def _configure(con: psycopg.Connection[Any]) -> None:
    register_vector(con)


class Pools:
    """The primary's pool and the standbys' pools (round robin)."""

    def __init__(self, url: str, read_urls: Sequence[str] = (), *, max_size: int = 8, schema: str = "semsearch"
                 ) -> None:
        self.url = url
        self.where = describe(url)
        self.schema = schema
        self._check_server(url, self.where)
        self.primary = self._pool(url, max_size)
        self.standbys = [self._pool(u, max_size) for u in read_urls]
        self.standby_names = [describe(u) for u in read_urls]
        self._next = itertools.cycle(range(len(self.standbys))) if self.standbys else None
        self._lock = threading.Lock()

    def _pool(self, url: str, max_size: int) -> ConnectionPool:
        pool = ConnectionPool(url, min_size=1, max_size=max_size, open=False, configure=_configure,
                              check=ConnectionPool.check_connection, timeout=POOL_TIMEOUT,
                              kwargs={"autocommit": True, "options": f"-c search_path={self.schema},public"})
        pool.open(wait=False)
        return pool

    def _check_server(self, url: str, where: str) -> None:
        """Reach the server once at start (a clear error now, not at the first request), make the schema
        and the ``vector`` extension, and check the extension's version."""
        with answering(where, "connect"):
            try:
                con = psycopg.connect(url, autocommit=True, connect_timeout=int(POOL_TIMEOUT))
            except psycopg.OperationalError as e:
                raise StoreUnavailable(f"Postgres at {where} cannot be reached: {str(e).strip().splitlines()[-1]}; "
                                       "check that the server runs and SEMSEARCH_POSTGRES_URL points at it") from e
            with con:
                have = con.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
                if have is None:
                    try:
                        con.execute("CREATE EXTENSION IF NOT EXISTS vector")
                    except psycopg.Error as e:
                        raise StoreUnavailable(
                            f"Postgres at {where} has no 'vector' extension and semsearch may not create it "
                            f"({str(e).strip().splitlines()[0]}): run `CREATE EXTENSION vector;` as a superuser in "
                            "that database (pgvector 0.8 or later must be installed on the server)") from e
                    have = con.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
                assert have is not None
                version = tuple(int(p) for p in str(have[0]).split(".")[:3] if p.isdigit())
                if version < MIN_PGVECTOR:
                    raise StoreUnavailable(
                        f"Postgres at {where} has pgvector {have[0]}; semsearch needs "
                        f"{'.'.join(map(str, MIN_PGVECTOR))} or later (filtered HNSW searches): run "
                        "`ALTER EXTENSION vector UPDATE;` after installing a newer pgvector on the server")
                con.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')

    @contextmanager
    def write(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        """A connection to the primary inside one transaction (committed when the block ends)."""
        with answering(self.where, what), self.primary.connection() as con, con.transaction():
            yield con

    @contextmanager
    def read(self, what: str, *, standby: bool = False) -> Iterator[psycopg.Connection[Any]]:
        """An autocommit connection: to a standby (``standby`` and there are any), else the primary."""
        if standby and self._next is not None:
            with self._lock:
                i = next(self._next)
            with answering(self.standby_names[i], what), self.standbys[i].connection() as con:
                yield con
            return
        with answering(self.where, what), self.primary.connection() as con:
            yield con

    def close(self) -> None:
        for pool in (self.primary, *self.standbys):
            pool.close()


class Database(Protocol):
    """What a collection (``store.py``) and a re-index (``reindex.py``) need of
    :class:`~indexer.stores.postgres.backend.PostgresBackend`, which makes both: a protocol, not an
    import, so backend -> store is the one direction."""

    pools: Pools
    where: str
    reads: str  # the read policy (backend.py): "synchronous" makes writes wait for remote_apply
    hnsw_after: int  # chunks at which an hnsw collection's index is built (schema.ensure_hnsw)

    def search_connection(self, what: str) -> AbstractContextManager[psycopg.Connection[Any]]: ...

    def names(self) -> list[str]: ...
