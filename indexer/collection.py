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
import json
import logging
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexer.catalog import Catalog, SourceRow, SourceWrite, source_row
from indexer.chunking import Chunk, chunk_text
from indexer.embedding import Embedder
from indexer.errors import (
    CollectionExists,
    CollectionNotFound,
    DocumentNotFound,
    InvalidInput,
    ModelMismatch,
)
from indexer.readers import SkipFile, read_file
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
from indexer.sync import Candidate, IndexReport, Progress, Skipped, walk
from indexer.vectors import IndexFileError, VectorIndex

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


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
    def _chunk(self, text: str) -> list[Chunk]:
        return chunk_text(text, self.embedder.token_offsets(text), max_tokens=self.embedder.max_seq_length - 2,
                          overlap=self.limits.chunk_overlap)

    def _write(self, upserts: Sequence[SourceWrite] = (), deletes: Sequence[tuple[str, str]] = (),
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

    def _embed_sources(self, items: list[tuple[SourceWrite, str]]) -> list[SourceWrite]:
        texts = [c.text for w, _ in items for c in w.chunks]
        vecs = self.embedder.embed(texts, batch_size=self.limits.embed_batch_size)
        at = 0
        for w, _ in items:
            w.vectors = vecs[at : at + len(w.chunks)]
            at += len(w.chunks)
        return [w for w, _ in items]

    def index_folder(self, root: Path | str, *, progress: Callable[[Progress], None] | None = None,
                     cancel: threading.Event | None = None) -> IndexReport:
        """Bring the collection in line with the files under ``root``: add new files, replace changed
        ones, drop deleted ones. Unchanged files (same size and mtime, or same sha256) cost no embedding.

        Streams: the folder is walked while files are read, chunked and embedded in bounded batches
        (and once before, to count its files, when ``progress`` is given); no list of its files is
        kept. What is known of previously indexed files (size, mtime, sha256) is held as small
        tuples and shrinks as they are seen; what is left at the end was deleted."""
        started = time.monotonic()
        root = Path(root).expanduser().absolute()
        if not root.is_dir():
            raise InvalidInput(f"{root} is not a folder", field="path")
        report = IndexReport()
        known = self._file_states(root)  # key -> (size, mtime, sha256); popped when the file is seen
        # the files to do, for progress and ETA only: no second walk when nobody is watching
        total = 0 if progress is None else sum(
            isinstance(item, Candidate) for item in walk(root, max_bytes=self.limits.max_file_bytes))
        gone: list[str] = []  # known files seen again but no longer indexable (empty, unsupported, ...)
        pending: list[tuple[SourceWrite, str]] = []
        pending_chunks = 0
        touches: list[tuple[str, float]] = []
        done = 0
        embed_started = None

        def flush() -> None:
            nonlocal pending, pending_chunks, touches, embed_started
            if not pending and not touches:
                return
            t0 = time.monotonic()
            writes = self._embed_sources(pending) if pending else []
            report.embed_seconds += time.monotonic() - t0
            added, removed = self._write(writes, touches=touches)
            report.chunks_embedded += added
            report.chunks_removed += removed
            for _w, status in pending:
                if status == "added":
                    report.added += 1
                else:
                    report.updated += 1
            pending, pending_chunks, touches = [], 0, []

        def tell(current: str) -> None:
            if progress is None:
                return
            elapsed = time.monotonic() - started
            rate = report.chunks_embedded / report.embed_seconds if report.embed_seconds else 0.0
            eta = elapsed / done * max(0, total - done) if done else None
            progress(Progress(done, max(total, done), report.chunks_embedded, rate, eta, current))

        tell("")
        for cand in walk(root, max_bytes=self.limits.max_file_bytes):
            if cancel is not None and cancel.is_set():
                break
            if isinstance(cand, Skipped):
                report.skipped.append(cand)
                if cand.reason == "unreadable":  # keep what we had: a transient error must not delete data
                    under = cand.path.rstrip("/") + "/"  # (an unreadable folder keeps the files under it)
                    for k in [k for k in known if k == cand.path or k.startswith(under)]:
                        del known[k]
                continue
            key = str(cand.path)
            old = known.pop(key, None)
            done += 1
            if old is not None and old[0] == cand.size and old[1] == cand.mtime:
                report.unchanged += 1
                continue
            try:
                sha = _sha256_file(cand.path)
                if old is not None and old[2] == sha:
                    report.unchanged += 1
                    touches.append((key, cand.mtime))
                    continue
                text = read_file(cand.path, max_bytes=self.limits.max_file_bytes)
            except SkipFile as e:
                report.skipped.append(Skipped(key, e.reason, e.detail))
                if e.reason != "unreadable" and old is not None:  # unreadable: keep what we had
                    gone.append(key)
                continue
            except OSError as e:
                report.skipped.append(Skipped(key, "unreadable", e.strerror or str(e)))
                continue
            chunks = self._chunk(text)
            if not chunks:
                report.skipped.append(Skipped(key, "empty", "no text to index"))
                if old is not None:
                    gone.append(key)
                continue
            write = SourceWrite(kind="file", key=key, sha256=sha, chunks=chunks,
                                vectors=np.zeros((0, 0), np.float32), ext=cand.path.suffix.lower(),
                                size=cand.size, mtime=cand.mtime, root=str(root))
            pending.append((write, "added" if old is None else "updated"))
            pending_chunks += len(chunks)
            if pending_chunks >= self.limits.batch_chunks or len(touches) >= 1000:
                flush()
                tell(key)
        flush()
        cancelled = cancel is not None and cancel.is_set()
        if not cancelled:
            gone.extend(known)  # indexed before, not found now
            if gone:
                _, removed = self._write(deletes=[("file", k) for k in gone])
                report.removed = len(gone)
                report.chunks_removed += removed
        tell("")
        self.checkpoint()
        report.chunks_total = self.catalog.count_chunks()
        report.seconds = time.monotonic() - started
        return report

    def _file_states(self, root: Path) -> dict[str, tuple[int, float, str]]:
        """key -> (size, mtime, sha256) of the indexed files under ``root``."""
        prefix = str(root).rstrip("/") + "/"
        rows = self.catalog.reader.execute(
            "SELECT key, size, mtime, sha256 FROM sources WHERE kind='file' AND substr(key, 1, ?) = ?",
            (len(prefix), prefix))
        return {key: (size, mtime, sha) for key, size, mtime, sha in rows}

    def remove_path(self, path: Path | str) -> int:
        """Drop a file's chunks (or every file under a folder). Returns the number of files removed."""
        p = Path(path).expanduser().absolute()
        keys = list(self._file_states(p))
        row = self.catalog.reader.execute("SELECT 1 FROM sources WHERE kind='file' AND key=?", (str(p),)).fetchone()
        if row:
            keys.append(str(p))
        if keys:
            self._write(deletes=[("file", k) for k in keys])
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
            chunks = self._chunk(d.text)
            if not chunks:
                raise InvalidInput(f"document {d.id!r} has no text to index", field="documents.text")
            items.append((SourceWrite(kind="doc", key=d.id, sha256=sha, chunks=chunks,
                                      vectors=np.zeros((0, 0), np.float32), metadata=d.metadata, text=d.text),
                          "updated" if d.id in existing else "added"))
        if items:
            added, _ = self._write(self._embed_sources(items))
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
            self._write(deletes=[("doc", k) for k in present])
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

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """The query vectors :meth:`search_batch` would compute (this collection's model, search
        precision)."""
        return self.embedder.embed_queries(queries)

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
