"""The Postgres store (``SEMSEARCH_STORE=postgres``): collections as tables in a PostgreSQL database with
the pgvector extension, shared by every API replica and CLI that points at it. Needs the ``postgres``
extra.

    from indexer.stores.postgres import PostgresBackend
    backend = PostgresBackend("postgresql://semsearch@db.example:5432/search")

The package: ``connection.py`` (the pools, standbys, and the one place a driver error becomes a
clear line), ``schema.py`` (the tables), ``sql.py`` (filters and BM25 terms into SQL), ``store.py``
(one collection: its reads), ``writes.py`` (its write transaction), ``copies.py`` (copies: promoting
one, storing one, a hit's other paths), ``backend.py`` (collections by name, the read policy),
``jobs.py`` (the shared job table), ``locks.py`` (the indexer lock) and ``reindex.py`` (a new model in
one transaction).

Names are imported on first use, so ``import indexer.stores.postgres`` costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from indexer.lazy import exports

_EXPORTS = {"PostgresBackend": "indexer.stores.postgres.backend", "PostgresStore": "indexer.stores.postgres.store"}

if TYPE_CHECKING:
    from indexer.stores.postgres.backend import PostgresBackend
    from indexer.stores.postgres.store import PostgresStore


__getattr__ = exports(__name__, _EXPORTS)


__all__ = ["PostgresBackend", "PostgresStore"]
