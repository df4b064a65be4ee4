"""Collection = catalog (truth) + vector index (derived) + embedder: the unit everything works on.

Write path (files and documents): read -> chunk -> embed (outside any lock) -> one catalog
transaction -> apply to the FAISS index. The catalog commit and the index update happen under the
index lock, and a query pins its SQLite snapshot and searches FAISS under the same lock, so a reader
sees a write completely or not at all. Writes are serialized by the catalog's write lock.

Open path: load the FAISS file; if it is missing, corrupt, of another shape, or behind the catalog
by more than the change log covers, rebuild it from the stored vectors; otherwise replay the log.
No path re-embeds anything.

Over 400 lines because it still holds the folder-sync and ranking recipes; issue 15 moves them into
``indexer/sync.py`` and ``indexer/search.py`` (in progress on other branches), leaving the facade.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexer import search
from indexer.catalog import Catalog, SourceRow, SourceWrite, source_row
from indexer.chunking import Chunk, iter_chunks
from indexer.described import described
from indexer.embedding import Embedder
from indexer.errors import (
    CatalogBehindIndex,
    CollectionExists,
    CollectionNotFound,
    CorruptCollection,
    DocumentNotFound,
    InvalidInput,
    ModelMismatch,
    damaged_catalog,
)
from indexer.search import Hits, Like, Query, SearchOptions
from indexer.search.options import DEFAULT_MAX_K, DEFAULT_MAX_QUERY_CHARS
from indexer.sync import FolderSync, IndexReport, Progress
from indexer.tempfiles import remove_stale_temp_files
from indexer.vectors import IndexFileError, VectorIndex
from indexer.walk import path_key

log = logging.getLogger(__name__)

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"  # a collection's name (the API's schemas use this too)
NAME_RE = re.compile(NAME_PATTERN)
CATALOG_FILE = "catalog.sqlite3"
INDEX_FILE = "vectors.faiss"


@dataclass
class Limits:
    """Every indexing limit is a setting (see app.settings for the SEMSEARCH_ names)."""

    max_file_bytes: int = 20 * 1024 * 1024
    chunk_overlap: int = 32  # tokens shared by consecutive windows
    batch_chunks: int = 256  # chunks embedded and committed together
    embed_batch_size: int = 32
    checkpoint_every: int = 50_000  # logged vector changes before the FAISS file is rewritten
    # A write moves the catalog's WAL into catalog.sqlite3 at once if the last such move is this old,
    # else a timer does it this long after the last one: bursts of small writes pay one fsync per period.
    wal_checkpoint_seconds: float = 1.0
    max_k: int = DEFAULT_MAX_K  # the largest offset + k a search may ask for
    max_query_chars: int = DEFAULT_MAX_QUERY_CHARS


@dataclass
class CollectionInfo:
    """A collection's model, counts and size (also the HTTP API's response model)."""

    name: str = described("The collection's name")
    model: str = described("The model its vectors were made with")
    dimension: int = described("Dimensions of its vectors")
    index_type: str = described("flat (exact) or hnsw (approximate)")
    files: int = described("Indexed files")
    documents: int = described("Documents added through the API")
    chunks: int = described("Searchable passages (one vector each)")
    size_bytes: int = described("Size on disk")
    created: float = described("Unix time")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Document:
    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def id_problem(doc_id: str) -> str | None:
    """Why ``doc_id`` cannot be a document id, or None. Ids with control characters (newline, tab,
    NUL ...) are refused rather than stored: they cannot travel in a URL path, a log line or a CLI
    argument intact, so such a document could never be fetched or deleted on its own."""
    m = _CONTROL_RE.search(doc_id)
    if m is None:
        return None
    return (f"document id {doc_id[:80]!r} contains the control character {m.group()!r} at position {m.start()}; "
            "ids may not contain control characters (U+0000-U+001F, U+007F-U+009F)")


def validate_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise InvalidInput(
            f"Collection name {name!r} is not allowed: use 1-64 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit.", field="name")
    return name


def collections_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "collections"


def list_collection_names(data_dir: Path) -> list[str]:
    root = collections_dir(data_dir)
    if not root.is_dir():
        return []
    # (a restore's hidden staging folder holds a catalog too, but is no collection: NAME_RE)
    return sorted(p.name for p in root.iterdir() if NAME_RE.fullmatch(p.name) and (p / CATALOG_FILE).exists())


def delete_collection(data_dir: Path, name: str) -> None:
    path = collections_dir(data_dir) / validate_name(name)
    if not (path / CATALOG_FILE).exists():
        raise CollectionNotFound(name, list_collection_names(data_dir))
    shutil.rmtree(path)


class Collection:
    """One searchable collection on disk. Thread-safe: many readers, one writer at a time."""

    def __init__(self, path: Path, embedder: Embedder, *, index_type: str = "flat",
                 limits: Limits | None = None) -> None:
        self.path = path
        self.name = path.name
        self.embedder = embedder
        self.limits = limits or Limits()
        path.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(path / CATALOG_FILE)
        try:
            self._open(index_type)
        except sqlite3.DatabaseError as e:
            self.catalog.close()
            raise damaged_catalog(self.name, e) from e

    def _open(self, index_type: str) -> None:
        embedder = self.embedder
        meta = self.catalog.get_meta()
        if "model" not in meta:
            self.catalog.set_meta(model=embedder.name, dimension=embedder.dimension, index_type=index_type,
                                  created=time.time())
            meta = self.catalog.get_meta()
        if meta["model"] != embedder.name or int(meta["dimension"]) != embedder.dimension:
            self.catalog.close()
            raise ModelMismatch(self.name, meta["model"], int(meta["dimension"]), embedder.name, embedder.dimension)
        self.model = meta["model"]
        self.dimension = int(meta["dimension"])
        self.index_type = meta.get("index_type", "flat")
        self.created = float(meta.get("created", 0))
        self._pending_changes = 0
        self._last_checkpoint = time.monotonic()
        self._wal_moved = float("-inf")  # monotonic time of the last WAL checkpoint
        self._wal_timer: threading.Timer | None = None
        self._closed = False
        self.vectors = self._open_vectors()

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, data_dir: Path | str, name: str, embedder: Embedder, *, create: bool = True,
             index_type: str = "flat", limits: Limits | None = None) -> Collection:
        """Open (and by default create) collection ``name`` under ``data_dir``."""
        path = collections_dir(Path(data_dir)) / validate_name(name)
        if not (path / CATALOG_FILE).exists() and not create:
            raise CollectionNotFound(name, list_collection_names(Path(data_dir)))
        return cls(path, embedder, index_type=index_type, limits=limits)

    @classmethod
    def create(cls, data_dir: Path | str, name: str, embedder: Embedder, *, index_type: str = "flat",
               limits: Limits | None = None) -> Collection:
        path = collections_dir(Path(data_dir)) / validate_name(name)
        if (path / CATALOG_FILE).exists():
            raise CollectionExists(name)
        return cls(path, embedder, index_type=index_type, limits=limits)

    def _open_vectors(self) -> VectorIndex:
        file = self.path / INDEX_FILE
        remove_stale_temp_files(self.path)
        seq = self.catalog.seq
        try:
            index = VectorIndex.load(file, self.dimension, self.index_type)
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
        index = VectorIndex(self.dimension, self.index_type)
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
        """Pick up writes made by another process (e.g. the CLI indexing while the server runs)."""
        if self.catalog.seq != self.vectors.seq:
            with self.catalog.write_lock:
                self._sync_vectors()

    def _sync_vectors(self) -> None:
        """Bring the vector index to the catalog's sequence. The caller holds the write lock."""
        if self.catalog.seq == self.vectors.seq:
            return
        with self.vectors.lock:
            if not self._catch_up(self.vectors):
                self.vectors = self._rebuild(self.catalog.seq)

    def _checkpoint(self, index: VectorIndex | None = None) -> None:
        index = index or self.vectors
        # The catalog's commits reach disk (WAL synced, pages copied) before a vector file that reflects
        # them does, so even a power loss cannot leave the vectors ahead of the catalog.
        self._move_wal()
        with index.lock:
            seq = index.seq
            index.save(self.path / INDEX_FILE, seq)
        self.catalog.prune_log(seq)
        self._pending_changes = 0
        self._last_checkpoint = time.monotonic()

    def checkpoint(self) -> None:
        """Write the FAISS file now (it is also written after each indexing run and on close) and move
        the catalog's WAL into ``catalog.sqlite3``. Errors are logged: what was committed stays committed."""
        with self.catalog.write_lock:
            self._move_wal("TRUNCATE")
        if self.vectors.seq != self._saved_seq():
            self._checkpoint_after_commit()

    def _saved_seq(self) -> int:
        return int(self.catalog.get_meta().get("log_floor", 0))

    def close(self) -> None:
        try:
            self.checkpoint()
        finally:
            with self.catalog.write_lock:
                self._closed = True
                if self._wal_timer is not None:
                    self._wal_timer.cancel()
            self.catalog.close()

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------------
    def chunk(self, text: str, part_starts: Sequence[int] = ()) -> list[Chunk]:
        """Chunks of ``text`` (see :meth:`iter_chunks`)."""
        return list(self.iter_chunks(text, part_starts))

    def iter_chunks(self, text: str, part_starts: Sequence[int] = ()) -> Iterator[Chunk]:
        """The chunks of a text, tokenized a segment at a time (see :func:`indexer.chunking.iter_chunks`).
        Given where its parts start (pages, slides, messages: ``readers.Part``), no chunk crosses from
        one part into the next, so each chunk carries one part's metadata."""
        bounds = sorted({0, len(text), *(s for s in part_starts if 0 < s < len(text))})
        ord_ = 0
        for a, b in itertools.pairwise(bounds):
            for c in iter_chunks(text[a:b], self.embedder.token_offsets, max_tokens=self.embedder.max_seq_length - 2,
                                 overlap=self.limits.chunk_overlap):
                yield Chunk(ord_, c.start + a, c.end + a, c.text, c.tokens)
                ord_ += 1

    def commit(self, upserts: Sequence[SourceWrite] = (), deletes: Sequence[tuple[str, str]] = (),
               touches: Sequence[tuple[str, float]] = ()) -> tuple[int, int]:
        """Commit one batch to the catalog and the vector index together. Returns (added, removed) chunks."""
        with self.catalog.write_lock:
            self._sync_vectors()
            with self.vectors.lock:
                res = self.catalog.write(upserts, deletes, touches)
                # Committed: from here on nothing may answer an error (the catalog is the truth).
                try:
                    self.vectors.apply(res.added_ids, res.added_vectors, res.removed_ids, res.seq)
                except Exception:
                    log.exception("%s: applying write %d to the vector index failed; rebuilding it from the "
                                  "catalog", self.name, res.seq)
                    self.vectors = self._rebuild(res.seq, save=False)
            self._pending_changes += res.chunks_added + res.chunks_removed
            if self._pending_changes >= self.limits.checkpoint_every or self.vectors.needs_rebuild:
                self._checkpoint_after_commit()  # (checkpoints the WAL first)
            else:
                self._move_wal_soon()
        return res.chunks_added, res.chunks_removed

    def _move_wal_soon(self) -> None:
        """Checkpoint the WAL now, or within ``wal_checkpoint_seconds`` (caller holds the write lock)."""
        wait = self._wal_moved + self.limits.wal_checkpoint_seconds - time.monotonic()
        if wait <= 0:
            self._move_wal()
        elif self._wal_timer is None:
            self._wal_timer = threading.Timer(wait, self._move_wal_later)
            self._wal_timer.daemon = True
            self._wal_timer.start()

    def _move_wal_later(self) -> None:
        with self.catalog.write_lock:
            self._wal_timer = None
            if not self._closed:
                self._move_wal()

    def _move_wal(self, mode: str = "PASSIVE") -> None:
        self.catalog.checkpoint_wal(mode)
        self._wal_moved = time.monotonic()

    def _checkpoint_after_commit(self) -> None:
        """Save the vector file after a committed write; a failure (disk full ...) is logged, not raised:
        the write is safe in the catalog and the file is written again at the next checkpoint."""
        try:
            self._checkpoint()
        except Exception:
            log.exception("%s: saving the vector index failed; it is retried at the next checkpoint", self.name)

    def embed_writes(self, items: list[tuple[SourceWrite, str]]) -> list[SourceWrite]:
        texts = [c.text for w, _ in items for c in w.chunks]
        vecs = self.embedder.embed(texts, batch_size=self.limits.embed_batch_size)
        at = 0
        for w, _ in items:
            w.vectors = vecs[at : at + len(w.chunks)]
            at += len(w.chunks)
        return [w for w, _ in items]

    def index_folder(self, root: Path | str, *, progress: Callable[[Progress], None] | None = None,
                     cancel: threading.Event | None = None) -> IndexReport:
        """Bring the collection in line with the files under ``root`` (see :mod:`indexer.sync`)."""
        return FolderSync(self, Path(root), progress=progress, cancel=cancel).run()

    def file_states(self, root: Path) -> dict[str, tuple[int, float, str, bool]]:
        """key -> (size, mtime, sha256, partial) of the indexed files under ``root``."""
        prefix = str(root).rstrip("/") + "/"
        rows = self.catalog.reader.execute(
            "SELECT key, size, mtime, sha256, partial FROM sources WHERE kind='file' AND substr(key, 1, ?) = ?",
            (len(prefix), prefix))
        return {key: (size, mtime, sha, bool(partial)) for key, size, mtime, sha, partial in rows}

    def remove_path(self, path: Path | str) -> int:
        """Drop a file's chunks (or every file under a folder). Returns the number of files removed."""
        key = path_key(Path(path).expanduser().absolute())
        keys = list(self.file_states(Path(key)))
        row = self.catalog.reader.execute("SELECT 1 FROM sources WHERE kind='file' AND key=?", (key,)).fetchone()
        if row:
            keys.append(key)
        if keys:
            self.commit(deletes=[("file", k) for k in keys])
            self.checkpoint()
        return len(keys)

    # -- documents ---------------------------------------------------------------------------------
    def upsert_documents(self, docs: Iterable[Document | dict[str, Any]]) -> dict[str, int]:
        """Add or replace documents by id (chunked and embedded like files). Unchanged ones cost nothing."""
        batch = [d if isinstance(d, Document) else Document(**d) for d in docs]
        ids = [d.id for d in batch]
        for problem in filter(None, map(id_problem, ids)):
            raise InvalidInput(problem, field="documents.id")
        if len(set(ids)) != len(ids):
            raise InvalidInput("document ids must be unique within one request", field="documents")
        existing = dict(self.catalog.reader.execute(
            f"SELECT key, sha256 FROM sources WHERE kind='doc' AND key IN ({','.join('?' * len(ids))})", ids
        ).fetchall()) if ids else {}
        items: list[tuple[SourceWrite, str]] = []
        counts = {"added": 0, "updated": 0, "unchanged": 0, "chunks": 0}
        for d in batch:
            sha = hashlib.sha256(json.dumps([d.text, d.metadata], sort_keys=True).encode()).hexdigest()
            if existing.get(d.id) == sha:
                counts["unchanged"] += 1
                continue
            chunks = self.chunk(d.text)
            if not chunks:
                raise InvalidInput(f"document {d.id!r} has no text to index", field="documents.text")
            items.append((SourceWrite(kind="doc", key=d.id, sha256=sha, chunks=chunks,
                                      vectors=np.zeros((0, 0), np.float32), metadata=d.metadata, text=d.text),
                          "updated" if d.id in existing else "added"))
        if items:
            added, _ = self.commit(self.embed_writes(items))
            counts["chunks"] = added
            for _, status in items:
                counts[status] += 1
        return counts

    def get_document(self, doc_id: str) -> Document:
        row = self.catalog.reader.execute(
            "SELECT key, text, metadata FROM sources WHERE kind='doc' AND key=?", (doc_id,)).fetchone()
        if row is None:
            raise DocumentNotFound(doc_id)
        return Document(row[0], row[1], json.loads(row[2]))

    def delete_documents(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        present = [r[0] for r in self.catalog.reader.execute(
            f"SELECT key FROM sources WHERE kind='doc' AND key IN ({','.join('?' * len(ids))})", list(ids))]
        if present:
            self.commit(deletes=[("doc", k) for k in present])
        return len(present)

    def list_sources(self, *, kind: str | None = None, offset: int = 0, limit: int = 100
                     ) -> tuple[list[SourceRow], int]:
        where = "WHERE s.kind = ?" if kind else ""
        params: list[Any] = [kind] if kind else []
        con = self.catalog.reader
        total = con.execute(f"SELECT COUNT(*) FROM sources s {where}", params).fetchone()[0]
        rows = con.execute(
            "SELECT s.id, s.kind, s.key, s.ext, s.size, s.mtime, s.sha256, s.metadata, s.indexed_at, "
            f"(SELECT COUNT(*) FROM chunks c WHERE c.source_id = s.id) FROM sources s {where} "
            "ORDER BY s.key LIMIT ? OFFSET ?", [*params, limit, offset]).fetchall()
        return [source_row(r) for r in rows], int(total)

    # -- reading -----------------------------------------------------------------------------------
    def search(self, query: str | None = None, *, like: str | None = None, **options: Any) -> Hits:
        """One query - words, or ``like`` an indexed document id or file path; see :meth:`search_batch`."""
        return self.search_batch([Like(like) if like is not None else query or ""], **options)[0]

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """The query vectors :meth:`search_batch` would compute (this collection's model, search
        precision)."""
        return self.embedder.embed_queries(queries)

    def search_batch(self, queries: Sequence[Query], *, options: SearchOptions | None = None,
                     vectors: np.ndarray | None = None, **kw: Any) -> list[Hits]:
        """Rank this collection's files and documents for each query (words, or :class:`Like` an
        indexed source); the recipe is :func:`indexer.search.search_batch`. ``vectors``: the queries'
        vectors from :meth:`embed_queries`, when the caller computed them first."""
        opts = options or SearchOptions(**kw)
        opts.check(max_k=self.limits.max_k)
        self.refresh()
        return search.search_batch(self.catalog, self.vectors, self.embed_queries, self.embedder.dimension,
                                   queries, opts, vectors, max_k=self.limits.max_k,
                                   max_query_chars=self.limits.max_query_chars)

    def info(self) -> CollectionInfo:
        return _info(self.path, self.catalog)


def _info(path: Path, catalog: Catalog) -> CollectionInfo:
    meta = catalog.get_meta()
    counts = dict(catalog.reader.execute("SELECT kind, COUNT(*) FROM sources GROUP BY kind").fetchall())
    size = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    return CollectionInfo(path.name, meta.get("model", "?"), int(meta.get("dimension", 0)),
                          meta.get("index_type", "flat"), counts.get("file", 0), counts.get("doc", 0),
                          catalog.count_chunks(), size, float(meta.get("created", 0)))


def read_info(data_dir: Path | str, name: str) -> CollectionInfo:
    """A collection's counts, model and size, without loading any model. A damaged catalog is a
    ``CorruptCollection`` that says how to recover, never a raw ``sqlite3`` error."""
    path = collections_dir(Path(data_dir)) / validate_name(name)
    if not (path / CATALOG_FILE).exists():
        raise CollectionNotFound(name, list_collection_names(Path(data_dir)))
    catalog = Catalog(path / CATALOG_FILE)
    try:
        return _info(path, catalog)
    except sqlite3.DatabaseError as e:
        raise damaged_catalog(name, e) from e
    finally:
        catalog.close()


def scan_collections(data_dir: Path | str) -> tuple[list[CollectionInfo], dict[str, str]]:
    """(healthy collections' infos, {damaged name: why}): one damaged catalog hides no other."""
    infos: list[CollectionInfo] = []
    bad: dict[str, str] = {}
    for name in list_collection_names(Path(data_dir)):
        try:
            infos.append(read_info(data_dir, name))
        except CollectionNotFound:
            continue  # removed meanwhile
        except CorruptCollection as e:
            bad[name] = e.message
    return infos, bad
