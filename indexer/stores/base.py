"""The Store interface: everything a collection keeps, and every question the library asks of it.

A collection is a store + an embedder + limits (``indexer.collection``). The folder sync
(``indexer.sync``), the ranking recipe (``indexer.search``), passages, full texts and the map talk
to a store only through :class:`Store`; each implementation lives beside this file:

- ``embedded/``: the default, a folder of SQLite (sources, chunks, FTS5, change log) + FAISS files;
- ``qdrant/``: a Qdrant server or cluster by URL, or the client's in-process local mode by path.

Each package keeps its own files, SQL and formats: nothing outside it opens them. The ranking
package (``indexer.search``) gives a store store-neutral :class:`~indexer.filters.Filters`
(its checked tree of conditions: ``Filters.tree``), which each store translates into its own query terms
(one function per store; ``indexer.filters.matches`` is the reference reading).

Ids: a *chunk id* is a stable int64 (a vector's id in the index); a *source id* is an int that is
stable while the source (a file or a document) keeps its content. Both are opaque to callers.

One contract test suite (``tests/indexer/stores/test_contract.py``) runs against every implementation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from indexer.analysis.languages import Analyzer
from indexer.chunking import Chunk
from indexer.errors import SnapshotNotFound
from indexer.facets import Facet, FacetCounts
from indexer.filters import Filters
from indexer.job_table import JobTable

if TYPE_CHECKING:
    from indexer.embedding import Embedder


@dataclass
class SourceWrite:
    """One file or document to (re)place in the store with its chunks and their vectors."""

    kind: str
    key: str
    sha256: str
    chunks: Sequence[Chunk]
    vectors: np.ndarray  # (len(chunks), d) float32
    ext: str = ""
    size: int = 0
    mtime: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)
    text: str | None = None
    root: str = ""
    chunk_metadata: Sequence[dict[str, Any]] = ()  # per chunk (parallel to chunks) or empty: none
    # A big file is committed in several batches: the first replaces the source, the others ``append``
    # their chunks to it; every batch but the last leaves it ``partial``, so an interrupted run is
    # resumed (and never taken for an unchanged file).
    partial: bool = False
    append: bool = False
    # A file whose content (sha256) is already stored as file ``copy_of`` (a complete file, not itself a
    # copy): stored once, listed under both paths. A copy has no chunks (and no vectors): the store keeps
    # its own row (key, root, ext, size, mtime, sha256) pointing at the canonical file, whose metadata it
    # shows. Deleting or replacing a canonical file that has copies first promotes one of them: the chunks
    # move to it and the other copies point at it, so the content stays while any path has it.
    copy_of: str | None = None


@dataclass
class WriteResult:
    seq: int
    added_ids: np.ndarray  # int64
    added_vectors: np.ndarray  # (n, d) float32
    removed_ids: np.ndarray  # int64
    chunks_added: int = 0
    chunks_removed: int = 0


@dataclass
class SourceRow:
    id: int
    kind: str
    key: str
    ext: str
    size: int
    mtime: float
    sha256: str
    metadata: dict[str, Any]
    indexed_at: float
    chunks: int = 0
    root: str = ""  # a file's: the folder it was indexed from ("" for documents)
    copy_of: str = ""  # a copy's canonical file (its chunks are that file's), else ""


@dataclass
class HitRow:
    """What a hit shows of a chunk and its source."""

    chunk_id: int
    start: int
    end: int
    text: str
    kind: str
    key: str
    metadata: dict[str, Any]  # the source's
    chunk_metadata: dict[str, Any]  # the chunk's own (its page, slide, message)
    root: str = ""  # a file's: the folder it was indexed from ("" for documents)
    # The other paths of the same content (its copies, see SourceWrite.copy_of), by path, at most
    # ALSO_AT_MAX of them; ``copies`` counts them all.
    also_at: list[str] = field(default_factory=list)
    copies: int = 0


ALSO_AT_MAX = 20  # other paths a hit lists (HitRow.also_at); HitRow.copies counts them all


@dataclass
class StoredSource:
    """A source with its chunks as (chunk id, start, end, text), by start: for passages and full texts."""

    id: int
    kind: str
    key: str
    sha256: str
    text: str | None  # documents keep their text; files do not (they stay on disk)
    metadata: dict[str, Any]
    chunks: list[tuple[int, int, int, str]]


@dataclass
class StoreMeta:
    model: str
    dimension: int
    index_type: str
    created: float
    language: str = "en"  # the keyword analysis's language (``indexer.analysis.languages``) or "auto"
    # "analysed": keyword terms by ``Analyzer(language)``; "legacy": a collection made before languages
    # existed keeps the keyword analysis it was indexed with (English; see ``indexer/analysis/bm25.py``
    # and the embedded store's porter FTS5 table) until it is re-created.
    keywords: str = "analysed"

    def analyzer(self) -> Analyzer | None:
        """The keyword analyzer of this collection (None: its legacy analysis)."""
        return None if self.keywords == LEGACY else Analyzer(self.language)


LEGACY, ANALYSED = "legacy", "analysed"  # StoreMeta.keywords


class IndexingLock(Protocol):
    """One indexer per collection at a time, across processes (``Store.indexing_lock``): a folder sync
    holds it from before it reads what the collection has until its last commit, so a second run
    started meanwhile waits (or is refused) instead of embedding the same files again. A holder that
    dies must not keep it (the embedded store's is a ``flock``, which the kernel releases; Qdrant's a
    lease that expires; Postgres would use ``pg_advisory_lock``, released with the session)."""

    def try_acquire(self) -> str | None:
        """Take the lock if it is free and answer None; else answer who holds it, for a message
        ("process 1234 on host web-1 since 10:02:03 UTC"). Never blocks."""
        ...

    def release(self) -> None:
        """Let the next indexer in (a no-op unless held)."""
        ...


@dataclass
class ReindexReport:
    """What ``StoreBackend.reindex`` did: the same report from every store that can re-index."""

    name: str
    model: str
    previous_model: str
    sources: int
    chunks: int
    # copy passes: Qdrant's is 1 plus one per batch of writes that landed while the first ran; Postgres's
    # is always 1 (one transaction sees one state, and writes wait for it)
    rounds: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Store(Protocol):
    """One collection's storage. Thread-safe; writes are serialized per store."""

    name: str
    meta: StoreMeta
    backend: str  # the store's name, for messages and logs ("embedded", "qdrant"): never switched on

    def load(self) -> None:
        """Get ready to answer (load or repair derived indexes); called once the model is checked."""
        ...

    # -- writing ------------------------------------------------------------------------------------
    def write(self, upserts: Sequence[SourceWrite] = (), deletes: Sequence[tuple[str, str]] = (),
              touches: Sequence[tuple[str, float]] = ()) -> WriteResult:
        """Apply one batch: replace ``upserts``, drop ``deletes`` (kind, key), record new mtimes of
        unchanged files (``touches``). A reader sees each source before or after, never half of it."""
        ...

    def checkpoint(self) -> None:
        """Make every committed write durable in the store's own files (no-op where the server does it)."""
        ...

    def refresh(self) -> None:
        """Pick up writes made by another process."""
        ...

    def close(self) -> None: ...

    def indexing_lock(self) -> IndexingLock:
        """This collection's indexer lock (see :class:`IndexingLock`); a new, unheld one per call."""
        ...

    # -- what folder sync and the document API ask ----------------------------------------------------
    def file_states(self, prefix: str) -> dict[str, tuple[int, float, str, bool]]:
        """key -> (size, mtime, sha256, partial) of the files whose key starts with ``prefix``."""
        ...

    def has_source(self, kind: str, key: str) -> bool: ...

    def canonical_file(self, sha256: str) -> str | None:
        """The path of a complete (not partial) file with this content that is not itself a copy, if
        the collection holds one: what a new file with the same content is stored as a copy of."""
        ...

    def chunk_spans(self, kind: str, key: str) -> list[tuple[int, int, int]]:
        """(ord, start, end) of a source's committed chunks, in order."""
        ...

    def source_hashes(self, kind: str, keys: Sequence[str]) -> dict[str, str]:
        """key -> sha256 of the given sources that exist."""
        ...

    def source_keys(self) -> dict[str, str]:
        """key -> kind of every source."""
        ...

    def list_sources(self, *, kind: str | None, offset: int, limit: int) -> tuple[list[SourceRow], int]:
        """A page of sources by key, and how many there are."""
        ...

    def stored_source(self, key: str, kinds: Sequence[str]) -> StoredSource | None:
        """The source ``key`` of the first kind in ``kinds`` that has it, with its chunks."""
        ...

    # -- counts ---------------------------------------------------------------------------------------
    def count_chunks(self) -> int: ...

    def count_sources(self) -> dict[str, int]:
        """kind -> number of sources."""
        ...

    def size_bytes(self) -> int: ...

    @property
    def seq(self) -> int:
        """A number that changes with every write (caches key on it)."""
        ...

    # -- retrieval (inside ``reading()``, so a search sees one state) -----------------------------------
    def reading(self) -> AbstractContextManager[None]:
        """A consistent read view for one search batch (as consistent as the store offers)."""
        ...

    def dense_chunks(self, qvec: np.ndarray, k: int, filters: Filters) -> list[tuple[int, float]]:
        """[(chunk id, cosine)] best first: the ``k`` nearest chunks among those ``filters`` allow."""
        ...

    def keyword_chunks(self, text: str, k: int, filters: Filters) -> list[tuple[int, float]]:
        """[(chunk id, bm25)] best first for the query's words (higher is better)."""
        ...

    def sources_of_chunks(self, ids: Sequence[int]) -> dict[int, int]:
        """chunk id -> source id, for the chunks that exist (and are visible)."""
        ...

    def hit_rows(self, ids: Sequence[int]) -> dict[int, HitRow]: ...

    def source_sort_keys(self, ids: Sequence[int]) -> dict[int, tuple[float, str]]:
        """source id -> (modified time, key) for sorting hits: a file's mtime and path, a document's
        indexing time and id (the same time ``modified_after`` filters on)."""
        ...

    def facet_counts(self, facet: Facet, filters: Filters, sources: Sequence[int] | None = None) -> FacetCounts:
        """How many sources (files and documents, not chunks) have each value of ``facet``'s field, among
        those with a chunk that ``filters`` allow (and, when given, among the source ids ``sources``):
        the ``facet.top`` values by count, ties by value (``indexer.facets``)."""
        ...

    def vectors_for(self, ids: Sequence[int]) -> dict[int, np.ndarray]: ...

    def find_source(self, key: str) -> int | None:
        """The id of the document with id ``key``, else of the file with path ``key``."""
        ...

    def source_vectors(self, source_id: int) -> np.ndarray:
        """The vectors of a source's chunks, (n, d) float32, by ord."""
        ...

    # -- the map ------------------------------------------------------------------------------------
    def chunk_ids(self) -> np.ndarray:
        """Every chunk id, ascending (int64)."""
        ...

    def map_rows(self, ids: Sequence[int], preview_chars: int) -> list[dict[str, Any]]:
        """Per chunk, in id order: chunk_id, start, end, preview, kind, id (the source key), root, vector."""
        ...


