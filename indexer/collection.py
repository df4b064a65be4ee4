"""Collection = a store (sources, chunks, vectors, keyword index) + an embedder + limits: the unit
everything works on.

Write path (files and documents): read -> chunk -> embed (outside any lock) -> one store write
(``Store.write``: atomic per batch in the embedded store, per source in Qdrant). What a store keeps
and how it answers is ``indexer/stores/``; this facade holds the rules (ids, limits, hashing of
documents) that every store shares.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from indexer import search
from indexer.analysis.languages import check_language
from indexer.chunking import Chunk, iter_chunks
from indexer.described import described
from indexer.embedding import Embedder
from indexer.errors import (
    CollectionExists,
    CollectionNotFound,
    CorruptCollection,
    DocumentNotFound,
    InvalidInput,
    ModelMismatch,
)
from indexer.facets import Facet, FacetCounts
from indexer.filters import Filters
from indexer.limits import DEFAULT_FACET_HITS, Limits
from indexer.names import NAME_PATTERN, NAME_RE, validate_name
from indexer.search import Hits, Like, Query, SearchOptions
from indexer.stores.base import SourceRow, SourceWrite, Store, StoreBackend, StoreMeta
from indexer.walk import path_key

if TYPE_CHECKING:  # (imported where used: the sync recipe and its readers cost ~60 ms of every command's
    # start-up, and most commands, such as remove, list or query, never run it)
    from indexer.sync import IndexReport, Progress

log = logging.getLogger(__name__)

__all__ = ["NAME_PATTERN", "NAME_RE", "Collection", "CollectionInfo", "Document", "Limits", "validate_name"]


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
    language: str = described("Its keyword search's language (en, de, fr, zh ... or auto: detected per document)",
                              default="en")
    keyword_index: str = described("analysed (per-language stems, CJK bigrams) or legacy (made before languages "
                                   "existed: English only; re-create the collection to change it)",
                                   default="analysed")

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


# Every function below takes the store backend where the collections live (``indexer/stores/``): for
# the embedded store ``EmbeddedBackend(data_dir)``, for Qdrant ``QdrantBackend(url=...)``.
def list_collection_names(backend: StoreBackend) -> list[str]:
    return backend.names()


def delete_collection(backend: StoreBackend, name: str) -> None:
    backend.delete(validate_name(name, reserved_ok=True))  # one made before the device-name rule


def reindex_collection(backend: StoreBackend, name: str, embedder: Embedder, *,
                       progress: Callable[[dict[str, Any]], None] | None = None,
                       cancel: threading.Event | None = None) -> Any:
    """Re-embed collection ``name`` with ``embedder`` and swap it in without stopping searches, where
    the store can (Qdrant: :mod:`indexer.stores.qdrant.reindex`; elsewhere ``NotSupported``).
    Returns its ReindexReport."""
    return backend.reindex(validate_name(name), embedder, progress=progress, cancel=cancel)


class Collection:
    """One searchable collection in a store. Thread-safe: many readers, one writer at a time."""

    def __init__(self, store: Store, embedder: Embedder, *, limits: Limits | None = None) -> None:
        self.embedder = embedder
        self.limits = limits or Limits()
        self.store: Store = store
        self.name = store.name
        self.path: Path | None = getattr(store, "path", None)  # the folder, for the embedded store
        meta = store.meta
        if meta.model != embedder.name or meta.dimension != embedder.dimension:
            store.close()
            raise ModelMismatch(self.name, meta.model, meta.dimension, embedder.name, embedder.dimension)
        self.model = meta.model
        self.dimension = meta.dimension
        self.index_type = meta.index_type
        self.created = meta.created
        store.load()

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, backend: StoreBackend, name: str, embedder: Embedder, *, create: bool = True,
             index_type: str = "flat", limits: Limits | None = None, language: str = "en") -> Collection:
        """Open (and by default create) collection ``name`` in ``backend`` (the embedded store:
        ``EmbeddedBackend(data_dir)``). ``language``: its keyword search's, when it is created (see
        ``indexer.analysis.languages``: a code such as ``de``, or ``auto``); an existing one keeps its own."""
        store = backend
        if not store.exists(validate_name(name)) and not create:
            raise CollectionNotFound(name, store.names())
        return cls._in(store, name, embedder, index_type, limits, language)

    @classmethod
    def create(cls, backend: StoreBackend, name: str, embedder: Embedder, *, index_type: str = "flat",
               limits: Limits | None = None, language: str = "en") -> Collection:
        store = backend
        if store.exists(validate_name(name)):
            raise CollectionExists(name)
        return cls._in(store, name, embedder, index_type, limits, language)

    @classmethod
    def _in(cls, backend: StoreBackend, name: str, embedder: Embedder, index_type: str,
            limits: Limits | None, language: str = "en") -> Collection:
        limits = limits or Limits()
        try:
            language = check_language(language)
        except ValueError as e:
            raise InvalidInput(str(e), field="language") from None
        store = backend.open(name, model=embedder.name, dimension=embedder.dimension, index_type=index_type,
                             checkpoint_every=limits.checkpoint_every,
                             wal_checkpoint_seconds=limits.wal_checkpoint_seconds, language=language)
        return cls(store, embedder, limits=limits)

    def refresh(self) -> None:
        """Pick up writes made by another process (e.g. the CLI indexing while the server runs)."""
        self.store.refresh()

    def checkpoint(self) -> None:
        """Make every committed write durable in the store's own files (for the embedded store: write
        the FAISS file and move the catalog's WAL into ``catalog.sqlite3``). Errors are logged."""
        self.store.checkpoint()

    def close(self) -> None:
        self.store.close()

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
        """Commit one batch to the store. Returns (added, removed) chunks."""
        res = self.store.write(upserts, deletes, touches)
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
        from indexer.sync import FolderSync

        return FolderSync(self, Path(root), progress=progress, cancel=cancel).run()

    def file_states(self, root: Path) -> dict[str, tuple[int, float, str, bool]]:
        """key -> (size, mtime, sha256, partial) of the indexed files under ``root``."""
        return self.store.file_states(str(root).rstrip("/") + "/")

    def remove_path(self, path: Path | str) -> int:
        """Drop a file's chunks (or every file under a folder). Returns the number of files removed."""
        key = path_key(Path(path).expanduser().absolute())
        keys = list(self.file_states(Path(key)))
        if self.store.has_source("file", key):
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
        existing = self.store.source_hashes("doc", ids) if ids else {}
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
        src = self.store.stored_source(doc_id, ("doc",))
        if src is None:
            raise DocumentNotFound(doc_id)
        return Document(src.key, src.text or "", src.metadata)

    def delete_documents(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        present = list(self.store.source_hashes("doc", list(ids)))
        if present:
            self.commit(deletes=[("doc", k) for k in present])
        return len(present)

    def list_sources(self, *, kind: str | None = None, offset: int = 0, limit: int = 100
                     ) -> tuple[list[SourceRow], int]:
        return self.store.list_sources(kind=kind, offset=offset, limit=limit)

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
        max_k = self.limits.max_k
        opts = options.within(max_k) if options is not None else SearchOptions(**kw, max_k=max_k)
        self.refresh()
        return search.search_batch(self.store, self.embed_queries, queries, opts, vectors,
                                   max_query_chars=self.limits.max_query_chars)

    def facets(self, facet: Facet, *, filters: Filters | None = None, query: Query | None = None,
               options: SearchOptions | None = None) -> FacetCounts:
        """How many files and documents have each value of ``facet``'s field (``indexer.facets``), among
        those ``filters`` allow; with a ``query``, among the sources of its hits, ranked first with
        ``options`` (whose filters are then the ones applied; default: hybrid, the best 100)."""
        if query is not None:
            opts = options or SearchOptions(k=DEFAULT_FACET_HITS, filters=filters or Filters())
            sources: list[int] | None = self.search_batch([query], options=opts)[0].source_ids
            filters = opts.filters
        else:
            sources = None
            self.refresh()
        return self.store.facet_counts(facet, filters or Filters(), sources)

    def info(self) -> CollectionInfo:
        s = self.store
        return _info(self.name, s.meta, s.count_sources(), s.count_chunks(), s.size_bytes())


def _info(name: str, meta: StoreMeta, counts: dict[str, int], chunks: int, size: int) -> CollectionInfo:
    return CollectionInfo(name, meta.model, meta.dimension, meta.index_type, counts.get("file", 0),
                          counts.get("doc", 0), chunks, size, meta.created, meta.language, meta.keywords)


def read_info(backend: StoreBackend, name: str) -> CollectionInfo:
    """A collection's counts, model and size, without loading any model. A damaged catalog is a
    ``CorruptCollection`` that says how to recover, never a raw ``sqlite3`` error."""
    return _info(name, *backend.peek(validate_name(name)))


def scan_collections(backend: StoreBackend) -> tuple[list[CollectionInfo], dict[str, str]]:
    """(healthy collections' infos, {damaged name: why}): one damaged catalog hides no other."""
    infos: list[CollectionInfo] = []
    bad: dict[str, str] = {}
    for name in backend.names():
        try:
            infos.append(read_info(backend, name))
        except CollectionNotFound:
            continue  # removed meanwhile
        except CorruptCollection as e:
            bad[name] = e.message
    return infos, bad
