"""The front door: one :class:`Service` per process, built from :class:`Settings`, used by every interface.

The HTTP app (``app.main``), the in-process CLI (``app.cli``), MCP over stdio and HTTP (``app.mcp``)
and the benchmark (``benchmarks/``) all build or share one ``Service``; none wires the model, the
store, the collections or the search lanes itself, and none calls another interface's modules. The
interfaces only translate: HTTP requests, command lines, tool calls -> a service call -> their answer.

What it holds:

- the model, loaded from the settings in one place (:func:`app.model.load_model`) on first use, so commands
  that only read the store never load it; collections get it as a :class:`LazyEmbedder`
  (:meth:`Service.collection_model`), which knows its name and dimension without loading, so removing
  a path or re-indexing an unchanged folder loads no model: the first chunk to embed does; in front of
  it, the data folder's embedding cache (``indexer.embedding.cache``), so a chunk embedded before by the
  same model, in any collection, is not embedded again (a copied folder loads no model at all);
- the store backend (``SEMSEARCH_STORE``) and the open collections (:class:`CollectionRegistry`);
- the search lanes (:class:`SearchLanes`), which batch concurrent queries, and the jobs
  (:class:`JobManager`) - both started by :meth:`Service.start`, for the long-running servers.

Query options are checked once, by the library's rules (:meth:`Service.query_request`, from
``app/requests.py``, makes the immutable ``SearchOptions`` the collection trusts): the HTTP request
models and MCP tools carry the same limits (``indexer.limits``) for their documents and the first 422.
Loading the model and the embedding cache in front of it: ``app/model.py``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.model import SharedEmbeddingCache, metered
from app.model import load_model as load_model  # (the patch point of tests that share one model)
from app.model import model_load_note as model_load_note
from app.registry import CollectionRegistry
from app.requests import facet_request as facet_request
from app.requests import query_request as query_request
from app.search_lanes import Lane, SearchLanes
from app.settings import Settings
from indexer.collection import (
    Collection,
    CollectionInfo,
    Document,
    delete_collection,
    read_info,
    reindex_collection,
    scan_collections,
    validate_name,
)
from indexer.embedding import Embedder, cpu_count
from indexer.embedding.cpu import one_core
from indexer.errors import CollectionBusy, CollectionNotFound
from indexer.facets import Facet
from indexer.fulltext import SourceText, source_text
from indexer.projection import Projection, ProjectionCache, locate_query
from indexer.search import Like, SearchOptions, search_response
from indexer.search import Query as SearchQuery
from indexer.similarity import rank_candidates, similarity_matrix

if TYPE_CHECKING:  # (app.schemas loads on the first embed or compare: the CLI's store commands need none)
    from app.metrics import Metrics
    from app.schemas import CompareResponse, EmbedResponse
    from indexer.jobs import JobManager
    from indexer.sync import IndexReport

log = logging.getLogger(__name__)


class Service:
    """The model, the store, the collections, the search lanes and the jobs, behind one set of operations."""

    def __init__(self, settings: Settings, backend: Any, *, embedder: Embedder | None = None,
                 metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.backend = backend  # where collections live (indexer/stores/); closed by close()
        self.metrics = metrics
        self._model: Embedder | None = None
        self._model_lock = threading.Lock()
        self._lazy: Embedder | None = None
        self._embedding_cache = SharedEmbeddingCache(settings)  # opened by the first collection that embeds
        #: called (in the loading thread) just before the model loads: the CLI says so on stderr
        self.on_model_load: Callable[[], None] | None = None
        if embedder is not None:
            self._model = metered(embedder, metrics)
        self.collections = CollectionRegistry(settings, self.collection_model, backend)
        self.lanes: SearchLanes | None = None  # started by start()
        self.jobs: JobManager | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, embedder: Embedder | None = None,
                      metrics: Metrics | None = None) -> Service:
        """A service over the store the settings name; ``embedder`` skips loading the model (tests share
        one), ``metrics`` counts its forward passes (the HTTP app's /metrics)."""
        return cls(settings, settings.store_backend(), embedder=embedder, metrics=metrics)

    # -- the model --------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The model, loaded on first use (once, whichever thread asks first)."""
        if self._model is None:
            with self._model_lock:
                if self._model is None:
                    s = self.settings
                    if self.on_model_load is not None:
                        self.on_model_load()
                    log.info("loading model %s (%s)", s.model, model_load_note(s))
                    model = load_model(s)
                    log.info("ready: model %s (%d dimensions), data in %s", model.name, model.dimension, s.data_dir)
                    self._model = metered(model, self.metrics)
        return self._model

    @property
    def model_loaded(self) -> bool:
        return self._model is not None

    def collection_model(self) -> Embedder:
        """The model as collections get it, behind the embedding cache (SEMSEARCH_EMBEDDING_CACHE_MB):
        the loaded one, else a :class:`LazyEmbedder` that loads it (through :attr:`embedder`) on the first
        chunk the cache does not have. Its dimension is read from the model's folder; a folder that does
        not say loads the model now."""
        return self._embedding_cache.wrap(self._model_for_collections())

    def _model_for_collections(self) -> Embedder:
        if self._model is not None:
            return self._model
        if self._lazy is None:
            from indexer.embedding import resolve_model
            from indexer.embedding.lazy import LazyEmbedder, peek_dimension

            name, path = resolve_model(self.settings.model)
            dimension = peek_dimension(path)
            if dimension is None:
                return self.embedder
            self._lazy = LazyEmbedder(name, path, dimension, lambda: self.embedder)
        return self._lazy

    # -- lifecycle (the servers: HTTP and MCP) ----------------------------------------------------
    def start(self, *, jobs: bool = True) -> None:
        """Start the search lanes (and with ``jobs`` the background indexing jobs, shared like the store)."""
        if self.lanes is None:
            self.lanes = SearchLanes(self.run_query_group, lanes=cpu_count())
            self.lanes.start()
        if jobs and self.jobs is None:
            from indexer.jobs import JobManager

            self.jobs = JobManager(self.backend.job_table())

    def warm_up(self) -> None:
        """Open every existing collection now, so FAISS repairs happen before traffic does."""
        self.collections.warm_up()

    def stop(self) -> None:
        """Stop the search lanes (queued queries get LanesClosed), then the jobs."""
        if self.lanes is not None:
            self.lanes.close()
            self.lanes = None
        if self.jobs is not None:
            self.jobs.shutdown()
            self.jobs = None

    def close(self) -> None:
        """Stop the lanes and the jobs, close the collections and the store."""
        self.stop()
        self.collections.close_all()
        self.backend.close()
        self._embedding_cache.close()

    # -- queries -----------------------------------------------------------------------------------
    def query_request(self, **request: Any) -> tuple[SearchQuery, SearchOptions]:
        """The request's query and options, checked (see :func:`query_request`)."""
        return query_request(self.settings, **request)

    def facet_request(self, **request: Any) -> tuple[Facet, SearchQuery | None, SearchOptions]:
        """A facet request's facet, query and options, checked (see :func:`facet_request`)."""
        return facet_request(self.settings, **request)

    async def submit_query(self, name: str, query: SearchQuery, opts: SearchOptions) -> str:
        """The response's JSON text, computed on a search lane (see ``app.search_lanes``): concurrent
        queries with the same collection and options share one embedding pass and one snapshot."""
        lanes = self.lanes
        if lanes is None:
            from app.search_lanes import LanesClosed

            raise LanesClosed("The service is not started")
        return await lanes.submit((name, opts), query)

    def query(self, name: str, query: SearchQuery, opts: SearchOptions) -> str:
        """One query answered here, without the lanes (the CLI): the same JSON text a lane makes."""
        with self.open_collection(name, create=False) as coll:
            hits = coll.search_batch([query], options=opts)[0]
        return search_response(name, query, opts, hits).to_json()

    def run_query_group(self, key: tuple[str, SearchOptions], queries: list[SearchQuery], lane: Lane) -> list[str]:
        """Search lane work: one forward pass and one ``search_batch`` for queries with the same collection
        and options, each answer serialized here, off the event loop, by the library (so the CLI prints
        the same bytes). The documented ``response_model`` is that same library type."""
        name, opts = key
        with self.collections.lease(name) as coll:
            words = [q for q in queries if isinstance(q, str)]
            # like queries take their vectors from the catalog: a group holding one embeds in search_batch
            with one_core(lane.busy):  # beside other work: this forward pass keeps to one core
                vectors = coll.embed_queries(words) if len(words) == len(queries) else None
            lane.release()  # the rest is ranking in Python: the core is free for the next batch's forward pass
            results = coll.search_batch(queries, options=opts, vectors=vectors)
        return [search_response(name, q, opts, hits).to_json() for q, hits in zip(queries, results, strict=True)]

    def facets(self, name: str, facet: Facet, query: SearchQuery | None, opts: SearchOptions) -> dict[str, Any]:
        """A facet's counts (files and documents per value) within ``opts.filters`` and, with ``query``,
        within the sources of its best ``opts.k`` hits: the ``/facets`` body (see ``facet_request``)."""
        with self.collections.lease(name) as coll:
            counts = coll.facets(facet, filters=opts.filters, query=query, options=opts if query is not None else None)
        return {"collection": name, "field": counts.field,
                "query": query if isinstance(query, str) else None,
                "like": query.id if isinstance(query, Like) else None,
                "hits": opts.k if query is not None else None,
                "sources": counts.sources, "values": [{"value": v.value, "count": v.count} for v in counts.values]}

    # -- texts ------------------------------------------------------------------------------------
    def embed(self, texts: list[str]) -> EmbedResponse:
        """The ``/embed`` body: the model's own fp32 vectors, token counts and which texts were cut."""
        from app.schemas import EmbedResponse

        embedder = self.embedder
        vecs = embedder.embed_queries(texts, exact=True)
        tokens = embedder.count_tokens(texts)
        cut = [len(embedder.token_offsets(t)) + 2 > embedder.max_seq_length for t in texts]  # + [CLS], [SEP]
        return EmbedResponse(model=embedder.name, dimension=embedder.dimension, embeddings=vecs.tolist(),
                             tokens=tokens, truncated=cut)

    def compare(self, texts: list[str]) -> CompareResponse:
        """The ``/compare`` body for texts: the cosine matrix (and the pair's score for two)."""
        from app.schemas import CompareResponse

        embedder = self.embedder
        m = similarity_matrix(embedder, texts)
        return CompareResponse(model=embedder.name, matrix=m.tolist(),
                               similarity=float(m[0, 1]) if len(texts) == 2 else None)

    def rank(self, query: str, candidates: list[str]) -> CompareResponse:
        """The ``/compare`` body for a query and candidates: the candidates, most similar first."""
        from app.schemas import CompareResponse, RankedCandidate

        embedder = self.embedder
        ranked = rank_candidates(embedder, query, candidates)
        return CompareResponse(model=embedder.name, ranked=[
            RankedCandidate(index=i, text=candidates[i], score=s) for i, s in ranked])

    # -- collections ------------------------------------------------------------------------------
    def read_info(self, name: str) -> CollectionInfo:
        """A collection's info, read from the store without opening it (no model needed)."""
        return read_info(self.backend, name)

    def scan(self) -> tuple[list[CollectionInfo], dict[str, str]]:
        """Every collection's info, and the damaged ones' names with why (no model needed)."""
        return scan_collections(self.backend)

    @contextmanager
    def open_collection(self, name: str | None, *, create: bool) -> Iterator[Collection]:
        """Collection ``name`` (default: SEMSEARCH_DEFAULT_COLLECTION) opened for the caller alone and
        closed after the block (the CLI); a missing one fails before the model loads."""
        s = self.settings
        name = name or s.default_collection
        if not create:
            self.read_info(name)  # fail fast, before loading the model, if it does not exist
        with Collection.open(self.backend, name, self.collection_model(), create=create,
                             index_type=s.index_type, limits=s.limits(), language=s.language) as coll:
            yield coll

    def create_collection(self, name: str, *, index_type: str | None = None,
                          language: str | None = None) -> CollectionInfo:
        """A new empty collection for the served model (kept open by the registry)."""
        return self.collections.create(name, index_type=index_type, language=language)

    def create_and_close(self, name: str, *, index_type: str | None = None,
                         language: str | None = None) -> CollectionInfo:
        """A new empty collection, not kept open (the CLI); a bad name fails before the model loads."""
        s = self.settings
        validate_name(name)
        with Collection.create(self.backend, name, self.collection_model(),
                               index_type=index_type or s.index_type,
                               limits=s.limits(), language=language or s.language) as coll:
            return coll.info()

    def delete_collection(self, name: str) -> None:
        """Delete a collection and its files; its running jobs are cancelled first, and the requests
        using it finish first. A damaged collection can be deleted too."""
        self.collections.require(name)  # missing: CollectionNotFound before touching any job
        if self.jobs is not None:
            for job in self.jobs.active(name):
                self.jobs.cancel(job.id)
            for job in self.jobs.active(name):
                self.jobs.wait(job.id, timeout=60)
        self.collections.delete(name)

    def drop_collection(self, name: str) -> None:
        """Delete a collection's files with no registry or jobs in play (the CLI)."""
        delete_collection(self.backend, name)

    def reindex(self, name: str, *, progress: Callable[..., None] | None = None) -> Any:
        """Re-embed every chunk of ``name`` with the served model (the CLI's ``collections reindex``)."""
        return reindex_collection(self.backend, name, self.embedder, progress=progress)

    def submit_index_folder(self, name: str, folder: Path, *, create: bool, recheck: Callable[[], object]) -> Any:
        """Index ``folder`` into ``name`` as a background job (the jobs' ``Job``); ``recheck`` runs when the
        job starts (the HTTP app checks its allowed roots again). The collection opens (or is created)
        now, so a missing one or another model fails the request, not the job."""
        if self.jobs is None:
            raise RuntimeError("the service's jobs are not started (Service.start)")
        with self.collections.lease(name, create=create):
            pass

        def work(progress: Any, cancel: Any) -> Any:
            progress({"phase": "starting"})
            recheck()
            with self.collections.lease(name) as coll:
                return coll.index_folder(folder, progress=progress, cancel=cancel)

        return self.jobs.submit(name, work, kind="index_folder", params={"path": str(folder)})

    def index_folder(self, name: str | None, folder: Path, *, create: bool = True, **kw: Any) -> IndexReport:
        """Index ``folder`` into collection ``name`` (files added, updated and removed to match it)."""
        with self.open_collection(name, create=create) as coll:
            return coll.index_folder(folder, **kw)

    def remove_path(self, name: str | None, path: Path) -> int:
        """Drop a file's (or a folder's files') chunks from collection ``name``, opened for the caller
        alone (the CLI); how many files were removed."""
        with self.open_collection(name, create=False) as coll:
            return coll.remove_path(path)

    # -- a served collection's documents, texts and map (the registry's open collections) --------
    def collection_info(self, name: str) -> CollectionInfo:
        """One collection's info (of the open collection, or read from the store)."""
        return self.collections.info(name)

    def collection_infos(self) -> tuple[list[CollectionInfo], list[str]]:
        """Every collection's info, and the names of the damaged ones."""
        return self.collections.scan()

    def upsert_documents(self, name: str, docs: list[dict[str, Any]]) -> dict[str, int]:
        """Add or replace documents by id; the counts of added, updated, unchanged ones and chunks."""
        with self.collections.lease(name) as coll:
            return coll.upsert_documents(docs)

    def list_sources(self, name: str, *, kind: str | None, offset: int, limit: int) -> tuple[list[Any], int]:
        """A page of documents and indexed files by id (``kind`` narrows it), and how many there are."""
        with self.collections.lease(name) as coll:
            return coll.list_sources(kind=kind, offset=offset, limit=limit)

    def get_document(self, name: str, doc_id: str) -> Document:
        with self.collections.lease(name) as coll:
            return coll.get_document(doc_id)

    def delete_documents(self, name: str, ids: list[str]) -> int:
        """Delete documents by id; how many there were."""
        with self.collections.lease(name) as coll:
            return coll.delete_documents(ids)

    def delete_document(self, name: str, doc_id: str) -> None:
        """Delete one document (DocumentNotFound when absent)."""
        with self.collections.lease(name) as coll:
            coll.get_document(doc_id)  # 404 when absent
            coll.delete_documents([doc_id])

    def source_text(self, name: str, key: str, *, kind: str, max_chars: int) -> SourceText:
        """The text of an indexed file or document with its chunks' offsets; files are read again only
        under the allowed roots (``indexer.fulltext``)."""
        with self.collections.lease(name) as coll:
            return source_text(coll, key, kind=kind, max_chars=max_chars, readable_roots=self.settings.roots())

    def collection_map(self, name: str, maps: ProjectionCache, *, max_points: int, query: str | None,
                       options: SearchOptions) -> tuple[Projection, dict[str, Any] | None]:
        """The collection's 2-D map (from ``maps``, a cache kept per version) and, with ``query``, where
        it and its top hits fall."""
        with self.collections.lease(name) as coll:
            proj = maps.get(coll, max_points=max_points)
            located = locate_query(coll, proj, query, options=options) if query is not None else None
        return proj, located

    # -- snapshots (the store's capability: files here for the embedded store, NotSupported for Qdrant) --
    def create_snapshot(self, name: str, *, checkpoint: bool = True) -> Any:
        """Snapshot ``name`` now (queries and jobs keep running; it holds every write committed before).
        ``checkpoint`` first writes the open collection's vector file (less change log to replay after a
        restore); the CLI, which has it not open, takes the files as they are."""
        self.backend.require_files("a snapshot")
        if not checkpoint:
            return self.backend.snapshots().create(name)
        with self.collections.lease(name) as coll:  # a delete waits for the snapshot to finish
            coll.checkpoint()
            return self.backend.snapshots().create(name)

    def list_snapshots(self, name: str, *, known: bool = True,
                       skipped: list[dict[str, str]] | None = None) -> list[Any]:
        """The collection's snapshots, newest first (also those of a deleted collection); ``known``:
        CollectionNotFound if there is neither the collection nor a snapshot of it (the CLI lists none);
        ``skipped`` receives the files that are not readable snapshots, by name with the reason."""
        snapshots = self.backend.snapshots()
        if known and name not in self.collections.names() and not snapshots.exists(name):
            raise CollectionNotFound(name)
        return snapshots.list(name, skipped)

    def snapshot_path(self, name: str, snapshot: str) -> Path:
        """The file of a snapshot, to download (SnapshotNotFound if there is none)."""
        return self.backend.snapshots().path(name, snapshot)

    def delete_snapshot(self, name: str, snapshot: str) -> None:
        self.backend.snapshots().delete(name, snapshot)

    def restore_snapshot(self, name: str, snapshot: str | Path) -> CollectionInfo:
        """Replace collection ``name`` with a snapshot (a name from :meth:`list_snapshots`, or a snapshot
        file's ``Path``), whole or not at all, or bring a deleted one back: refused while it has jobs, done
        once the requests using it finish. Returns the collection's info."""
        self.backend.require_files("a snapshot restore")
        snapshots = self.backend.snapshots()
        if isinstance(snapshot, str):
            snapshot = snapshots.path(name, snapshot)  # 404 before anything closes
        if self.jobs is not None and self.jobs.active(name):
            raise CollectionBusy(f"Collection {name!r} has queued or running jobs; cancel them (DELETE /jobs/ID) "
                                 "before restoring.", field="name")
        with self.collections.exclusive(name):
            snapshots.restore(name, snapshot)
        return self.collections.info(name)