class Snapshots(Protocol):
    """A store's snapshots of its collections (``StoreBackend.snapshots()``): a snapshot is a file named
    by the store, with a ``to_dict()`` info (name, created, size_bytes, chunks, ...)."""

    def create(self, collection: str) -> Any:
        """Snapshot ``collection`` now, while it is searched and written."""
        ...

    def list(self, collection: str, skipped: list[dict[str, str]] | None = None) -> list[Any]:
        """The collection's snapshots, newest first (also those of a deleted collection); files that are
        not readable snapshots are left out and, with ``skipped``, named there as ``{"name", "reason"}``."""
        ...

    def exists(self, collection: str) -> bool:
        """Whether there are (or were) snapshots of ``collection``."""
        ...

    def path(self, collection: str, name: str) -> Path:
        """The file of snapshot ``name`` (SnapshotNotFound if there is none)."""
        ...

    def delete(self, collection: str, name: str) -> None: ...

    def restore(self, collection: str, snapshot: Path | str) -> Any:
        """Make ``collection`` what the snapshot (a name, or a snapshot file's path) holds; no process
        may have it open meanwhile."""
        ...


class NoSnapshots:
    """The snapshots of a store whose collections are not files here: none to list or find, and
    taking or restoring one is ``refuse(what)``'s NotSupported."""

    def __init__(self, refuse: Callable[[str], None]) -> None:
        self.refuse = refuse

    def create(self, collection: str) -> Any:
        self.refuse("a snapshot")

    def list(self, collection: str, skipped: list[dict[str, str]] | None = None) -> list[Any]:
        return []

    def exists(self, collection: str) -> bool:
        return False

    def path(self, collection: str, name: str) -> Path:
        raise SnapshotNotFound(collection, name)

    def delete(self, collection: str, name: str) -> None:
        raise SnapshotNotFound(collection, name)

    def restore(self, collection: str, snapshot: Path | str) -> Any:
        self.refuse("a snapshot restore")


