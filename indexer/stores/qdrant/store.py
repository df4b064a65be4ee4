"""The Qdrant store: a collection as one Qdrant collection, on a server (by URL) or in-process (by path).

Points: one per chunk (int64 id; a named ``dense`` cosine vector and a ``keyword`` sparse vector of
BM25 term weights with Qdrant's IDF modifier, see ``indexer/analysis/bm25.py``), one per source (a UUID, no
vectors: kind, key, hashes, metadata, a document's text) and one meta point (model, dimension, the
write sequence). Payload indexes: type, sid, gen, kind, key, ext, modified, and each metadata key
(``meta.<key>``) the first time it is written. The semsearch name is an alias of the physical
collection (``semsearch_<name>`` -> ``semsearch_<name>__<created>``), so a re-index can fill a new
physical collection and swap the alias in one call without downtime (:meth:`QdrantBackend.swap`,
used by ``reindex.py``).

Consistency (Qdrant has no multi-point transactions): a write never shows half a source. Each
version of a source has a generation number ``gen``; a chunk is visible only while its ``gen`` is its
source point's. A write (1) upserts the new chunks under a fresh gen (invisible), (2) upserts the
source points with that gen (the commit point, one point per source), (3) deletes the old chunks and
the deleted sources. A failure before (2) leaves the old version, after it the new one; the chunks
left behind are invisible and swept on the next open (the meta point's ``dirty`` flag says a write
did not finish). Every call is idempotent (fixed ids), so connection errors are retried.

Copies (``SourceWrite.copy_of``): a file with another file's content is a source point with no chunks
whose ``same_as`` names the canonical file. The canonical's chunk points carry, for filters, the
extensions and mtimes of the canonical and its copies as lists in ``ext`` and ``modified`` (Qdrant
matches a list when any element does); a path glob maps a matching copy to its canonical's ``sid``.
Replacing or deleting a canonical first promotes its first copy (by path) that the write keeps: the
chunks' ``sid``/``key``/``root`` are set to the copy's (same ids, same gen) and the other copies point at it.

Replicas: every read goes to the server, so a write is visible to every process as soon as it
returns (the client waits for the server to apply it, ``wait=True``).

The package: ``points.py`` (point ids, names, filter helpers), ``backend.py`` (the server or local
mode: collections by name, the job table), this file (one collection: its meta point and every read
path, which apply the one visibility rule ``gen`` above), ``writes.py`` (the write path, the three steps
above), ``copies.py`` (copies: promoting one, their ext/modified lists, a hit's other paths),
``filters.py`` (a search's filters as Qdrant conditions), ``facets.py`` (facet counts and sort keys),
``jobs.py`` (the job table) and ``reindex.py`` (re-embedding behind the alias).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
from qdrant_client import models

from indexer.analysis.bm25 import query_vector
from indexer.errors import CollectionNotFound, ModelMismatch, Reindexing
from indexer.facets import Facet, FacetCounts
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
from indexer.stores.qdrant import copies, facets, writes
from indexer.stores.qdrant.filters import chunk_filter
from indexer.stores.qdrant.indexing_lock import LeaseIndexingLock
from indexer.stores.qdrant.points import (
    DENSE,
    KEYWORD,
    META_ID,
    PAGE,
    PREFIX,
    REINDEX_STALE_SECONDS,
    Connection,
    _f,
    _h63,
    _m,
    source_point,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


class QdrantStore:
    """One semsearch collection in Qdrant (see the module's docstring for the layout and guarantees)."""

    backend = "qdrant"

    def __init__(self, backend: Connection, name: str) -> None:
        self.qb = backend
        self.name = name
        backend.physical(name)  # CollectionNotFound if there is no such collection
        # Every call names the alias, never the physical collection: a re-index that swaps the alias
        # moves every reader and writer of every process at once (see reindex.py).
        self.alias = PREFIX + name
        m = self._meta_payload()
        self.meta = meta_of(m)
        self.analyzer = self.meta.analyzer()
        self._write_lock = threading.Lock()
        self._gens: dict[str, int | None] | None = None  # source point -> gen, cached within reading()
        # flat: exact search, like FAISS flat; hnsw: the server's HNSW (local mode is always exact)
        self.search_params = None if backend.local else models.SearchParams(exact=self.meta.index_type == "flat")

    def _call(self, method: str, *args: Any, what: str, **kwargs: Any) -> Any:
        return self.qb.call(method, *args, what=f"{what} ({self.name})", **kwargs)

    def _meta_payload(self) -> dict[str, Any]:
        got = self._call("retrieve", self.alias, [META_ID], with_payload=True, what="read meta")
        if not got:
            raise CollectionNotFound(self.name)
        return dict(got[0].payload or {})

    def _set_meta(self, **values: Any) -> None:
        self._call("set_payload", self.alias, values, points=[META_ID], wait=True, what="write meta")

    def indexing_lock(self) -> LeaseIndexingLock:
        return LeaseIndexingLock(self)

    def load(self) -> None:
        if self._meta_payload().get("dirty"):
            log.warning("%s: a write did not finish; removing the chunks it left behind", self.name)
            self._sweep()
            self._set_meta(dirty=False)

    def _sweep(self) -> None:
        """Delete the chunks whose gen is not their source's (left by an interrupted write)."""
        gens = {p["sid"]: p["gen"] for p in self._scroll(_f(_m("type", "source")), ["sid", "gen"])}
        stale = [pid for pid, p in self._scroll_ids(_f(_m("type", "chunk")), ["sid", "gen"])
                 if gens.get(p["sid"]) != p["gen"]]
        self._delete_points(stale)

    # -- scrolling -----------------------------------------------------------------------------------
    def _scroll_ids(self, flt: models.Filter, fields: Sequence[str] | bool = True, vectors: bool = False
                    ) -> Iterator[tuple[Any, dict[str, Any]]]:
        offset: Any = None
        payload: Any = list(fields) if not isinstance(fields, bool) else fields
        while True:
            pts, offset = self._call("scroll",
                self.alias, scroll_filter=flt, limit=PAGE, offset=offset, with_payload=payload,
                with_vectors=[DENSE] if vectors else False, what="scroll")
            for p in pts:
                pl = dict(p.payload or {})
                if vectors:
                    pl["_vector"] = _dense(p.vector)
                yield p.id, pl
            if offset is None:
                return

    def _scroll(self, flt: models.Filter, fields: Sequence[str] | bool = True) -> Iterator[dict[str, Any]]:
        return (p for _, p in self._scroll_ids(flt, fields))

    def _delete_points(self, ids: Sequence[Any]) -> None:
        for i in range(0, len(ids), PAGE):
            part = list(ids[i : i + PAGE])
            self._call("delete", self.alias, models.PointIdsList(points=part), wait=True, what="delete")

    def _sources(self, keys: Sequence[tuple[str, str]], fields: Sequence[str] | bool = True
                 ) -> dict[tuple[str, str], dict[str, Any]]:
        out: dict[tuple[str, str], dict[str, Any]] = {}
        ids = [source_point(k, key) for k, key in keys]
        for i in range(0, len(ids), PAGE):
            got = self._call("retrieve", self.alias, ids[i : i + PAGE], with_payload=fields, what="read sources")
            for pt in got:
                pl = dict(pt.payload or {})
                if "kind" in pl:
                    out[(pl["kind"], pl["key"])] = pl
        return out

    def _visible_chunks(self, sid: int, gen: int, fields: Sequence[str], vectors: bool = False
                        ) -> list[tuple[Any, dict[str, Any]]]:
        return sorted(self._scroll_ids(_f(_m("sid", sid), _m("gen", gen), _m("type", "chunk")), fields, vectors),
                      key=lambda t: t[1]["ord"])

    # -- writing (``writes.py``; copies: ``copies.py``) -----------------------------------------------
    def write(self, upserts: Sequence[SourceWrite] = (), deletes: Sequence[tuple[str, str]] = (),
              touches: Sequence[tuple[str, float]] = ()) -> WriteResult:
        return writes.write(self, upserts, deletes, touches)

    def canonical_file(self, sha256: str) -> str | None:
        return copies.canonical_file(self, sha256)

    def checkpoint(self) -> None:
        pass  # the server makes writes durable (its WAL) before it answers

    def refresh(self) -> None:
        pass  # every read asks the server: nothing is cached between searches

    def close(self) -> None:
        pass  # the client belongs to the backend (one per process), closed with it

    # -- sync, documents, counts ---------------------------------------------------------------------
    def file_states(self, prefix: str) -> dict[str, tuple[int, float, str, bool]]:
        fields = ["key", "size", "mtime", "sha256", "partial"]
        return {p["key"]: (int(p["size"]), float(p["mtime"]), p["sha256"], bool(p["partial"]))
                for p in self._scroll(_f(_m("type", "source"), _m("kind", "file")), fields)
                if p["key"].startswith(prefix)}

    def has_source(self, kind: str, key: str) -> bool:
        return bool(self._sources([(kind, key)], ["kind", "key"]))

    def chunk_spans(self, kind: str, key: str) -> list[tuple[int, int, int]]:
        src = self._sources([(kind, key)], ["kind", "key", "sid", "gen"]).get((kind, key))
        if src is None:
            return []
        return [(p["ord"], p["start"], p["end"]) for _, p in self._visible_chunks(src["sid"], src["gen"],
                                                                                  ["ord", "start", "end"])]

    def source_hashes(self, kind: str, keys: Sequence[str]) -> dict[str, str]:
        got = self._sources([(kind, k) for k in keys], ["kind", "key", "sha256"])
        return {key: p["sha256"] for (_, key), p in got.items()}

    def source_keys(self) -> dict[str, str]:
        return {p["key"]: p["kind"] for p in self._scroll(_f(_m("type", "source")), ["key", "kind"])}

    def list_sources(self, *, kind: str | None, offset: int, limit: int) -> tuple[list[SourceRow], int]:
        conds = [_m("type", "source"), *([_m("kind", kind)] if kind else [])]
        rows = sorted(self._scroll(_f(*conds), ["sid", "kind", "key", "ext", "size", "mtime", "sha256", "metadata",
                                                "indexed_at", "chunks", "root", "same_as"]), key=lambda p: p["key"])
        page = [SourceRow(p["sid"], p["kind"], p["key"], p["ext"], p["size"], p["mtime"], p["sha256"], p["metadata"],
                          p["indexed_at"], p["chunks"], p.get("root") or "", p.get("same_as") or "")
                for p in rows[offset : offset + limit]]
        return page, len(rows)

    def stored_source(self, key: str, kinds: Sequence[str]) -> StoredSource | None:
        got = self._sources([(k, key) for k in kinds])
        for kind in kinds:
            p = got.get((kind, key))
            if p is not None:
                if p.get("same_as"):  # a copy: its chunks are its canonical file's
                    p = {**p, **self._sources([("file", p["same_as"])], ["kind", "key", "sid", "gen"]).get(
                        ("file", p["same_as"]), {})}
                chunks = sorted(((int(pid), c["start"], c["end"], c["text"]) for pid, c in
                                 self._visible_chunks(p["sid"], p["gen"], ["ord", "start", "end", "text"])),
                                key=lambda t: t[1])
                return StoredSource(p["sid"], kind, key, p["sha256"], p.get("text"), p["metadata"], chunks)
        return None

    def count_chunks(self) -> int:
        return self._call("count", self.alias, _f(_m("type", "chunk")), exact=True, what="count").count

    def count_sources(self) -> dict[str, int]:
        return {k: self._call("count", self.alias, _f(_m("type", "source"), _m("kind", k)), exact=True,
                              what="count").count for k in ("file", "doc")}

    def size_bytes(self) -> int:
        return 0  # the server's business (its telemetry has it); local mode's folder is shared by collections

    @property
    def seq(self) -> int:
        return int(self._meta_payload().get("seq", 0))

    # -- retrieval -----------------------------------------------------------------------------------
    def _check_current(self, meta: dict[str, Any], *, writing: bool = True) -> None:
        """Refuse a write while a re-index runs, and notice that one swapped in another model: this
        process's model no longer matches the collection's vectors (one meta read per search batch)."""
        if float(meta.get("created", 0)) != self.meta.created:
            fresh = meta_of(meta)
            if (fresh.model, fresh.dimension) != (self.meta.model, self.meta.dimension):
                raise ModelMismatch(self.name, fresh.model, fresh.dimension, self.meta.model, self.meta.dimension)
            self.meta = fresh  # re-indexed with the same model: nothing changes for this process
        job = meta.get("reindexing")
        if writing and job and time.time() - float(job.get("heartbeat", 0)) < REINDEX_STALE_SECONDS:
            raise Reindexing(self.name, str(job.get("model")), str(job.get("by")))

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Qdrant has no read snapshots: a search batch may see a write that lands meanwhile, but each
        source before or after it (the gen rule), never half of it. Source gens are cached for the batch."""
        self._check_current(self._meta_payload(), writing=False)
        self._gens = {}
        try:
            yield
        finally:
            self._gens = None

    def _query(self, query: Any, using: str, k: int, filters: Filters) -> list[tuple[int, float]]:
        flt = chunk_filter(self, filters)
        got = self._call("query_points", self.alias, query=query, using=using, limit=k, query_filter=flt,
                         search_params=self.search_params, with_payload=False, what="search")
        return [(int(p.id), float(p.score)) for p in got.points]

    def dense_chunks(self, qvec: np.ndarray, k: int, filters: Filters) -> list[tuple[int, float]]:
        return self._query(np.asarray(qvec, np.float32).reshape(-1).tolist(), DENSE, k, filters)

    def keyword_chunks(self, text: str, k: int, filters: Filters) -> list[tuple[int, float]]:
        idx, vals = query_vector(text, self.analyzer)
        if not idx:
            return []
        return self._query(models.SparseVector(indices=idx, values=vals), KEYWORD, k, filters)

    def _chunks(self, ids: Sequence[int], fields: Sequence[str] | bool, vectors: bool = False
                ) -> dict[int, dict[str, Any]]:
        """Visible chunks' payloads by id (a chunk whose gen is not its source's is left out)."""
        out: dict[int, dict[str, Any]] = {}
        want = list(fields) + ["sid", "gen", "kind", "key"] if not isinstance(fields, bool) else fields
        for i in range(0, len(ids), PAGE):
            part = [int(x) for x in ids[i : i + PAGE]]
            got = self._call("retrieve", self.alias, part, with_payload=want,
                             with_vectors=[DENSE] if vectors else False, what="read chunks")
            for pt in got:
                pl = dict(pt.payload or {})
                if vectors:
                    pl["_vector"] = _dense(pt.vector)
                out[int(pt.id)] = pl
        gens = self._gens if self._gens is not None else {}
        missing = {source_point(p["kind"], p["key"]) for p in out.values()} - set(gens)
        if missing:
            for pid in missing:
                gens[pid] = None
            for (kind, key), p in self._sources([(p["kind"], p["key"]) for p in out.values()
                                                 if source_point(p["kind"], p["key"]) in missing],
                                                ["kind", "key", "gen"]).items():
                gens[source_point(kind, key)] = p["gen"]
        return {cid: p for cid, p in out.items() if gens.get(source_point(p["kind"], p["key"])) == p["gen"]}

    def sources_of_chunks(self, ids: Sequence[int]) -> dict[int, int]:
        return {cid: int(p["sid"]) for cid, p in self._chunks(ids, []).items()}

    def source_sort_keys(self, ids: Sequence[int]) -> dict[int, tuple[float, str]]:
        return facets.source_sort_keys(self, ids)

    def facet_counts(self, facet: Facet, filters: Filters, sources: Sequence[int] | None = None) -> FacetCounts:
        return facets.facet_counts(self, facet, filters, sources)

    def hit_rows(self, ids: Sequence[int]) -> dict[int, HitRow]:
        got = self._chunks(ids, ["start", "end", "text", "meta", "cmeta", "root"])
        also = copies.also_at(self, sorted({p["key"] for p in got.values() if p["kind"] == "file"}))
        return {cid: HitRow(cid, p["start"], p["end"], p["text"], p["kind"], p["key"], p["meta"], p["cmeta"],
                            p.get("root") or "", *(also.get(p["key"], ([], 0)) if p["kind"] == "file" else ([], 0)))
                for cid, p in got.items()}

    def vectors_for(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        return {cid: p["_vector"] for cid, p in self._chunks(ids, [], vectors=True).items()}

    def find_source(self, key: str) -> int | None:
        got = self._sources([("doc", key), ("file", key)], ["kind", "key", "sid", "same_as"])
        for kind in ("doc", "file"):
            if (kind, key) in got:
                p = got[(kind, key)]
                return _h63("file", p["same_as"]) if p.get("same_as") else int(p["sid"])
        return None

    def source_vectors(self, source_id: int) -> np.ndarray:
        src = next(iter(self._scroll(_f(_m("type", "source"), _m("sid", source_id)), ["gen"])), None)
        if src is None:
            return np.zeros((0, 0), np.float32)
        rows = self._visible_chunks(source_id, src["gen"], ["ord"], vectors=True)
        return np.stack([p["_vector"] for _, p in rows]) if rows else np.zeros((0, 0), np.float32)

    def chunk_ids(self) -> np.ndarray:
        ids = [int(pid) for pid, _ in self._scroll_ids(_f(_m("type", "chunk")), False)]
        return np.array(sorted(ids), dtype=np.int64)

    def map_rows(self, ids: Sequence[int], preview_chars: int) -> list[dict[str, Any]]:
        got = self._chunks(ids, ["start", "end", "text", "root"], vectors=True)
        return [{"chunk_id": cid, "start": p["start"], "end": p["end"], "preview": p["text"][:preview_chars],
                 "kind": p["kind"], "id": p["key"], "root": p["root"], "vector": p["_vector"]}
                for cid, p in sorted(got.items())]


def _dense(vector: Any) -> np.ndarray:
    v = vector.get(DENSE) if isinstance(vector, dict) else vector
    return np.asarray(v, dtype=np.float32)


def meta_of(payload: dict[str, Any]) -> StoreMeta:
    """The StoreMeta of a meta point's payload (one made before languages existed: English, legacy)."""
    return StoreMeta(payload["model"], int(payload["dimension"]), payload.get("index_type", "flat"),
                     float(payload["created"]), language=payload.get("language", "en"),
                     keywords=payload.get("keywords", LEGACY))
