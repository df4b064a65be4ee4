"""The embedded store (the zero-setup default): a folder of SQLite catalog (truth) + FAISS file (derived).

Write path: one catalog transaction -> apply to the FAISS index. The catalog commit and the index
update happen under the index lock, and a search pins its SQLite snapshot and searches FAISS under
the same lock (:meth:`EmbeddedStore.reading`), so a reader sees a write completely or not at all.
Writes are serialized by the catalog's write lock.

Acknowledging: a write returns once ``catalog.sqlite3`` itself holds it, or once its number is in
``catalog.sqlite3-acked`` (a delayed or unfinished WAL checkpoint): see ``acked_writes.py``.

Open path: load the FAISS file; if it is missing, corrupt, of another shape, or behind the catalog
by more than the change log covers, rebuild it from the stored vectors; otherwise replay the log.
No path re-embeds anything. All SQL lives in ``catalog.py``, ``catalog_reads.py``, ``catalog_copies.py``
and ``sql.py`` beside this file, FAISS in ``vectors.py``.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from indexer.errors import CatalogBehindIndex, damaged_catalog
from indexer.facets import Facet, FacetCounts, ranked
from indexer.filters import Filters
from indexer.stores.base import (
    LEGACY,
    HitRow,
    SourceRow,
    SourceWrite,
    StoredSource,
    StoreMeta,
    WriteResult,
)
from indexer.stores.embedded import catalog_reads as reads
from indexer.stores.embedded.acked_writes import AckedWrites
from indexer.stores.embedded.catalog import Catalog
from indexer.stores.embedded.catalog_copies import canonical_file
from indexer.stores.embedded.indexing_lock import FileIndexingLock
from indexer.stores.embedded.layout import CATALOG_FILE, INDEX_FILE, data_dir_of
from indexer.stores.embedded.space import disk_full_answer, is_disk_full
from indexer.stores.embedded.sql import SQL_FUNCTIONS, facet_sql, facet_total_sql, filter_sql, keyword_query
from indexer.stores.embedded.tempfiles import remove_stale_temp_files
from indexer.stores.embedded.vectors import IndexFileError, VectorIndex

log = logging.getLogger(__name__)

class EmbeddedStore:
    """One collection's folder: ``catalog.sqlite3`` + ``vectors.faiss``."""

    backend = "embedded"

    def __init__(self, path: Path, *, model: str, dimension: int, index_type: str = "flat",
                 checkpoint_every: int = 50_000, wal_checkpoint_seconds: float = 0.0, language: str = "en") -> None:
        self.path = path
        self.name = path.name
        self.data_dir = data_dir_of(path)
        self.checkpoint_every = checkpoint_every
        self._closed = False
        self._new = not (path / CATALOG_FILE).exists()  # a failed create removes the folder it made
        creating = f"creating collection {self.name!r}"
        with disk_full_answer(self.data_dir, creating if self._new else "opening the collection"):
            try:
                path.mkdir(parents=True, exist_ok=True)
                self.catalog = Catalog(path / CATALOG_FILE)
            except BaseException:
                self._discard_new()
                raise
            try:
                self.acks = AckedWrites(path, self.name, self.catalog, wal_checkpoint_seconds)
                meta = self.catalog.get_meta()
                if "model" not in meta:
                    self.catalog.set_meta(model=model, dimension=dimension, index_type=index_type,
                                          created=time.time(), language=language)
                    meta = self.catalog.get_meta()
                self.acks.check()
            except BaseException as e:
                self._failed_open(e)
                raise
        self.meta = _meta(meta)
        self.analyzer = self.meta.analyzer()
        self.catalog.analyzer = self.analyzer
        self._pending_changes = 0
        self._allowed: dict[tuple[Any, ...], np.ndarray] | None = None  # filter -> chunk ids, within reading()
        self.vectors: VectorIndex | None = None

    def load(self) -> None:
        """Load (or repair) the FAISS index. Separate from ``__init__`` so a model mismatch is refused
        before anything is rebuilt."""
        creating = f"creating collection {self.name!r}"
        with disk_full_answer(self.data_dir, creating if self._new else "loading the vector index"):
            try:
                self.vectors = self._open_vectors()
            except BaseException as e:
                self._failed_open(e)
                raise
        self._new = False

    def _failed_open(self, e: BaseException) -> None:
        """Opening failed with ``e`` after the catalog was opened: close it, remove the folder of a
        collection being created, and raise a damaged catalog's error for an SQLite error other than a
        full disk (the caller re-raises ``e`` otherwise)."""
        self.catalog.close()
        self._discard_new()
        if isinstance(e, sqlite3.DatabaseError) and not is_disk_full(e, self.data_dir):
            raise damaged_catalog(self.name, e) from e

    def _discard_new(self) -> None:
        """Remove the folder of a collection whose creation failed (a full disk ...): no half-made
        collection is left to be reported damaged after a restart."""
        if self._new:
            shutil.rmtree(self.path, ignore_errors=True)

    @property
    def index(self) -> VectorIndex:
        assert self.vectors is not None, "load() first"
        return self.vectors

    # -- the vector index: load, rebuild, catch up -----------------------------------------------------
    def _open_vectors(self) -> VectorIndex:
        file = self.path / INDEX_FILE
        remove_stale_temp_files(self.path)
        seq = self.catalog.seq
        dim, index_type = self.meta.dimension, self.meta.index_type
        try:
            index = VectorIndex.load(file, dim, index_type)
        except IndexFileError as e:
            if self.catalog.count_chunks() or file.exists():
                log.warning("%s: %s; rebuilding the vector index from the catalog (no re-embedding)", self.name, e)
            return self._rebuild(seq)
        if index.seq > seq:  # never rebuild from a catalog older than the vectors: that destroys them
            self.catalog.close()
            raise CatalogBehindIndex(self.name, seq, index.seq)
        if index.seq < seq and not self._catch_up(index):
            log.warning("%s: vector index too old for the change log; rebuilding", self.name)
            return self._rebuild(seq)
        if index.ntotal != self.catalog.count_chunks():
            log.warning("%s: vector index holds %d vectors, catalog %d chunks; rebuilding", self.name,
                        index.ntotal, self.catalog.count_chunks())
            return self._rebuild(self.catalog.seq)
        if index.seq != seq:
            self._checkpoint(index)
        return index

    def _rebuild(self, seq: int, *, save: bool = True) -> VectorIndex:
        index = VectorIndex(self.meta.dimension, self.meta.index_type)
        with self.catalog.write_lock:  # no write may slip in between reading and recording seq
            seq = self.catalog.seq
            for ids, vecs in self.catalog.iter_vectors():
                index.add(ids, vecs)
            index.seq = seq
        if save:
            self._checkpoint(index)
        return index

    def _catch_up(self, index: VectorIndex) -> bool:
        """Replay the catalog's change log onto ``index``. False if the log no longer covers it."""
        floor, rows = self.catalog.log_since(index.seq)
        if index.seq < floor:
            return False
        if not rows:
            return True
        removed = {cid for _, cid, op in rows if op < 0}
        added = [cid for _, cid, op in rows if op > 0 and cid not in removed]
        vecs = self.catalog.vectors_for(added)
        ids = np.fromiter((i for i in added if i in vecs), dtype=np.int64)
        with index.lock:
            index.remove(np.fromiter(removed, dtype=np.int64))
            if len(ids):
                index.add(ids, np.stack([vecs[int(i)] for i in ids]))
            index.seq = max(r[0] for r in rows)
        return True

    def refresh(self) -> None:
        if self.catalog.seq != self.index.seq:
            with self.catalog.write_lock:
                self._sync_vectors()

    def _sync_vectors(self) -> None:
        """Bring the vector index to the catalog's sequence. The caller holds the write lock."""
        if self.catalog.seq == self.index.seq:
            return
        with self.index.lock:
            if not self._catch_up(self.index):
                self.vectors = self._rebuild(self.catalog.seq)

    def _checkpoint(self, index: VectorIndex | None = None) -> None:
        index = index or self.index
        # The catalog's commits reach disk (WAL synced, pages copied) before a vector file that reflects
        # them does, so even a power loss cannot leave the vectors ahead of the catalog.
        self.acks.move_wal()
        with index.lock:
            seq = index.seq
            index.save(self.path / INDEX_FILE, seq)
        self.catalog.prune_log(seq)
        self._pending_changes = 0

    def checkpoint(self) -> None:
        """Write the FAISS file now and move the catalog's WAL into ``catalog.sqlite3``. Errors are
        logged: what was committed stays committed."""
        with self.catalog.write_lock:
            self.acks.move_wal("TRUNCATE")
            if self.acks.unsaved:  # readers still pinned an older state: wait for them
                self.acks.move_wal("FULL")
        if self.vectors is not None and self.index.seq != int(self.catalog.get_meta().get("log_floor", 0)):
            self._checkpoint_after_commit()

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.checkpoint()
        finally:
            self._closed = True
            self.acks.close()
            self.catalog.close()

    def indexing_lock(self) -> FileIndexingLock:
        return FileIndexingLock(self.path)

    # -- writing -------------------------------------------------------------------------------------
    def write(self, upserts: Sequence[SourceWrite] = (), deletes: Sequence[tuple[str, str]] = (),
              touches: Sequence[tuple[str, float]] = ()) -> WriteResult:
        """Commit one batch to the catalog and the vector index together; back once catalog.sqlite3
        holds it (see the module's docstring). A full disk is :class:`DiskFull`, nothing written."""
        with disk_full_answer(self.data_dir, "the write"), self.catalog.write_lock:
            self._sync_vectors()
            with self.index.lock:
                res = self.catalog.write(upserts, deletes, touches)
                # Committed: from here on nothing may answer an error (the catalog is the truth).
                try:
                    self.index.apply(res.added_ids, res.added_vectors, res.removed_ids, res.seq)
                except Exception:
                    log.exception("%s: applying write %d to the vector index failed; rebuilding it from the "
                                  "catalog", self.name, res.seq)
                    self.vectors = self._rebuild(res.seq, save=False)
            self._pending_changes += res.chunks_added + res.chunks_removed
            if self._pending_changes >= self.checkpoint_every or self.index.needs_rebuild:
                self._checkpoint_after_commit()  # (the vector file is saved after the WAL is checkpointed)
            self.acks.acknowledge(res.seq)
        return res

    def _checkpoint_after_commit(self) -> None:
        """Save the vector file after a committed write; a failure (disk full ...) is logged, not raised:
        the write is safe in the catalog and the file is written again at the next checkpoint."""
        try:
            self._checkpoint()
        except Exception:
            log.exception("%s: saving the vector index failed; it is retried at the next checkpoint", self.name)

    # -- sync, documents, counts -----------------------------------------------------------------------
    def file_states(self, prefix: str) -> dict[str, tuple[int, float, str, bool]]:
        return reads.file_states(self.catalog.reader, prefix)

    def has_source(self, kind: str, key: str) -> bool:
        return reads.has_source(self.catalog.reader, kind, key)

    def canonical_file(self, sha256: str) -> str | None:
        return canonical_file(self.catalog.reader, sha256)

    def chunk_spans(self, kind: str, key: str) -> list[tuple[int, int, int]]:
        return self.catalog.chunk_spans(kind, key)

    def source_hashes(self, kind: str, keys: Sequence[str]) -> dict[str, str]:
        return reads.source_hashes(self.catalog.reader, kind, keys)

    def source_keys(self) -> dict[str, str]:
        return reads.source_keys(self.catalog.reader)

    def list_sources(self, *, kind: str | None, offset: int, limit: int) -> tuple[list[SourceRow], int]:
        return reads.list_sources(self.catalog.reader, kind=kind, offset=offset, limit=limit)

    def stored_source(self, key: str, kinds: Sequence[str]) -> StoredSource | None:
        return reads.stored_source(self.catalog.reader, key, kinds)

    def count_chunks(self) -> int:
        return self.catalog.count_chunks()

    def count_sources(self) -> dict[str, int]:
        return self.catalog.count_sources()

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())

    @property
    def seq(self) -> int:
        return self.catalog.seq

    # -- retrieval -----------------------------------------------------------------------------------
    @contextmanager
    def reading(self) -> Iterator[None]:
        """Pin one SQLite snapshot and hold the index lock for the batch: FAISS and the catalog agree."""
        with self.catalog.snapshot(SQL_FUNCTIONS), self.index.lock:
            self.catalog.seq  # noqa: B018 - the first read pins the snapshot
            self._allowed = {}
            try:
                yield
            finally:
                self._allowed = None

    def _allowed_ids(self, filters: Filters) -> np.ndarray | None:
        if filters.is_empty():
            return None
        where, params = filter_sql(filters)
        key = (where, *map(repr, params))
        cache = self._allowed if self._allowed is not None else {}
        if key not in cache:
            cache[key] = self.catalog.chunk_ids_where(where, params)
        return cache[key]

    def dense_chunks(self, qvec: np.ndarray, k: int, filters: Filters) -> list[tuple[int, float]]:
        return self.index.search(qvec.reshape(1, -1), k, self._allowed_ids(filters))[0]

    def keyword_chunks(self, text: str, k: int, filters: Filters) -> list[tuple[int, float]]:
        match = keyword_query(text, self.analyzer)
        if match is None:
            return []
        where, params = filter_sql(filters)
        return self.catalog.keyword_chunks(match, where, params, k)

    def sources_of_chunks(self, ids: Sequence[int]) -> dict[int, int]:
        return self.catalog.sources_of_chunks(ids)

    def source_sort_keys(self, ids: Sequence[int]) -> dict[int, tuple[float, str]]:
        return self.catalog.source_sort_keys(ids)

    def facet_counts(self, facet: Facet, filters: Filters, sources: Sequence[int] | None = None) -> FacetCounts:
        sql, params = facet_sql(facet, filters, sources)
        total_sql, total_params = facet_total_sql(filters, sources)
        with self.catalog.snapshot(SQL_FUNCTIONS) as con:
            groups = con.execute(sql, params).fetchall()
            total = con.execute(total_sql, total_params).fetchone()[0]
        if facet.field == "metadata":  # JSON text, so a boolean comes back a boolean
            groups = [(json.loads(v), n) for v, n in groups]
        return FacetCounts(facet.name, ranked(groups, facet.top), int(total))

    def hit_rows(self, ids: Sequence[int]) -> dict[int, HitRow]:
        return self.catalog.hit_rows(ids)

    def vectors_for(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        return self.catalog.vectors_for(ids)

    def find_source(self, key: str) -> int | None:
        return self.catalog.find_source(key)

    def source_vectors(self, source_id: int) -> np.ndarray:
        return self.catalog.source_vectors(source_id)

    def chunk_ids(self) -> np.ndarray:
        return reads.chunk_ids(self.catalog.reader)

    def map_rows(self, ids: Sequence[int], preview_chars: int) -> list[dict[str, Any]]:
        return reads.map_rows(self.catalog.reader, ids, preview_chars)


def _meta(meta: dict[str, str]) -> StoreMeta:
    return meta_of(meta)


def meta_of(meta: dict[str, str]) -> StoreMeta:
    """The StoreMeta of a catalog's meta table (one made before languages: English, its legacy index)."""
    return StoreMeta(meta.get("model", "?"), int(meta.get("dimension", 0)), meta.get("index_type", "flat"),
                     float(meta.get("created", 0)), language=meta.get("language", "en"),
                     keywords=meta.get("keywords", LEGACY))
