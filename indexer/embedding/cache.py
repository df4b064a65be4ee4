"""The embedding cache: a chunk whose exact text this model embedded before, in any collection, costs
nothing. :class:`EmbeddingCache` is one SQLite file in the data folder (key: a hash of the model's
identity and the text; value: the normalized float32 vector, the very bytes the model gave), bounded
in size, least recently used rows evicted first; :class:`CachedEmbedder` puts it in front of a model.

It pays off where the same text comes back: a folder renamed, copied or indexed into a second
collection, a re-index with other settings, a re-chunked file whose unchanged passages give the same
chunks. It is only a cache: an unreadable file is set aside and rebuilt, a full disk or a busy file
only costs embeddings, and an index run never fails because of it.

Queries do not go through it: a query's vector is kept by the model's own in-memory cache
(:meth:`Embedder.embed_queries`), a search rarely repeats another process's text, and writing every new
query would put a disk write on every search's path (``benchmarks/embedding_cache.py`` measures it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexer.embedding.base import Embedder, EmbedderInfo
from indexer.embedding.graph_cache import library_versions, model_files

log = logging.getLogger(__name__)

__all__ = ["CACHE_FILE", "CachedEmbedder", "EmbeddingCache", "cached_part", "embed_new", "has_cache", "model_identity",
           "remember"]

CACHE_FILE = "embedding-cache.sqlite3"
#: bump when what a key hashes, or how a vector is stored, changes: older rows are then never found
KEY_FORMAT = 1
SCHEMA_VERSION = 1
TOUCH_AFTER = 3600  # seconds: a hit refreshes its row's last use at most this often (a hit is a read, not a write)
CHECK_EVERY = 0.05  # of the bound: bytes written between two looks at the file's size
EVICT_TO = 0.8  # of the bound: what an eviction leaves, so the next one is far off
MAX_PARAMS = 500  # keys per SQL statement (SQLite allows 32766; smaller keeps each lock short)


def model_identity(name: str, path: Path, *, backend: str, precision: str, engine: str, dimension: int,
                   max_seq_length: int) -> str:
    """What the vectors depend on, hashed: the model's name and files (size and modification time: new
    weights change it), the backend, the bulk precision (fp32 or bf16, resolved), the engine setting,
    the dimension, the token window and the versions of the libraries that run it. Two setups with the
    same identity give the same vectors; any change gives new keys, so old vectors are never served."""
    desc = {"format": KEY_FORMAT, "name": name, "path": str(path.resolve()), "files": model_files(path),
            "backend": backend, "precision": precision, "engine": engine, "dimension": dimension,
            "max_seq_length": max_seq_length, "versions": [*library_versions(), np.__version__]}
    return hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()


class EmbeddingCache:
    """Vectors by (model identity, text) in one SQLite file, at most ``max_bytes`` of it.

    Several processes share the file (the CLI and a server's workers over one data folder): WAL mode,
    short transactions, and a busy file is a miss or an unwritten row, never a wait of more than
    ``busy_ms``. Each row remembers when it was last used (refreshed at most every ``TOUCH_AFTER``
    seconds); past the bound the least recently used rows go, down to ``EVICT_TO`` of it, checked
    every ``CHECK_EVERY`` of the bound written (so eviction is rare and costs little per row).
    The file is opened on first use, so a command that embeds nothing never creates it."""

    def __init__(self, path: Path, *, max_bytes: int, busy_ms: int = 2000) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.busy_ms = busy_ms
        self._db: sqlite3.Connection | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._written = 0  # bytes written since the file's size was last looked at
        self._off = False  # the file cannot be opened: this process goes without the cache
        self._no_writes = False  # the disk is full: keep reading, stop writing
        self._warned: set[str] = set()

    # -- the file ----------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection | None:
        """The open connection (reopened in a forked child), or None when the cache is off."""
        if self._off:
            return None
        if self._db is not None and self._pid == os.getpid():
            return self._db
        try:
            self._db = self._open()
        except sqlite3.Error as e:
            if _corrupt(e):
                self._rebuild(e)
            else:
                self._off = True
                self._warn("open", "embedding cache %s cannot be opened (%s): indexing goes on without it", e)
        self._pid = os.getpid()
        return self._db

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=self.busy_ms / 1000, check_same_thread=False, isolation_level=None)
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"schema version {version}, not {SCHEMA_VERSION}")
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # (takes effect on a new file: evictions give space back)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # a cache: a power cut may lose the last rows, never the file
            # (a rowid table: among rows last used in the same second, the rowid says which came first)
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL, "
                       "used INTEGER NOT NULL)")
            db.execute("CREATE INDEX IF NOT EXISTS vectors_by_use ON vectors(used)")
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            db.execute("SELECT count(*) FROM (SELECT 1 FROM vectors LIMIT 1)").fetchone()
        except BaseException:
            db.close()
            raise
        return db

    def _rebuild(self, e: Exception) -> None:
        """Set the unreadable file aside (removed: it is only a cache) and start an empty one."""
        self._warn("corrupt", "embedding cache %s unreadable (%s): it is rebuilt empty", e)
        if self._db is not None:
            self._db.close()
        self._db = None
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(f"{self.path}{suffix}")
            except OSError:
                pass
        try:
            self._db = self._open()
        except sqlite3.Error as again:
            self._off = True
            self._warn("open", "embedding cache %s cannot be rebuilt (%s): indexing goes on without it", again)

    def _failed(self, what: str, e: sqlite3.Error) -> None:
        """A statement failed: a corrupt file is rebuilt, a full disk stops the writes, a busy file is
        left for next time, anything else is logged once."""
        if _corrupt(e):
            self._rebuild(e)
        elif e.sqlite_errorname == "SQLITE_FULL" or "full" in str(e):  # (the name is missing for some errors)
            self._no_writes = True
            self._warn("full", "embedding cache %s not written: %s (the disk is full); it is read, not written, "
                       "until the next start", e)
        elif e.sqlite_errorname in ("SQLITE_BUSY", "SQLITE_LOCKED") or "locked" in str(e):
            log.debug("embedding cache %s busy while %s: skipped", self.path, what)
        else:
            self._warn(what, f"embedding cache %s: {what} failed (%s); indexing goes on without those rows", e)

    def _warn(self, kind: str, message: str, e: Exception) -> None:
        if kind not in self._warned:  # one line per kind of trouble per process, not one per batch
            self._warned.add(kind)
            log.warning(message, self.path, e)

    def close(self) -> None:
        with self._lock:
            if self._db is not None and self._pid == os.getpid():
                self._db.close()
            self._db = None

    # -- rows ----------------------------------------------------------------------------------------
    @staticmethod
    def keys(identity: str, texts: Sequence[str]) -> list[bytes]:
        prefix = identity.encode() + b"\0"
        return [hashlib.sha256(prefix + t.encode("utf-8", "surrogatepass")).digest() for t in texts]

    def get(self, keys: Sequence[bytes], dimension: int) -> list[np.ndarray | None]:
        """The vector of each key, or None (absent, of another dimension, or the cache unusable)."""
        found: dict[bytes, bytes] = {}
        if not keys:
            return []
        with self._lock:
            db = self._connect()
            if db is None:
                return [None] * len(keys)
            try:
                for at in range(0, len(keys), MAX_PARAMS):
                    part = list(dict.fromkeys(keys[at:at + MAX_PARAMS]))
                    marks = ",".join("?" * len(part))
                    found.update(db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", part))
                self._touch(db, list(found))
            except sqlite3.Error as e:
                self._failed("a read", e)
                return [None] * len(keys)
        size = dimension * 4
        return [np.frombuffer(v, dtype=np.float32).copy() if (v := found.get(k)) is not None and len(v) == size
                else None for k in keys]

    def _touch(self, db: sqlite3.Connection, keys: list[bytes]) -> None:
        if not keys or self._no_writes:
            return
        now = int(time.time())
        try:
            for at in range(0, len(keys), MAX_PARAMS):
                part = keys[at:at + MAX_PARAMS]
                db.execute(f"UPDATE vectors SET used = ? WHERE used < ? AND key IN ({','.join('?' * len(part))})",
                           [now, now - TOUCH_AFTER, *part])
        except sqlite3.Error as e:
            self._failed("marking rows used", e)

    def put(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Keep ``vectors`` (float32 rows, one per key); then, now and then, evict past the bound."""
        if not keys:
            return
        rows = [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors, strict=True)]
        with self._lock:
            db = self._connect()
            if db is None or self._no_writes:
                return
            now = int(time.time())
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.executemany("INSERT OR IGNORE INTO vectors (key, vector, used) VALUES (?, ?, ?)",
                                   [(k, v, now) for k, v in rows])
                    db.execute("COMMIT")
                except BaseException:
                    try:
                        db.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass  # (SQLite may have rolled back already, on a full disk)
                    raise
                self._written += sum(len(v) + len(k) for k, v in rows)
                if self._written >= CHECK_EVERY * self.max_bytes:
                    self._written = 0
                    self._evict(db)
            except sqlite3.Error as e:
                self._failed("a write", e)

    def size_bytes(self) -> int:
        """Bytes the rows take in the file (its pages in use)."""
        with self._lock:
            db = self._connect()
            return 0 if db is None else _used_bytes(db)

    def count(self) -> int:
        with self._lock:
            db = self._connect()
            return 0 if db is None else int(db.execute("SELECT count(*) FROM vectors").fetchone()[0])

    def _evict(self, db: sqlite3.Connection) -> None:
        """Past ``max_bytes``: drop the least recently used rows down to ``EVICT_TO`` of it, and give the
        pages back to the file system."""
        used = _used_bytes(db)
        if used <= self.max_bytes:
            return
        rows = int(db.execute("SELECT count(*) FROM vectors").fetchone()[0])
        drop = min(rows, int(rows * (used - EVICT_TO * self.max_bytes) / used) + 1)
        db.execute("DELETE FROM vectors WHERE rowid IN (SELECT rowid FROM vectors ORDER BY used, rowid LIMIT ?)",
                   (drop,))
        db.execute("PRAGMA incremental_vacuum")
        log.info("embedding cache %s: %d of %d rows evicted (%.1f MB over the bound of %.1f MB)", self.path, drop,
                 rows, used / 1e6, self.max_bytes / 1e6)