class StoreBackend(Protocol):
    """Where a deployment's collections live: the data folder, or a Qdrant server. What a store can or
    cannot do is asked of it (:meth:`require_files`, :meth:`snapshots`, :meth:`reindex`), never read
    from its name."""

    backend: str  # the store's name, for messages and logs: never switched on
    # What reading a damaged collection may raise past the store (the app reports it as CorruptCollection
    # without knowing the store's driver): sqlite3.DatabaseError for the embedded store, nothing for Qdrant.
    damaged: tuple[type[Exception], ...]

    def names(self) -> list[str]: ...

    def exists(self, name: str) -> bool: ...

    def open(self, name: str, *, model: str, dimension: int, index_type: str, checkpoint_every: int,
             wal_checkpoint_seconds: float, language: str = "en") -> Store:
        """Open collection ``name``, creating it (recording the model and the keyword ``language``) when
        missing."""
        ...

    def delete(self, name: str) -> None: ...

    def peek(self, name: str) -> tuple[StoreMeta, dict[str, int], int, int]:
        """(meta, sources by kind, chunks, size in bytes) without opening the collection for writing."""
        ...

    def job_table(self) -> JobTable:
        """Where this deployment's folder jobs live (``indexer/job_table.py``): shared by every process
        that shares this store."""
        ...

    @classmethod
    def require_files(cls, what: str) -> None:
        """``NotSupported`` (saying so about ``what``) unless each collection is a folder of files in
        the data folder: what snapshots copy. A class method: asking needs no connection."""
        ...

    def snapshots(self) -> Snapshots:
        """The collections' snapshots (:class:`NoSnapshots` where they are not files here)."""
        ...

    def reindex(self, name: str, embedder: Embedder, *, progress: Callable[[dict[str, Any]], None] | None = None,
                cancel: threading.Event | None = None) -> Any:
        """Re-embed collection ``name`` with ``embedder`` and swap it in without stopping searches
        (returns a report), or ``NotSupported`` where the store cannot."""
        ...

    def close(self) -> None: ...
