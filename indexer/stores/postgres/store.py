"""One collection in Postgres (``schema.py`` has the tables): every read path, and the door to the write path
(``writes.py``; copies: ``copies.py``).

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
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import psycopg
from pgvector import SparseVector

from indexer.errors import CollectionNotFound, ModelMismatch
from indexer.facets import Facet, FacetCounts, ranked
from indexer.filters import Filters
from indexer.stores.base import HitRow, SourceRow, SourceWrite, StoredSource, StoreMeta, WriteResult
from indexer.stores.postgres import copies, writes
from indexer.stores.postgres.connection import Database, scalar
from indexer.stores.postgres.locks import PostgresIndexingLock
from indexer.stores.postgres.schema import TERM_SPACE, tables, upgrade_collection_tables
from indexer.stores.postgres.sql import facet_value_sql, filter_sql, query_terms
from indexer.stores.postgres.writes import vector_value as _vector_value  # (the name benchmarks import)

log = logging.getLogger(__name__)


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

    # -- writing (``writes.py``; copies: ``copies.py``) -----------------------------------------------
    def write(self, upserts: Sequence[SourceWrite] = (), deletes: Sequence[tuple[str, str]] = (),
              touches: Sequence[tuple[str, float]] = ()) -> WriteResult:
        return writes.write(self, upserts, deletes, touches)

    def _copy_chunks(self, con: psycopg.Connection[Any], t: dict[str, str], sid: int, u: SourceWrite,
                     df: Counter[int]) -> list[int]:
        """COPY a source's chunks (``writes.copy_chunks``): a method, so a test can break a write here."""
        return writes.copy_chunks(self, con, t, sid, u, df)

    def canonical_file(self, sha256: str) -> str | None:
        with self._read("look up a file's content") as con:
            return copies.canonical_file(con, self._t(), sha256)

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
        where, wparams = filter_sql(filters, t["sources"])  # the physical table, as in _filtered
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
                also = copies.also_at(con, self._t(), files)
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


def _numpy(v: Any) -> np.ndarray:
    if isinstance(v, np.ndarray):
        return v.astype(np.float32, copy=False)
    return np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v, dtype=np.float32)


def _meta(row: dict[str, Any]) -> StoreMeta:
    return StoreMeta(row["model"], int(row["dimension"]), row["index_type"], float(row["created"]),
                     language=row["language"], keywords=row["keywords"])