def _used_bytes(db: sqlite3.Connection) -> int:
    pages = int(db.execute("PRAGMA page_count").fetchone()[0])
    free = int(db.execute("PRAGMA freelist_count").fetchone()[0])
    return (pages - free) * int(db.execute("PRAGMA page_size").fetchone()[0])


def _corrupt(e: sqlite3.Error) -> bool:
    """A file SQLite cannot read as a database (damaged, truncated, not a database, another schema)."""
    if isinstance(e, sqlite3.OperationalError):
        return False
    return e.sqlite_errorname in ("SQLITE_CORRUPT", "SQLITE_NOTADB", None) and isinstance(e, sqlite3.DatabaseError)


class CachedEmbedder(Embedder):
    """``model`` (any :class:`Embedder`, a :class:`~indexer.embedding.lazy.LazyEmbedder` too) with
    ``cache`` in front of its document embeddings: :meth:`embed` asks the model only for the texts the
    cache has not seen under ``identity`` (see :func:`model_identity`), so a batch of hits never loads a
    lazy model. Everything else (queries, tokens, name and dimension) is the model's own."""

    def __init__(self, model: Embedder, cache: EmbeddingCache, identity: str) -> None:
        # No Embedder.__init__: the tokenizer and the query cache are the model's.
        self.inner = model
        self.cache = cache
        self.identity = identity
        self.name = model.name
        self.path = model.path
        self.dimension = model.dimension
        self.max_seq_length = model.max_seq_length

    @property
    def backend(self) -> str:  # type: ignore[override]
        return self.inner.backend

    @property
    def precision(self) -> str:  # type: ignore[override]
        return self.inner.precision

    def cached(self, texts: Sequence[str]) -> tuple[np.ndarray, list[int]]:
        """(n, d) vectors with the cache's rows filled in, and the indices of the texts it does not have."""
        out = np.empty((len(texts), self.dimension), np.float32)
        missing: list[int] = []
        for i, v in enumerate(self.cache.get(self.cache.keys(self.identity, texts), self.dimension)):
            if v is None:
                missing.append(i)
            else:
                out[i] = v
        return out, missing

    def embed_new(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """The model's vectors for ``texts`` (no lookup), kept in the cache."""
        vecs = self.inner.embed(texts, batch_size=batch_size)
        self.remember(texts, vecs)
        return vecs

    def remember(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Keep vectors this model made elsewhere (a Ray actor loads the same settings)."""
        self.cache.put(self.cache.keys(self.identity, texts), vectors)

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        texts = list(texts)
        out, missing = self.cached(texts)
        if missing:
            out[missing] = self.embed_new([texts[i] for i in missing], batch_size=batch_size)
        return out

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        return self.inner.token_offsets(text)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def embed_queries(self, texts: Sequence[str], *, exact: bool = False) -> np.ndarray:
        return self.inner.embed_queries(texts, exact=exact)

    def clear_cache(self) -> None:
        self.inner.clear_cache()  # the query cache; the embedding cache is a file, shared

    def info(self) -> EmbedderInfo:
        return self.inner.info()

    def describe(self) -> str:
        return self.inner.describe()

    def __getattr__(self, attr: str) -> Any:  # loaded, engine, graph_source ...: the model's
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self.inner, attr)


def has_cache(embedder: Embedder) -> bool:
    return isinstance(embedder, CachedEmbedder)


def cached_part(embedder: Embedder, texts: Sequence[str]) -> tuple[np.ndarray, list[int]]:
    """What :meth:`CachedEmbedder.cached` says for ``texts``: their vectors where the cache has them and
    the indices of the others. Without a cache: room for every vector, and every index."""
    if isinstance(embedder, CachedEmbedder):
        return embedder.cached(texts)
    return np.empty((len(texts), embedder.dimension), np.float32), list(range(len(texts)))


def remember(embedder: Embedder, texts: Sequence[str], vectors: np.ndarray) -> None:
    """Keep ``vectors`` of ``texts`` in ``embedder``'s cache, if it has one."""
    if isinstance(embedder, CachedEmbedder):
        embedder.remember(texts, vectors)


def embed_new(embedder: Embedder, texts: Sequence[str], *, batch_size: int) -> np.ndarray:
    """The model's vectors for texts the cache did not have (kept in it, where there is one)."""
    if isinstance(embedder, CachedEmbedder):
        return embedder.embed_new(texts, batch_size=batch_size)
    return embedder.embed(texts, batch_size=batch_size)
