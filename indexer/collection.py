"""Collection = catalog (truth) + vector index (derived) + embedder: the unit everything works on.

Write path (files and documents): read -> chunk -> embed (outside any lock) -> one catalog
transaction -> apply to the FAISS index. The catalog commit and the index update happen under the
index lock, and a query pins its SQLite snapshot and searches FAISS under the same lock, so a reader
sees a write completely or not at all. Writes are serialized by the catalog's write lock.

Open path: load the FAISS file; if it is missing, corrupt, of another shape, or behind the catalog
by more than the change log covers, rebuild it from the stored vectors; otherwise replay the log.
No path re-embeds anything.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexer.catalog import Catalog, SourceRow, SourceWrite, source_row
from indexer.chunking import Chunk, chunk_text, iter_chunks
from indexer.embedder import Embedder
from indexer.errors import (
    CollectionExists,
    CollectionNotFound,
    DocumentNotFound,
    InvalidInput,
    ModelMismatch,
)
from indexer.search import (
    MODES,
    Hits,
    SearchOptions,
    allowed_chunk_ids,
    build_hits,
    dense_ranking,
    fuse,
    keyword_ranking,
    register_functions,
)
from indexer.sync import FolderSync, IndexReport, Progress
from indexer.vectors import IndexFileError, VectorIndex
from indexer.walk import path_key

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
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


@dataclass
class CollectionInfo:
    name: str
    model: str
    dimension: int
    index_type: str
    files: int
    documents: int
    chunks: int
    size_bytes: int
    created: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Document:
    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


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
    return sorted(p.name for p in root.iterdir() if (p / CATALOG_FILE).exists())


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
        seq = self.catalog.seq
        try:
            index = VectorIndex.load(file, self.dimension, self.index_type)
        except IndexFileError as e:
            if self.catalog.count_chunks() or file.exists():
                log.warning("%s: %s; rebuilding the vector index from the catalog (no re-embedding)", self.name, e)
            return self._rebuild(seq)
        if index.seq > seq:
            log.warning("%s: vector index is ahead of the catalog (seq %d > %d); rebuilding", self.name, index.seq, seq)
            return self._rebuild(seq)
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

    def _rebuild(self, seq: int) -> VectorIndex:
        index = VectorIndex(self.dimension, self.index_type)
        with self.catalog.write_lock:  # no write may slip in between reading and recording seq
            seq = self.catalog.seq
            for ids, vecs in self.catalog.iter_vectors():
                index.add(ids, vecs)
            index.seq = seq
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
        with index.lock:
            seq = index.seq
            index.save(self.path / INDEX_FILE, seq)
        self.catalog.prune_log(seq)
        self._pending_changes = 0
        self._last_checkpoint = time.monotonic()

    def checkpoint(self) -> None:
        """Write the FAISS file now (it is also written after each indexing run and on close)."""
        if self.vectors.seq != self._saved_seq():
            self._checkpoint()

    def _saved_seq(self) -> int:
        return int(self.catalog.get_meta().get("log_floor", 0))

    def close(self) -> None:
        try:
            self.checkpoint()
        finally:
            self.catalog.close()

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------------
    def chunk(self, text: str) -> list[Chunk]:
        return chunk_text(text, self.embedder.token_offsets(text), max_tokens=self.embedder.max_seq_length - 2,
                          overlap=self.limits.chunk_overlap)

    def iter_chunks(self, text: str) -> Iterator[Chunk]:
        """The chunks of a file's text, tokenized a segment at a time (see :func:`iter_chunks`)."""
        return iter_chunks(text, self.embedder.token_offsets, max_tokens=self.embedder.max_seq_length - 2,
                           overlap=self.limits.chunk_overlap)

    def commit(self, upserts: Sequence[SourceWrite] = (), deletes: Sequence[tuple[str, str]] = (),
               touches: Sequence[tuple[str, float]] = ()) -> tuple[int, int]:
        """Commit one batch to the catalog and the vector index together. Returns (added, removed) chunks."""
        with self.catalog.write_lock:
            self._sync_vectors()
            with self.vectors.lock:
                res = self.catalog.write(upserts, deletes, touches)
                self.vectors.apply(res.added_ids, res.added_vectors, res.removed_ids, res.seq)
            self._pending_changes += res.chunks_added + res.chunks_removed
            if self._pending_changes >= self.limits.checkpoint_every or self.vectors.needs_rebuild:
                self._checkpoint()
        return res.chunks_added, res.chunks_removed

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
    def search(self, query: str, **options: Any) -> Hits:
        """One query; see :meth:`search_batch`."""
        return self.search_batch([query], **options)[0]

    def embed_queries(self, queries: Sequence[str], *, busy: bool = False) -> np.ndarray:
        """The query vectors :meth:`search_batch` would compute (this collection's model, search
        precision). ``busy=True``: other searches are in flight, so the forward pass stays on one core
        (see :meth:`Embedder.embed_queries`)."""
        return self.embedder.embed_queries(queries, busy=busy)

    def search_batch(self, queries: Sequence[str], *, options: SearchOptions | None = None,
                     vectors: np.ndarray | None = None, **kw: Any) -> list[Hits]:
        """Rank this collection's files and documents for each query (modes: dense, keyword, hybrid).

        The queries share one embedding call and one read snapshot, so a server that groups concurrent
        requests pays the per-search costs once. ``vectors``: the queries' vectors from
        :meth:`embed_queries`, when the caller computed them first."""
        opts = options or SearchOptions(**kw)
        if opts.mode not in MODES:
            raise InvalidInput(f"mode must be one of {', '.join(MODES)}, not {opts.mode!r}", field="mode")
        if opts.k < 1:
            raise InvalidInput("k must be at least 1", field="k")
        if not queries:
            return []
        depth = opts.offset + opts.k
        qvecs = None
        if opts.mode != "keyword":
            qvecs = self.embed_queries(queries) if vectors is None else np.asarray(vectors, dtype=np.float32)
            if qvecs.shape != (len(queries), self.embedder.dimension):
                raise InvalidInput(f"vectors must have shape ({len(queries)}, {self.embedder.dimension}), "
                                   f"not {qvecs.shape}", field="vectors")
        self.refresh()
        con = self.catalog.reader
        register_functions(con)
        results: list[Hits] = []
        con.execute("BEGIN")
        try:
            dense: list[list[tuple[int, float, int]]] = []
            with self.vectors.lock:  # pin the snapshot and search FAISS at the same state
                con.execute("SELECT value FROM meta WHERE key='seq'").fetchone()
                if qvecs is not None:
                    allowed = allowed_chunk_ids(con, opts.filters)
                    d = depth if opts.mode == "dense" else max(depth, opts.candidates)
                    dense = [dense_ranking(con, self.vectors, qvecs[qi : qi + 1], d, allowed)
                             for qi in range(len(queries))]
            for qi, query in enumerate(queries):
                rankings: dict[str, list[tuple[int, float, int]]] = {}
                if qvecs is not None:
                    rankings["dense"] = dense[qi]
                if opts.mode != "dense":
                    d = depth if opts.mode == "keyword" else max(depth, opts.candidates)
                    rankings["keyword"] = keyword_ranking(con, query, d, opts.filters)
                if opts.mode == "hybrid":
                    fused = fuse(rankings, {"dense": opts.dense_weight, "keyword": opts.keyword_weight}, opts.rrf_k,
                                 method=opts.fusion)
                    ranked: list[tuple[int, float, int, dict[str, Any] | None]] = [
                        (sid, sc, cid, {**det, "fused": sc}) for sid, sc, cid, det in fused]
                else:
                    ranked = [(sid, sc, cid, {opts.mode: {"rank": r, "score": sc}})
                              for r, (sid, sc, cid) in enumerate(rankings[opts.mode], start=1)]
                hits = build_hits(con, ranked[opts.offset : depth], query, explain=opts.explain)
                results.append(Hits(hits, opts.mode, len(ranked)))
        finally:
            con.execute("COMMIT")
        return results

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
    """A collection's counts, model and size, without loading any model."""
    path = collections_dir(Path(data_dir)) / validate_name(name)
    if not (path / CATALOG_FILE).exists():
        raise CollectionNotFound(name, list_collection_names(Path(data_dir)))
    catalog = Catalog(path / CATALOG_FILE)
    try:
        return _info(path, catalog)
    finally:
        catalog.close()
