"""The Postgres store's write path (``PostgresStore.write``): one transaction per batch that locks the
collection's row, replaces and deletes sources and their chunks (COPY), keeps the terms' document
frequencies and bumps the write sequence; then, once the collection is big enough, its HNSW index.
Copies are handed over and stored by ``copies.py``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import psycopg
from pgvector import SparseVector
from psycopg.types.json import Jsonb

from indexer.analysis.languages import Analyzer
from indexer.errors import ModelMismatch, Reindexing
from indexer.stores.base import SourceWrite, StoreMeta, WriteResult
from indexer.stores.postgres.connection import Database, advisory_key, scalar
from indexer.stores.postgres.copies import insert_copy, promote_copy
from indexer.stores.postgres.schema import TERM_SPACE, ensure_hnsw, tables
from indexer.stores.postgres.sql import chunk_terms

log = logging.getLogger(__name__)

COPY_ROWS = 1000  # chunks per COPY batch (bounded memory on both sides)


class Writer(Protocol):
    """What the write path uses of :class:`~indexer.stores.postgres.store.PostgresStore` (a protocol, so
    that this module need not import the store that imports it)."""

    pg: Database
    name: str
    meta: StoreMeta
    phys: int
    vector_type: str
    _hnsw_built: bool

    @property
    def analyzer(self) -> Analyzer | None: ...

    def _row(self, con: psycopg.Connection[Any] | None = None, *, lock: bool = False) -> dict[str, Any]: ...

    def _follow(self, row: dict[str, Any]) -> None: ...

    def _copy_chunks(self, con: psycopg.Connection[Any], t: dict[str, str], sid: int, u: SourceWrite,
                     df: Counter[int]) -> list[int]: ...


def write(store: Writer, upserts: Sequence[SourceWrite] = (), deletes: Sequence[tuple[str, str]] = (),
          touches: Sequence[tuple[str, float]] = ()) -> WriteResult:
    """``PostgresStore.write``: one transaction (see ``store.py``'s docstring)."""
    for u in upserts:
        if len(u.chunks) != len(u.vectors):
            raise ValueError(f"{u.key}: {len(u.chunks)} chunks but {len(u.vectors)} vectors")
        if len(u.chunks) and np.asarray(u.vectors).shape[1] != store.meta.dimension:
            raise ModelMismatch(store.name, store.meta.model, store.meta.dimension, "the vectors given",
                                int(np.asarray(u.vectors).shape[1]))
    now = time.time()
    with store.pg.pools.write(f"write to collection {store.name!r}") as con:
        if not scalar(con, "SELECT pg_try_advisory_xact_lock_shared(%s)", (advisory_key("reindex", store.name),)):
            raise reindexing(con, store.name)
        if store.pg.reads == "synchronous":  # acknowledged once the synchronous standbys applied it
            con.execute("SET LOCAL synchronous_commit = remote_apply")
        row = store._row(con, lock=True)
        store._follow(row)
        t = tables(store.phys)
        removed: list[int] = []
        df: Counter[int] = Counter()
        replaced = [*deletes, *((u.kind, u.key) for u in upserts if not u.append)]
        for kind, key in replaced:
            got = con.execute(f"SELECT id FROM {t['sources']} WHERE kind = %s AND key = %s", (kind, key)).fetchone()
            if got is None:
                continue
            promote_copy(con, t, int(got[0]))
            for cid, terms in con.execute(f"DELETE FROM {t['chunks']} WHERE source_id = %s RETURNING id, terms",
                                          (got[0],)).fetchall():
                removed.append(int(cid))
                df.subtract(terms)
            con.execute(f"DELETE FROM {t['sources']} WHERE id = %s", (got[0],))
        added: list[int] = []
        for u in upserts:
            if u.copy_of is not None:
                insert_copy(con, t, u, now)
                continue
            sid = _append_to(con, t, u, now) if u.append else scalar(con,
                f"INSERT INTO {t['sources']} (kind, key, root, ext, size, mtime, sha256, metadata, text, "
                "indexed_at, partial) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (u.kind, u.key, u.root, u.ext, u.size, u.mtime, u.sha256, Jsonb(u.metadata), u.text, now,
                 u.partial))
            added += store._copy_chunks(con, t, int(sid), u, df)
        for key, mtime in touches:
            con.execute(f"UPDATE {t['sources']} SET mtime = %s WHERE kind = 'file' AND key = %s", (mtime, key))
        changed = [(term, n) for term, n in df.items() if n]
        if changed:
            con.execute(
                f"INSERT INTO {t['terms']} AS t (term, df) SELECT * FROM unnest(%s::int[], %s::int[]) "
                "ON CONFLICT (term) DO UPDATE SET df = t.df + EXCLUDED.df",
                ([c[0] for c in changed], [c[1] for c in changed]))
            con.execute(f"DELETE FROM {t['terms']} WHERE df <= 0 AND term = ANY(%s)", ([c[0] for c in changed],))
        seq = scalar(con, "UPDATE collections SET seq = seq + 1, chunks = chunks + %s WHERE name = %s "
                          "RETURNING seq", (len(added) - len(removed), store.name))
    if store.meta.index_type == "hnsw" and int(row["chunks"]) + len(added) - len(removed) >= store.pg.hnsw_after \
            and not store._hnsw_built:
        build_hnsw(store)
    return WriteResult(seq=int(seq), added_ids=np.asarray(added, np.int64),
                       added_vectors=np.zeros((0, store.meta.dimension), np.float32),
                       removed_ids=np.asarray(removed, np.int64), chunks_added=len(added),
                       chunks_removed=len(removed))


