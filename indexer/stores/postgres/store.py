"""One collection in Postgres (``schema.py`` has the tables): the write path and every read path.

Writes: one transaction per batch. It locks the collection's row (``FOR UPDATE``, so the writes of one
collection are serialized across every process and replica), replaces and deletes sources and their
chunks (COPY), keeps the terms' document frequencies, and bumps the write sequence. A reader sees a
batch whole or not at all; a write whose connection dies is rolled back by the server. A write during
a re-index is refused at once (:class:`Reindexing`): the re-index holds an advisory lock that every
write must share.

Reads: a search batch runs in one ``REPEATABLE READ`` transaction (:meth:`PostgresStore.reading`), on
the primary or on a hot standby as the read policy says (``backend.py``). Dense search is ``ORDER BY
embedding <#> q`` (inner product of normalized vectors: the cosine), through HNSW with iterative scans
(so a filtered search still returns k) or an exact scan for ``flat``. Keyword search is BM25 over
sparse vectors: the chunks holding a query term (GIN on ``terms``), ranked by the inner product of
their term weights with the query's IDF weights (``indexer/analysis/bm25.py``; N and the document
frequencies are kept by the writes). Filters are one WHERE fragment (``sql.py``).
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import psycopg
from pgvector import SparseVector
from psycopg.types.json import Jsonb

from indexer.errors import CollectionNotFound, ModelMismatch, Reindexing
from indexer.facets import Facet, FacetCounts, ranked
from indexer.filters import Filters
from indexer.stores.base import ALSO_AT_MAX, HitRow, SourceRow, SourceWrite, StoredSource, StoreMeta, WriteResult
from indexer.stores.postgres.connection import Database, advisory_key, scalar
from indexer.stores.postgres.locks import PostgresIndexingLock
from indexer.stores.postgres.schema import TERM_SPACE, ensure_hnsw, tables, upgrade_collection_tables
from indexer.stores.postgres.sql import chunk_terms, facet_value_sql, filter_sql, query_terms

log = logging.getLogger(__name__)

COPY_ROWS = 1000  # chunks per COPY batch (bounded memory on both sides)


def whoami() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class PostgresStore:
    """One semsearch collection in Postgres (see the module's docstring)."""

    backend = "postgres"

    def __init__(self, pg: Database, name: str) -> None:
        self.pg = pg
        self.name = name
        row = self._row()
        self.meta = _meta(row)
        self.vector_type = row["vector_type"]
        self.phys = int(row["phys"])
        self.analyzer = self.meta.analyzer()
        self._local = threading.local()  # the connection of a reading() batch, per thread
        self._hnsw_built = False  # known built (checked again by the first write past hnsw_after)
        with self.pg.pools.read(f"upgrade collection {name!r}") as con:
            upgrade_collection_tables(con, self.phys)

    # -- the collection's row -------------------------------------------------------------------------
    def _row(self, con: psycopg.Connection[Any] | None = None, *, lock: bool = False) -> dict[str, Any]:
        sql = ("SELECT phys, model, dimension, index_type, vector_type, created, seq, chunks, language, keywords "
               "FROM collections "
               "WHERE name = %s" + (" FOR UPDATE" if lock else ""))
        if con is None:
            with self.pg.pools.read(f"read collection {self.name!r}") as c:
                got = c.execute(sql, (self.name,)).fetchone()
        else:
            got = con.execute(sql, (self.name,)).fetchone()
        if got is None:
            raise CollectionNotFound(self.name)
        keys = ("phys", "model", "dimension", "index_type", "vector_type", "created", "seq", "chunks", "language",
                "keywords")
        return dict(zip(keys, got, strict=True))

    def _follow(self, row: dict[str, Any]) -> None:
        """Follow a re-index another process swapped in: the same model goes on with the new tables;
        another model means this process's embedder no longer fits (ModelMismatch names it)."""
        if float(row["created"]) != self.meta.created:
            if (row["model"], int(row["dimension"])) != (self.meta.model, self.meta.dimension):
                raise ModelMismatch(self.name, row["model"], int(row["dimension"]), self.meta.model,
                                    self.meta.dimension)
            self.meta = _meta(row)
        if int(row["phys"]) != self.phys:  # new tables: their HNSW index is looked for again
            self._hnsw_built = False
        self.phys = int(row["phys"])
        self.vector_type = row["vector_type"]

    def _t(self) -> dict[str, str]:
        return tables(getattr(self._local, "phys", None) or self.phys)

    def load(self) -> None:
        pass  # nothing derived to load: the server holds the indexes

    def indexing_lock(self) -> PostgresIndexingLock:
        return PostgresIndexingLock(self.pg, self.name)

    # -- writing -------------------------------------------------------------------------------------
    def write(self, upserts: Sequence[SourceWrite] = (), deletes: Sequence[tuple[str, str]] = (),
              touches: Sequence[tuple[str, float]] = ()) -> WriteResult:
        for u in upserts:
            if len(u.chunks) != len(u.vectors):
                raise ValueError(f"{u.key}: {len(u.chunks)} chunks but {len(u.vectors)} vectors")
            if len(u.chunks) and np.asarray(u.vectors).shape[1] != self.meta.dimension:
                raise ModelMismatch(self.name, self.meta.model, self.meta.dimension, "the vectors given",
                                    int(np.asarray(u.vectors).shape[1]))
        now = time.time()
        with self.pg.pools.write(f"write to collection {self.name!r}") as con:
            if not scalar(con, "SELECT pg_try_advisory_xact_lock_shared(%s)",
                               (advisory_key("reindex", self.name),)):
                raise self._reindexing(con)
            if self.pg.reads == "synchronous":  # acknowledged once the synchronous standbys applied it
                con.execute("SET LOCAL synchronous_commit = remote_apply")
            row = self._row(con, lock=True)
            self._follow(row)
            t = tables(self.phys)
            removed: list[int] = []
            df: Counter[int] = Counter()
            replaced = [*deletes, *((u.kind, u.key) for u in upserts if not u.append)]
            for kind, key in replaced:
                got = con.execute(f"SELECT id FROM {t['sources']} WHERE kind = %s AND key = %s", (kind, key)).fetchone()
                if got is None:
                    continue
                self._promote_copy(con, t, int(got[0]))
                for cid, terms in con.execute(f"DELETE FROM {t['chunks']} WHERE source_id = %s RETURNING id, terms",
                                              (got[0],)).fetchall():
                    removed.append(int(cid))
                    df.subtract(terms)
                con.execute(f"DELETE FROM {t['sources']} WHERE id = %s", (got[0],))
            added: list[int] = []
            for u in upserts:
                if u.copy_of is not None:
                    self._insert_copy(con, t, u, now)
                    continue
                sid = self._append_to(con, t, u, now) if u.append else scalar(con,
                    f"INSERT INTO {t['sources']} (kind, key, root, ext, size, mtime, sha256, metadata, text, "
                    "indexed_at, partial) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    (u.kind, u.key, u.root, u.ext, u.size, u.mtime, u.sha256, Jsonb(u.metadata), u.text, now,
                     u.partial))
                added += self._copy_chunks(con, t, int(sid), u, df)
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
                              "RETURNING seq", (len(added) - len(removed), self.name))
        if self.meta.index_type == "hnsw" and int(row["chunks"]) + len(added) - len(removed) >= self.pg.hnsw_after \
                and not self._hnsw_built:
            self._build_hnsw()
        return WriteResult(seq=int(seq), added_ids=np.asarray(added, np.int64),
                           added_vectors=np.zeros((0, self.meta.dimension), np.float32),
                           removed_ids=np.asarray(removed, np.int64), chunks_added=len(added),
                           chunks_removed=len(removed))

    def _build_hnsw(self) -> None:
        """Build the HNSW index once the collection is big enough (after its commit: the write is
        already acknowledged by the server; searches and writes go on while it builds)."""
        with self.pg.pools.read(f"build the HNSW index of collection {self.name!r}") as con:
            # One builder at a time across replicas; the others find it built.
            with con.transaction():
                got = con.execute("SELECT pg_try_advisory_xact_lock(hashtext('semsearch hnsw ' || %s))",
                                  (self.name,)).fetchone()
            if got is None or not got[0]:
                return
            started = time.monotonic()
            if ensure_hnsw(con, self.phys, self.vector_type, concurrently=True):
                log.info("%s: HNSW index built in %.1fs", self.name, time.monotonic() - started)
        self._hnsw_built = True

    def _append_to(self, con: psycopg.Connection[Any], t: dict[str, str], u: SourceWrite, now: float) -> int:
        got = con.execute(f"SELECT id, sha256 FROM {t['sources']} WHERE kind = %s AND key = %s AND partial",
                          (u.kind, u.key)).fetchone()
        if got is None or got[1] != u.sha256:
            raise ValueError(f"{u.key}: no partial source with sha256 {u.sha256} to append to")
        con.execute(f"UPDATE {t['sources']} SET partial = %s, indexed_at = %s WHERE id = %s", (u.partial, now, got[0]))
        return int(got[0])

    def _promote_copy(self, con: psycopg.Connection[Any], t: dict[str, str], sid: int) -> None:
        """Before source ``sid`` is replaced or deleted: its first copy by path (if any) takes its chunks
        (the same ids) and the other copies point at it (see ``SourceWrite.copy_of``)."""
        got = con.execute(f"SELECT id FROM {t['sources']} WHERE same_as = %s ORDER BY key LIMIT 1", (sid,)).fetchone()
        if got is None:
            return
        heir = int(got[0])
        con.execute(f"UPDATE {t['chunks']} SET source_id = %s WHERE source_id = %s", (heir, sid))
        con.execute(f"UPDATE {t['sources']} SET same_as = NULL WHERE id = %s", (heir,))
        con.execute(f"UPDATE {t['sources']} SET same_as = %s WHERE same_as = %s", (heir, sid))

    def _insert_copy(self, con: psycopg.Connection[Any], t: dict[str, str], u: SourceWrite, now: float) -> None:
        """Store file ``u`` as a copy of file ``u.copy_of``: its own row, the canonical's metadata, no chunks."""
        got = con.execute(f"SELECT id, sha256, partial, same_as FROM {t['sources']} WHERE kind = 'file' AND key = %s",
                          (u.copy_of,)).fetchone()
        if got is None or got[1] != u.sha256 or got[2]:
            raise ValueError(f"{u.key}: no complete file {u.copy_of} with sha256 {u.sha256} to be a copy of")
        canonical = got[3] if got[3] is not None else got[0]
        con.execute(f"INSERT INTO {t['sources']} (kind, key, root, ext, size, mtime, sha256, metadata, text, "
                    "indexed_at, partial, same_as) SELECT 'file', %s, %s, %s, %s, %s, %s, metadata, NULL, %s, false, "
                    f"id FROM {t['sources']} WHERE id = %s",
                    (u.key, u.root, u.ext, u.size, u.mtime, u.sha256, now, canonical))

    def canonical_file(self, sha256: str) -> str | None:
        with self._read("look up a file's content") as con:
            got = con.execute(f"SELECT key FROM {self._t()['sources']} WHERE sha256 = %s AND kind = 'file' AND "
                              "same_as IS NULL AND NOT partial ORDER BY key LIMIT 1", (sha256,)).fetchone()
        return None if got is None else str(got[0])

    def _copy_chunks(self, con: psycopg.Connection[Any], t: dict[str, str], sid: int, u: SourceWrite,
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
        analyzer = self.analyzer.for_document([c.text for c in u.chunks]) if self.analyzer else None
        columns = "(id, source_id, ord, start, \"end\", text, metadata, embedding, keywords, terms)"
        for lo in range(0, n, COPY_ROWS):
            with con.cursor().copy(f"COPY {t['chunks']} {columns} FROM STDIN WITH (FORMAT BINARY)") as cp:
                cp.set_types(["int8", "int8", "int4", "int4", "int4", "text", "jsonb", self.vector_type, "sparsevec",
                              "int4[]"])
                for i in range(lo, min(n, lo + COPY_ROWS)):
                    c = u.chunks[i]
                    weights = chunk_terms(c.text, analyzer)
                    df.update(weights.keys())
                    cp.write_row([ids[i], sid, c.ord, c.start, c.end, c.text.replace("\x00", ""), Jsonb(metas[i]),
                                  _vector_value(vectors[i], self.vector_type), SparseVector(weights, TERM_SPACE),
                                  list(weights)])
        return [int(i) for i in ids]

    def _reindexing(self, con: psycopg.Connection[Any]) -> Reindexing:
        """The error for a write refused because a re-index holds the collection, naming its model and
        process (``reindex.py`` records them before it takes the lock)."""
        got = con.execute("SELECT model, by FROM reindexing WHERE name = %s", (self.name,)).fetchone()
        model, by = got if got else ("another model", "another process")
        return Reindexing(self.name, model, by)

    def checkpoint(self) -> None:
        pass  # the server's WAL makes a commit durable before it is acknowledged

    def refresh(self) -> None:
        pass  # every read asks the server

    def close(self) -> None:
        pass  # the pools belong to the backend

    # -- sync, documents, counts ---------------------------------------------------------------------
    @contextmanager
    def _read(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        """The reading() batch's connection on this thread, else a primary connection (reads outside a
        search, like folder sync's, must see every acknowledged write)."""
        con = getattr(self._local, "con", None)
        if con is not None:
            yield con
            return
        with self.pg.pools.read(f"{what} ({self.name})") as c:
            self._follow(self._row(c))
            yield c

    def file_states(self, prefix: str) -> dict[str, tuple[int, float, str, bool]]:
        with self._read("list files") as con:
            rows = con.execute(f"SELECT key, size, mtime, sha256, partial FROM {self._t()['sources']} "
                               "WHERE kind = 'file' AND left(key, %s) = %s", (len(prefix), prefix)).fetchall()
        return {key: (int(size), float(mtime), sha, bool(partial)) for key, size, mtime, sha, partial in rows}

    def has_source(self, kind: str, key: str) -> bool:
        with self._read("look up a source") as con:
            return con.execute(f"SELECT 1 FROM {self._t()['sources']} WHERE kind = %s AND key = %s",
                               (kind, key)).fetchone() is not None

    def chunk_spans(self, kind: str, key: str) -> list[tuple[int, int, int]]:
        t = self._t()
        with self._read("read chunk spans") as con:
            return [tuple(r) for r in con.execute(
                f"SELECT c.ord, c.start, c.\"end\" FROM {t['chunks']} c JOIN {t['sources']} s ON s.id = c.source_id "
                "WHERE s.kind = %s AND s.key = %s ORDER BY c.ord", (kind, key)).fetchall()]

    def source_hashes(self, kind: str, keys: Sequence[str]) -> dict[str, str]:
        with self._read("read source hashes") as con:
            return dict(con.execute(f"SELECT key, sha256 FROM {self._t()['sources']} WHERE kind = %s AND "
                                    "key = ANY(%s)", (kind, list(keys))).fetchall())

    def source_keys(self) -> dict[str, str]:
        with self._read("list sources") as con:
            return dict(con.execute(f"SELECT key, kind FROM {self._t()['sources']}").fetchall())

    def list_sources(self, *, kind: str | None, offset: int, limit: int) -> tuple[list[SourceRow], int]:
        t = self._t()
        where, params = ("WHERE s.kind = %s", [kind]) if kind else ("", [])
        with self._read("list sources") as con, con.transaction():
            total = scalar(con, f"SELECT count(*) FROM {t['sources']} s {where}", params)
            rows = con.execute(
                f"SELECT s.id, s.kind, s.key, s.ext, s.size, s.mtime, s.sha256, s.metadata, s.indexed_at, "
                f"(SELECT count(*) FROM {t['chunks']} c WHERE c.source_id = s.id), s.root, "
                f"(SELECT o.key FROM {t['sources']} o WHERE o.id = s.same_as) FROM {t['sources']} s "
                f"{where} ORDER BY s.key LIMIT %s OFFSET %s", [*params, limit, offset]).fetchall()
        return [SourceRow(int(r[0]), r[1], r[2], r[3], int(r[4]), float(r[5]), r[6], r[7], float(r[8]), int(r[9]),
                          r[10], r[11] or "") for r in rows], int(total)

    def stored_source(self, key: str, kinds: Sequence[str]) -> StoredSource | None:
        t = self._t()
        with self._read("read a source") as con, con.transaction():
            for kind in kinds:
                row = con.execute(f"SELECT id, sha256, text, metadata, COALESCE(same_as, id) FROM {t['sources']} "
                                  "WHERE kind = %s AND key = %s", (kind, key)).fetchone()
                if row is not None:  # (a copy's chunks are its canonical file's)
                    chunks = con.execute(f"SELECT id, start, \"end\", text FROM {t['chunks']} WHERE source_id = %s "
                                         "ORDER BY start", (row[4],)).fetchall()
                    return StoredSource(int(row[0]), kind, key, row[1], row[2], row[3],
                                        [(int(a), int(b), int(c), d) for a, b, c, d in chunks])
        return None

    def count_chunks(self) -> int:
        with self._read("count chunks") as con:
            return int(scalar(con, f"SELECT count(*) FROM {self._t()['chunks']}"))

    def count_sources(self) -> dict[str, int]:
        with self._read("count sources") as con:
            got = dict(con.execute(f"SELECT kind, count(*) FROM {self._t()['sources']} GROUP BY kind").fetchall())
        return {k: int(got.get(k, 0)) for k in ("file", "doc")}

    def size_bytes(self) -> int:
        t = self._t()
        with self._read("measure the collection") as con:
            return int(scalar(con, "SELECT pg_total_relation_size(%s) + pg_total_relation_size(%s) + "
                                   "pg_total_relation_size(%s)", (t["sources"], t["chunks"], t["terms"])))

    @property
    def seq(self) -> int:
        con = getattr(self._local, "con", None)
        if con is not None:
            return int(self._local.seq)
        return int(self._row()["seq"])

    # -- retrieval -----------------------------------------------------------------------------------
    @contextmanager
    def reading(self) -> Iterator[None]:
        """One REPEATABLE READ transaction for the batch (every read sees one state), on the connection
        the read policy picks (``PostgresBackend.search_connection``)."""
        if getattr(self._local, "con", None) is not None:  # nested: the outer batch's view
            yield
            return
        with self.pg.search_connection(f"search collection {self.name!r}") as con:
            con.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            try:
                row = self._row(con)
                self._follow(row)
                con.execute("SET LOCAL hnsw.iterative_scan = strict_order")
                self._local.con, self._local.phys, self._local.seq = con, int(row["phys"]), int(row["seq"])
                self._local.n = int(row["chunks"])
                yield
            finally:
                self._local.con = self._local.phys = None
                try:
                    con.execute("ROLLBACK")  # read only: nothing to keep
                except psycopg.Error as e:  # the connection broke; the pool discards it
                    log.debug("%s: ending a read transaction failed: %s", self.name, e)

    @contextmanager
    def _search(self) -> Iterator[psycopg.Connection[Any]]:
        """The reading() batch's connection, or a batch of one search."""
        if getattr(self._local, "con", None) is not None:
            yield self._local.con
            return
        with self.reading():
            yield self._local.con

    def _filtered(self, filters: Filters) -> tuple[str, str, list[Any]]:
        """(the join with sources, the extra WHERE, its parameters) for ``filters``."""
        where, params = filter_sql(filters, self._t()["sources"])
        if not where:
            return "", "", []
        return f" JOIN {self._t()['sources']} s ON s.id = c.source_id", " AND " + where, params

    def dense_chunks(self, qvec: np.ndarray, k: int, filters: Filters) -> list[tuple[int, float]]:
        join, where, params = self._filtered(filters)
        q = _vector_value(np.asarray(qvec, np.float32).reshape(-1), self.vector_type)
        with self._search() as con:
            con.execute(f"SET LOCAL hnsw.ef_search = {max(40, min(int(k), 1000))}")
            rows = con.execute(
                f"SELECT c.id, -(c.embedding <#> %s) FROM {self._t()['chunks']} c{join} WHERE true{where} "
                "ORDER BY c.embedding <#> %s LIMIT %s", [q, *params, q, k]).fetchall()
        return [(int(i), float(s)) for i, s in rows]

    def keyword_chunks(self, text: str, k: int, filters: Filters) -> list[tuple[int, float]]:
        terms = query_terms(text, self.analyzer)
        if not terms:
            return []
        join, where, params = self._filtered(filters)
        t = self._t()
        with self._search() as con:
            n = int(getattr(self._local, "n", 0))
            freq = dict(con.execute(f"SELECT term, df FROM {t['terms']} WHERE term = ANY(%s)", (terms,)).fetchall())
            # Qdrant's IDF modifier, so both stores without FTS5 rank alike: ln(1 + (N - n + 0.5) / (n + 0.5))
            idf = {term: math.log(1 + (n - d + 0.5) / (d + 0.5)) for term, d in freq.items() if d > 0}
            if not idf:
                return []
            q = SparseVector(idf, TERM_SPACE)
            rows = con.execute(
                f"SELECT c.id, -(c.keywords <#> %s) FROM {t['chunks']} c{join} WHERE c.terms && %s::int[]{where} "
                "ORDER BY c.keywords <#> %s LIMIT %s", [q, list(idf), *params, q, k]).fetchall()
        return [(int(i), float(s)) for i, s in rows]

    def _by_ids(self, ids: Sequence[int], columns: str, what: str) -> list[tuple[Any, ...]]:
        if not len(ids):
            return []
        t = self._t()
        with self._read(what) as con:
            return con.execute(f"SELECT {columns} FROM {t['chunks']} c JOIN {t['sources']} s ON s.id = c.source_id "
                               "WHERE c.id = ANY(%s) ORDER BY c.id", ([int(i) for i in ids],)).fetchall()

    def sources_of_chunks(self, ids: Sequence[int]) -> dict[int, int]:
        return {int(c): int(s) for c, s in self._by_ids(ids, "c.id, c.source_id", "read chunks")}

    def source_sort_keys(self, ids: Sequence[int]) -> dict[int, tuple[float, str]]:
        with self._read("read sources") as con:
            rows = con.execute(f"SELECT id, CASE WHEN kind = 'file' THEN mtime ELSE indexed_at END, key "
                               f"FROM {self._t()['sources']} WHERE id = ANY(%s)", ([int(i) for i in ids],)).fetchall()
        return {int(sid): (float(t), key) for sid, t, key in rows}

    def facet_counts(self, facet: Facet, filters: Filters, sources: Sequence[int] | None = None) -> FacetCounts:
        t = self._t()
        value, vparams = facet_value_sql(facet)
        where, wparams = filter_sql(filters, self._t()["sources"])
        where = " AND ".join(w for w in (where, "s.id = ANY(%s)" if sources is not None else "") if w) or "true"
        params = [*wparams, *([[int(i) for i in sources]] if sources is not None else [])]
        frm = f"FROM {t['chunks']} c JOIN {t['sources']} s ON s.id = c.source_id WHERE {where}"
        with self._read("count facets") as con, con.transaction():
            if facet.field == "metadata":  # a chunk's value (its page's), else its source's
                inner = f"SELECT DISTINCT s.id, {value} AS v {frm}"
            else:  # a source's own value: computed once per source, not once per chunk
                inner = f"SELECT {value} AS v FROM {t['sources']} s WHERE s.id IN (SELECT c.source_id {frm})"
            groups = con.execute(f"SELECT v, count(*) FROM ({inner}) AS d WHERE v IS NOT NULL GROUP BY v",
                                 [*vparams, *params]).fetchall()
            total = scalar(con, f"SELECT count(DISTINCT s.id) {frm}", params)
        return FacetCounts(facet.name, ranked([(v, int(n)) for v, n in groups], facet.top), int(total))

    def hit_rows(self, ids: Sequence[int]) -> dict[int, HitRow]:
        rows = self._by_ids(ids, 'c.id, c.start, c."end", c.text, s.kind, s.key, s.metadata, c.metadata, s.root, '
                                 "s.id", "read hits")
        also: dict[int, tuple[list[str], int]] = {}
        files = list({int(r[9]) for r in rows if r[4] == "file"})
        if files:
            with self._read("read copies") as con:
                for sid, key in con.execute(f"SELECT same_as, key FROM {self._t()['sources']} WHERE same_as = ANY(%s) "
                                            "ORDER BY same_as, key", (files,)).fetchall():
                    paths, n = also.get(int(sid), ([], 0))
                    if len(paths) < ALSO_AT_MAX:
                        paths.append(key)
                    also[int(sid)] = (paths, n + 1)
        return {int(r[0]): HitRow(int(r[0]), int(r[1]), int(r[2]), r[3], r[4], r[5], r[6], r[7], r[8],
                                  *also.get(int(r[9]), ([], 0))) for r in rows}

    def vectors_for(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        return {int(c): _numpy(v) for c, v in self._by_ids(ids, "c.id, c.embedding", "read vectors")}

    def find_source(self, key: str) -> int | None:
        with self._read("look up a source") as con:
            got = con.execute(f"SELECT COALESCE(same_as, id) FROM {self._t()['sources']} WHERE key = %s "
                              "ORDER BY kind = 'doc' DESC LIMIT 1", (key,)).fetchone()
        return int(got[0]) if got else None

    def source_vectors(self, source_id: int) -> np.ndarray:
        with self._read("read vectors") as con:
            rows = con.execute(f"SELECT embedding FROM {self._t()['chunks']} WHERE source_id = %s ORDER BY ord",
                               (source_id,)).fetchall()
        return np.stack([_numpy(r[0]) for r in rows]) if rows else np.zeros((0, 0), np.float32)

    def chunk_ids(self) -> np.ndarray:
        with self._read("list chunks") as con:
            rows = con.execute(f"SELECT id FROM {self._t()['chunks']} ORDER BY id").fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def map_rows(self, ids: Sequence[int], preview_chars: int) -> list[dict[str, Any]]:
        rows = self._by_ids(ids, f'c.id, c.start, c."end", left(c.text, {int(preview_chars)}), s.kind, s.key, '
                                 "s.root, c.embedding", "read the map")
        return [{"chunk_id": int(r[0]), "start": int(r[1]), "end": int(r[2]), "preview": r[3], "kind": r[4],
                 "id": r[5], "root": r[6], "vector": _numpy(r[7])} for r in rows]


def _vector_value(v: np.ndarray, vector_type: str) -> Any:
    """A vector as the driver sends it for the column's type (pgvector's adapters)."""
    if vector_type == "halfvec":
        from pgvector import HalfVector

        return HalfVector(v.astype(np.float16))
    return np.asarray(v, np.float32)


def _numpy(v: Any) -> np.ndarray:
    if isinstance(v, np.ndarray):
        return v.astype(np.float32, copy=False)
    return np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v, dtype=np.float32)


def _meta(row: dict[str, Any]) -> StoreMeta:
    return StoreMeta(row["model"], int(row["dimension"]), row["index_type"], float(row["created"]),
                     language=row["language"], keywords=row["keywords"])
