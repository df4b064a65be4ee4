"""The SQLite catalog: sources (files and documents), chunks, their vectors and the FTS5 index.

This file is the collection's source of truth. Everything is written in single transactions, so a
crash (even SIGKILL) leaves either the whole batch or none of it. Every write bumps a sequence
number and appends the chunk ids it added or removed to ``vector_log``; the FAISS index (a derived
cache, see ``vectors.py``) records the sequence it reflects and replays the log to catch up.

Chunk ids come from AUTOINCREMENT, so an id is never reused: a FAISS id always means one chunk.

The schema and its migrations are in ``catalog_schema.py``; the SQL of a search's filters and
keyword query in ``sql.py``; copies of a file (duplicates) in ``catalog_copies.py``; the reads the
Store interface answers (sources, listings, the map) in ``catalog_reads.py``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from indexer.analysis.languages import Analyzer
from indexer.errors import damaged_catalog
from indexer.stores.base import HitRow, SourceRow, SourceWrite, WriteResult
from indexer.stores.embedded.catalog_copies import also_at, insert_copy, promote_copy
from indexer.stores.embedded.catalog_reads import source_row
from indexer.stores.embedded.catalog_schema import (
    _SCHEMA,
    KEYWORD_TABLES,
    SCHEMA_VERSION,
    _connect,
    _keyword_index,
    _migrate,
    rollback,
)
from indexer.stores.embedded.space import is_disk_full

# (the records live in stores.base)
__all__ = ["SCHEMA_VERSION", "Catalog", "SourceRow", "SourceWrite", "WriteResult", "source_row"]

log = logging.getLogger(__name__)

class Catalog:
    """SQLite access for one collection. One writer connection (serialized), one reader per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._w = _connect(path)
            fresh = self._w.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'chunks'"
                                    ).fetchone() is None
            self._w.executescript(_SCHEMA)
            # _SCHEMA is version 1; a new catalog is then migrated like an old one.
            self._w.execute("INSERT OR IGNORE INTO meta VALUES ('schema', '1')")
            _migrate(self._w)
            self.keywords = _keyword_index(self._w, fresh)
            self._w.execute("INSERT OR IGNORE INTO meta VALUES ('seq', '0')")
            self._w.execute("INSERT OR IGNORE INTO meta VALUES ('log_floor', '0')")
        except sqlite3.DatabaseError as e:
            if is_disk_full(e, path.parent):
                raise  # a full disk, not a damaged catalog (the store answers DiskFull)
            raise damaged_catalog(path.parent.name, e) from e
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self.write_lock = threading.RLock()
        # Makes a chunk's keyword terms ("analysed" catalogs; set by the store once it read the language).
        self.analyzer: Analyzer | None = None

    # -- connections -----------------------------------------------------------------------------
    @property
    def reader(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = _connect(self.path)
            con.execute("PRAGMA query_only=ON")
            self._local.con = con
            with self._readers_lock:
                self._readers.append(con)
        return con

    def close(self) -> None:
        with self._readers_lock:
            for con in self._readers:
                con.close()
            self._readers.clear()
        self._w.close()

    def checkpoint_wal(self, mode: str = "PASSIVE", *, wait_ms: int = 5000) -> bool:
        """Copy committed pages from the ``-wal`` file into ``catalog.sqlite3`` and sync it, so the catalog
        file alone holds every committed write (a copy without its ``-wal``, or a lost ``-wal``, loses
        nothing). PASSIVE copies what it can without waiting; FULL (before a write is acknowledged) waits
        up to ``wait_ms`` for readers of an older state to finish, so it copies everything; TRUNCATE (at
        the end of runs) also empties the ``-wal`` file. True if every committed frame was copied."""
        if mode not in ("PASSIVE", "FULL", "TRUNCATE"):
            raise ValueError(f"checkpoint mode must be PASSIVE, FULL or TRUNCATE, not {mode!r}")
        with self.write_lock:
            try:
                self._w.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
                busy, frames, copied = self._w.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
            except sqlite3.Error as e:  # e.g. locked by another process, or a full disk: the caller retries
                log.warning("%s: WAL checkpoint postponed: %s", self.path, e)
                return False
            finally:
                self._w.execute("PRAGMA busy_timeout=60000")
        return not busy and frames == copied

    # -- meta ------------------------------------------------------------------------------------
    def get_meta(self) -> dict[str, str]:
        return dict(self.reader.execute("SELECT key, value FROM meta").fetchall())

    def set_meta(self, **values: Any) -> None:
        with self.write_lock:
            self._w.execute("BEGIN IMMEDIATE")
            try:
                for k, v in values.items():
                    self._w.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, str(v)))
                self._w.execute("COMMIT")
            except BaseException:
                rollback(self._w)
                raise

    @property
    def seq(self) -> int:
        return int(self.reader.execute("SELECT value FROM meta WHERE key='seq'").fetchone()[0])

    # -- writes ----------------------------------------------------------------------------------
    def write(self, upserts: Sequence[SourceWrite] = (), deletes: Sequence[tuple[str, str]] = (),
              touches: Sequence[tuple[str, float]] = ()) -> WriteResult:
        """Apply one batch atomically: replace ``upserts``, drop ``deletes`` (kind, key), and record
        new mtimes for unchanged files (``touches``). Returns what the vector index must apply."""
        now = time.time()
        with self.write_lock:
            con = self._w
            con.execute("BEGIN IMMEDIATE")
            try:
                seq = int(con.execute("SELECT value FROM meta WHERE key='seq'").fetchone()[0]) + 1
                removed: list[int] = []
                for kind, key in [*deletes, *((u.kind, u.key) for u in upserts if not u.append)]:
                    row = con.execute("SELECT id FROM sources WHERE kind=? AND key=?", (kind, key)).fetchone()
                    if row is None:
                        continue
                    promote_copy(con, row[0])
                    ids = [r[0] for r in con.execute("SELECT id FROM chunks WHERE source_id=?", (row[0],))]
                    removed.extend(ids)
                    con.execute("DELETE FROM chunks WHERE source_id=?", (row[0],))
                    con.execute("DELETE FROM sources WHERE id=?", (row[0],))
                added_ids: list[int] = []
                added_vecs: list[np.ndarray] = []
                for u in upserts:
                    if u.copy_of is not None:
                        insert_copy(con, u, now)
                        continue
                    if len(u.chunks) != len(u.vectors):
                        raise ValueError(f"{u.key}: {len(u.chunks)} chunks but {len(u.vectors)} vectors")
                    sid = self._append_to(u, now) if u.append else con.execute(
                        "INSERT INTO sources (kind, key, root, ext, size, mtime, sha256, metadata, text, indexed_at,"
                        " partial) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (u.kind, u.key, u.root, u.ext, u.size, u.mtime, u.sha256, json.dumps(u.metadata), u.text,
                         now, int(u.partial)),
                    ).lastrowid
                    vecs = np.ascontiguousarray(u.vectors, dtype="<f4")
                    metas = [json.dumps(m) for m in u.chunk_metadata] or ["{}"] * len(u.chunks)
                    analyzer = self._analyzer().for_document([c.text for c in u.chunks]) \
                        if self.keywords == "analysed" else None
                    for c, v, m in zip(u.chunks, vecs, metas, strict=True):
                        terms = " ".join(analyzer.document_terms(c.text)) if analyzer else ""
                        cur = con.execute(
                            "INSERT INTO chunks (source_id, ord, start, end, text, vector, metadata, terms)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (sid, c.ord, c.start, c.end, c.text, v.tobytes(), m, terms),
                        )
                        assert cur.lastrowid is not None
                        added_ids.append(cur.lastrowid)
                    added_vecs.append(vecs)
                for key, mtime in touches:
                    con.execute("UPDATE sources SET mtime=? WHERE kind='file' AND key=?", (mtime, key))
                con.executemany("INSERT INTO vector_log VALUES (?, ?, -1)", [(seq, i) for i in removed])
                con.executemany("INSERT INTO vector_log VALUES (?, ?, 1)", [(seq, i) for i in added_ids])
                con.execute("UPDATE meta SET value=? WHERE key='seq'", (str(seq),))
                con.execute("COMMIT")
            except BaseException:
                rollback(con)
                raise
        dim = added_vecs[0].shape[1] if added_vecs else 0
        return WriteResult(
            seq=seq,
            added_ids=np.asarray(added_ids, dtype=np.int64),
            added_vectors=np.concatenate(added_vecs) if added_vecs else np.zeros((0, dim), np.float32),
            removed_ids=np.asarray(removed, dtype=np.int64),
            chunks_added=len(added_ids),
            chunks_removed=len(removed),
        )

    def _analyzer(self) -> Analyzer:
        if self.analyzer is None:
            raise RuntimeError(f"{self.path}: the store did not set the catalog's keyword analyzer")
        return self.analyzer

    def _append_to(self, u: SourceWrite, now: float) -> int:
        """The id of the partial source ``u`` continues (inside ``write``'s transaction); marks it done
        when ``u`` is its last batch."""
        row = self._w.execute("SELECT id, sha256 FROM sources WHERE kind=? AND key=? AND partial=1",
                              (u.kind, u.key)).fetchone()
        if row is None or row[1] != u.sha256:
            raise ValueError(f"{u.key}: no partial source with sha256 {u.sha256} to append to")
        self._w.execute("UPDATE sources SET partial=?, indexed_at=? WHERE id=?", (int(u.partial), now, row[0]))
        return int(row[0])

    def chunk_spans(self, kind: str, key: str) -> list[tuple[int, int, int]]:
        """(ord, start, end) of a source's committed chunks, in order."""
        return self.reader.execute(
            "SELECT c.ord, c.start, c.end FROM chunks c JOIN sources s ON s.id = c.source_id "
            "WHERE s.kind=? AND s.key=? ORDER BY c.ord", (kind, key)).fetchall()

    def prune_log(self, upto_seq: int) -> None:
        """Forget log entries that a saved vector index already reflects."""
        with self.write_lock:
            self._w.execute("BEGIN IMMEDIATE")
            try:
                self._w.execute("DELETE FROM vector_log WHERE seq <= ?", (upto_seq,))
                floor = int(self._w.execute("SELECT value FROM meta WHERE key='log_floor'").fetchone()[0])
                self._w.execute("UPDATE meta SET value=? WHERE key='log_floor'", (str(max(floor, upto_seq)),))
                self._w.execute("COMMIT")
            except BaseException:
                rollback(self._w)
                raise

    # -- reads used to build / repair the vector index ---------------------------------------------
    def iter_vectors(self, batch: int = 50_000, ids: Iterable[int] | None = None
                     ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) in batches: every chunk, or only ``ids`` (those that still exist)."""
        con = self.reader
        if ids is None:
            last = 0
            while True:
                rows = con.execute("SELECT id, vector FROM chunks WHERE id > ? ORDER BY id LIMIT ?",
                                   (last, batch)).fetchall()
                if not rows:
                    return
                last = rows[-1][0]
                yield _unpack(rows)
        else:
            wanted = list(ids)
            for i in range(0, len(wanted), 900):
                part = wanted[i : i + 900]
                rows = con.execute(f"SELECT id, vector FROM chunks WHERE id IN ({','.join('?' * len(part))})",
                                   part).fetchall()
                if rows:
                    yield _unpack(rows)

    def log_since(self, seq: int) -> tuple[int, list[tuple[int, int, int]]]:
        """(log_floor, [(seq, chunk_id, op)]) for entries after ``seq``, in write order."""
        con = self.reader
        con.execute("BEGIN")
        try:
            floor = int(con.execute("SELECT value FROM meta WHERE key='log_floor'").fetchone()[0])
            rows = con.execute("SELECT seq, chunk_id, op FROM vector_log WHERE seq > ? ORDER BY rowid",
                               (seq,)).fetchall()
        finally:
            con.execute("COMMIT")
        return floor, rows

    def count_chunks(self) -> int:
        return int(self.reader.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def vectors_for(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}
        for got_ids, vecs in self.iter_vectors(ids=ids):
            out.update(zip(got_ids.tolist(), vecs, strict=True))
        return out

    # -- reads used by search (indexer.search), on this thread's reader inside its snapshot ---------
    @contextmanager
    def snapshot(self, functions: dict[str, tuple[int, Callable[..., Any]]] | None = None
                 ) -> Iterator[sqlite3.Connection]:
        """One read transaction on this thread's reader: every read inside sees the same state.
        SQLite pins it at the first read, so read :attr:`seq` where the snapshot must be taken.
        ``functions``: SQL functions (name -> (arity, fn)) the reads call."""
        con = self.reader
        for name, (arity, fn) in (functions or {}).items():
            con.create_function(name, arity, fn, deterministic=True)
        con.execute("BEGIN")
        try:
            yield con
        finally:
            con.execute("COMMIT")

    def chunk_ids_where(self, where: str, params: Sequence[Any]) -> np.ndarray:
        """Ids of the chunks whose source matches a WHERE fragment over ``sources s``."""
        rows = self.reader.execute(
            f"SELECT c.id FROM chunks c JOIN sources s ON s.id = c.source_id WHERE {where}", list(params))
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def sources_of_chunks(self, ids: Sequence[int]) -> dict[int, int]:
        """chunk id -> source id, for the chunks that still exist."""
        out: dict[int, int] = {}
        for i in range(0, len(ids), 900):
            part = list(ids[i : i + 900])
            out.update(self.reader.execute(
                f"SELECT id, source_id FROM chunks WHERE id IN ({','.join('?' * len(part))})", part).fetchall())
        return out

    def source_sort_keys(self, ids: Sequence[int]) -> dict[int, tuple[float, str]]:
        """source id -> (modified time, key) (``Store.source_sort_keys``)."""
        out: dict[int, tuple[float, str]] = {}
        for i in range(0, len(ids), 900):
            part = [int(x) for x in ids[i : i + 900]]
            rows = self.reader.execute(
                "SELECT id, CASE WHEN kind = 'file' THEN mtime ELSE indexed_at END, key FROM sources "
                f"WHERE id IN ({','.join('?' * len(part))})", part)
            out.update((int(sid), (float(t), key)) for sid, t, key in rows)
        return out

    def keyword_chunks(self, match: str, where: str, params: Sequence[Any], limit: int
                       ) -> list[tuple[int, float]]:
        """[(chunk id, -bm25)] best first for an FTS5 MATCH expression, among the sources matching
        ``where``. bm25 uses the whole table's statistics, so a chunk's score does not depend on the
        filter or the limit."""
        fts = KEYWORD_TABLES[self.keywords]
        rows = self.reader.execute(
            f"SELECT f.rowid, -bm25({fts}) AS score FROM {fts} f "
            "JOIN chunks c ON c.id = f.rowid JOIN sources s ON s.id = c.source_id "
            f"WHERE {fts} MATCH ? AND {where} ORDER BY bm25({fts}) LIMIT ?",
            [match, *params, limit]).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def find_source(self, key: str) -> int | None:
        """The id of the document with id ``key``, else of the file with path ``key``; None if neither."""
        for kind in ("doc", "file"):  # two look-ups on the (kind, key) index
            row = self.reader.execute("SELECT COALESCE(same_as, id) FROM sources WHERE kind = ? AND key = ?",
                                      (kind, key)).fetchone()
            if row is not None:
                return int(row[0])
        return None

    def source_vectors(self, source_id: int) -> np.ndarray:
        """The vectors of a source's chunks, (n, d) float32."""
        rows = self.reader.execute("SELECT id, vector FROM chunks WHERE source_id = ? ORDER BY ord",
                                   (source_id,)).fetchall()
        return _unpack(rows)[1] if rows else np.zeros((0, 0), np.float32)

    def hit_rows(self, ids: Sequence[int]) -> dict[int, HitRow]:
        """chunk id -> its row, for the chunks that still exist."""
        if not ids:
            return {}
        rows = self.reader.execute(
            "SELECT c.id, c.start, c.end, c.text, s.kind, s.key, s.metadata, c.metadata, s.root, s.id FROM chunks c "
            f"JOIN sources s ON s.id = c.source_id WHERE c.id IN ({','.join('?' * len(ids))})", list(ids)).fetchall()
        also = also_at(self.reader, (r[9] for r in rows if r[4] == "file"))
        return {r[0]: HitRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), json.loads(r[7]), r[8],
                             *also.get(r[9], ([], 0))) for r in rows}

    def count_sources(self) -> dict[str, int]:
        return dict(self.reader.execute("SELECT kind, COUNT(*) FROM sources GROUP BY kind").fetchall())


def _unpack(rows: list[tuple[int, bytes]]) -> tuple[np.ndarray, np.ndarray]:
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), -1)
    return ids, vecs.astype(np.float32)