def build_hnsw(store: Writer) -> None:
    """Build the HNSW index once the collection is big enough (after its commit: the write is
    already acknowledged by the server; searches and writes go on while it builds)."""
    with store.pg.pools.read(f"build the HNSW index of collection {store.name!r}") as con:
        # One builder at a time across replicas; the others find it built.
        with con.transaction():
            got = con.execute("SELECT pg_try_advisory_xact_lock(hashtext('semsearch hnsw ' || %s))",
                              (store.name,)).fetchone()
        if got is None or not got[0]:
            return
        started = time.monotonic()
        if ensure_hnsw(con, store.phys, store.vector_type, concurrently=True):
            log.info("%s: HNSW index built in %.1fs", store.name, time.monotonic() - started)
    store._hnsw_built = True


def _append_to(con: psycopg.Connection[Any], t: dict[str, str], u: SourceWrite, now: float) -> int:
    got = con.execute(f"SELECT id, sha256 FROM {t['sources']} WHERE kind = %s AND key = %s AND partial",
                      (u.kind, u.key)).fetchone()
    if got is None or got[1] != u.sha256:
        raise ValueError(f"{u.key}: no partial source with sha256 {u.sha256} to append to")
    con.execute(f"UPDATE {t['sources']} SET partial = %s, indexed_at = %s WHERE id = %s", (u.partial, now, got[0]))
    return int(got[0])


def copy_chunks(store: Writer, con: psycopg.Connection[Any], t: dict[str, str], sid: int, u: SourceWrite,
                df: Counter[int]) -> list[int]:
    """COPY a source's chunks in bounded batches, with ids taken from the table's sequence first
    (COPY returns none). Adds each chunk's terms to ``df``."""
    n = len(u.chunks)
    if not n:
        return []
    ids = [r[0] for r in con.execute(f"SELECT nextval(pg_get_serial_sequence('{t['chunks']}', 'id')) "
                                     "FROM generate_series(1, %s)", (n,)).fetchall()]
    vectors = np.asarray(u.vectors, np.float32)
    metas = list(u.chunk_metadata) or [{}] * n
    analyzer = store.analyzer.for_document([c.text for c in u.chunks]) if store.analyzer else None
    columns = "(id, source_id, ord, start, \"end\", text, metadata, embedding, keywords, terms)"
    for lo in range(0, n, COPY_ROWS):
        with con.cursor().copy(f"COPY {t['chunks']} {columns} FROM STDIN WITH (FORMAT BINARY)") as cp:
            cp.set_types(["int8", "int8", "int4", "int4", "int4", "text", "jsonb", store.vector_type, "sparsevec",
                          "int4[]"])
            for i in range(lo, min(n, lo + COPY_ROWS)):
                c = u.chunks[i]
                weights = chunk_terms(c.text, analyzer)
                df.update(weights.keys())
                cp.write_row([ids[i], sid, c.ord, c.start, c.end, c.text.replace("\x00", ""), Jsonb(metas[i]),
                              vector_value(vectors[i], store.vector_type), SparseVector(weights, TERM_SPACE),
                              list(weights)])
    return [int(i) for i in ids]


def reindexing(con: psycopg.Connection[Any], name: str) -> Reindexing:
    """The error for a write refused because a re-index holds the collection, naming its model and
    process (``reindex.py`` records them before it takes the lock)."""
    got = con.execute("SELECT model, by FROM reindexing WHERE name = %s", (name,)).fetchone()
    model, by = got if got else ("another model", "another process")
    return Reindexing(name, model, by)


def vector_value(v: np.ndarray, vector_type: str) -> Any:
    """A vector as the driver sends it for the column's type (pgvector's adapters)."""
    if vector_type == "halfvec":
        from pgvector import HalfVector

        return HalfVector(v.astype(np.float16))
    return np.asarray(v, np.float32)
