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
mode: collections by name, the job table), this file (one collection: the write path and every read
path, which apply the one visibility rule ``gen`` above), ``jobs.py``
(the job table) and ``reindex.py`` (re-embedding behind the alias).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, TypeVar

import numpy as np
from qdrant_client import models

from indexer.analysis.bm25 import document_vector, query_vector
from indexer.errors import CollectionNotFound, ModelMismatch, Reindexing
from indexer.facets import Facet, FacetCounts, folder_at, ranked
from indexer.filters import Cond, Filters, matches
from indexer.stores.base import (
    ALSO_AT_MAX,
    LEGACY,
    HitRow,
    SourceRow,
    SourceWrite,
    StoredSource,
    StoreMeta,
    WriteResult,
)
from indexer.stores.qdrant.filters import filter_conditions
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

    # -- writing -------------------------------------------------------------------------------------
    def write(self, upserts: Sequence[SourceWrite] = (), deletes: Sequence[tuple[str, str]] = (),
              touches: Sequence[tuple[str, float]] = ()) -> WriteResult:
        for u in upserts:
            if len(u.chunks) != len(u.vectors):
                raise ValueError(f"{u.key}: {len(u.chunks)} chunks but {len(u.vectors)} vectors")
        now = time.time()
        with self._write_lock:
            meta = self._meta_payload()
            self._check_current(meta)
            self._set_meta(dirty=True)
            keys = [*deletes, *((u.kind, u.key) for u in upserts)]
            replaced = [*deletes, *((u.kind, u.key) for u in upserts if not u.append)]
            refresh: set[str] = set()  # canonical files whose copies changed: their chunks' ext/modified lists
            before = self._sources(keys)
            # The replaced or deleted canonical files that have copies (one scroll for the batch) hand their
            # chunks to a copy first; then what the write replaces is read again.
            files = [key for kind, key in replaced if kind == "file" and (kind, key) in before
                     and not before[(kind, key)].get("same_as")]
            with_copies = {p["same_as"] for p in self._scroll(_f(_m("type", "source"), models.FieldCondition(
                key="same_as", match=models.MatchAny(any=files))), ["same_as"])} if files else set()
            for key in [key for key in files if key in with_copies]:
                self._promote_copy("file", key, {k for kd, k in replaced if kd == "file"}, refresh)
            if with_copies:
                before = self._sources(keys)
            for p in before.values():
                if p.get("same_as"):
                    refresh.add(p["same_as"])
            points, sources, added = [], [], []
            new_keys = set(meta.get("meta_keys", []))
            writing = {u.key: u for u in upserts if u.kind == "file" and u.copy_of is None}
            for u in upserts:
                if u.copy_of is not None:
                    copy = self._copy_point(u, writing, now)
                    sources.append(copy)
                    refresh.add((copy.payload or {})["same_as"])
                    continue
                old = before.get((u.kind, u.key))
                if u.append:
                    if old is None or not old.get("partial") or old["sha256"] != u.sha256:
                        raise ValueError(f"{u.key}: no partial source with sha256 {u.sha256} to append to")
                    gen = int(old["gen"])
                else:
                    gen = random.getrandbits(62) + 1
                sid = _h63(u.kind, u.key)
                modified = u.mtime if u.kind == "file" else now
                cmetas = list(u.chunk_metadata) or [{}] * len(u.chunks)
                analyzer = self.analyzer.for_document([c.text for c in u.chunks]) if self.analyzer else None
                for c, v, cm in zip(u.chunks, np.asarray(u.vectors, np.float32), cmetas, strict=True):
                    cid = _h63(u.kind, u.key, str(gen), str(c.ord))
                    merged = {**u.metadata, **cm}
                    new_keys.update(merged)
                    idx, vals = document_vector(c.text, analyzer)
                    points.append(models.PointStruct(id=cid, vector={
                        DENSE: v.tolist(), KEYWORD: models.SparseVector(indices=idx, values=vals)}, payload={
                        "type": "chunk", "sid": sid, "gen": gen, "ord": c.ord, "start": c.start, "end": c.end,
                        "text": c.text, "kind": u.kind, "key": u.key, "root": u.root, "ext": u.ext,
                        "modified": modified, "meta": merged, "cmeta": cm}))
                    added.append(cid)
                src = {"type": "source", "sid": sid, "gen": gen, "kind": u.kind, "key": u.key, "root": u.root,
                       "ext": u.ext, "size": u.size, "mtime": u.mtime, "sha256": u.sha256, "metadata": u.metadata,
                       "text": u.text, "indexed_at": now, "partial": u.partial,
                       "chunks": (int(old["chunks"]) if u.append and old else 0) + len(u.chunks)}
                if u.append and old:
                    src = {**old, "partial": u.partial, "indexed_at": now, "chunks": src["chunks"]}
                sources.append(models.PointStruct(id=source_point(u.kind, u.key), vector={}, payload=src))
            for f in sorted(new_keys - set(meta.get("meta_keys", []))):
                self.qb.index_field(self.qb.physical(self.name), f"meta.{f}", "keyword")
            for i in range(0, len(points), PAGE // 4):  # 1. the new chunks, invisible (their gen is not current)
                part = points[i : i + PAGE // 4]
                self._call("upsert", self.alias, part, wait=True, what="write chunks")
            if sources:  # 2. the commit point: each source now shows its new chunks
                self._call("upsert", self.alias, sources, wait=True, what="write sources")
            removed: list[Any] = []  # 3. what the write replaced or deleted
            current = {(s.payload or {})["sid"]: (s.payload or {})["gen"] for s in sources}
            for kind, key in keys:
                old = before.get((kind, key))
                if old is None:
                    continue
                sid = int(old["sid"])
                keep = current.get(sid)
                removed += [pid for pid, c in self._scroll_ids(_f(_m("sid", sid), _m("type", "chunk")), ["gen"])
                            if c.get("gen") != keep]
            gone = [source_point(k, key) for k, key in deletes if (k, key) in before
                    and _h63(k, key) not in current]
            self._delete_points(removed)
            self._delete_points(gone)
            if touches:
                touched = self._sources([("file", key) for key, _ in touches], ["kind", "key", "same_as"])
                refresh.update(p["same_as"] for p in touched.values() if p.get("same_as"))
                refresh.update(p["same_as"] for p in self._scroll(_f(_m("type", "source"), models.FieldCondition(
                    key="same_as", match=models.MatchAny(any=[key for key, _ in touches]))), ["same_as"]))
                for key, mtime in touches:
                    sid = _h63("file", key)
                    self._call("set_payload",
                        self.alias, {"modified": mtime}, points=_f(_m("sid", sid), _m("type", "chunk")),
                        wait=True, what="touch")
                    self._call("set_payload",
                        self.alias, {"mtime": mtime}, points=[source_point("file", key)], wait=True, what="touch")
            for key in sorted(refresh):
                self._refresh_copies(key)
            seq = int(meta.get("seq", 0)) + 1
            self._set_meta(seq=seq, dirty=False, meta_keys=sorted(new_keys))
        removed_ids = [int(r) for r in removed if int(r) not in set(added)]
        return WriteResult(seq=seq, added_ids=np.asarray(added, np.int64),
                           added_vectors=np.zeros((0, self.meta.dimension), np.float32),
                           removed_ids=np.asarray(removed_ids, np.int64),
                           chunks_added=len(added), chunks_removed=len(removed_ids))

    def _copies_of(self, key: str, fields: Sequence[str]) -> list[dict[str, Any]]:
        """The source payloads of file ``key``'s copies, by path."""
        return sorted(self._scroll(_f(_m("type", "source"), _m("same_as", key)), ["key", *fields]),
                      key=lambda p: p["key"])

    def _promote_copy(self, kind: str, key: str, leaving: set[str], refresh: set[str]) -> None:
        """Before source (kind, key) is replaced or deleted: if it is a canonical file with copies the
        write keeps (not in ``leaving``), the first by path takes its chunks (their sid, key and root are
        set to the copy's; same ids and gen) and the others point at it."""
        if kind != "file":
            return
        src = self._sources([(kind, key)]).get((kind, key))
        if src is None or src.get("same_as"):
            return
        copies = [c for c in self._copies_of(key, ["sid", "root"]) if c["key"] not in leaving]
        if not copies:
            return
        heir = copies[0]
        # The heir's source point first (its gen is the chunks'), then the chunks, then the other copies.
        heir_point = {**src, "sid": heir["sid"], "key": heir["key"], "root": heir["root"], "same_as": None,
                      **{f: h for f, h in self._sources([("file", heir["key"])]).get(("file", heir["key"]), {}).items()
                         if f in ("ext", "size", "mtime", "sha256", "indexed_at")}}
        self._call("upsert", self.alias, [models.PointStruct(id=source_point("file", heir["key"]), vector={},
                                                             payload=heir_point)], wait=True, what="promote a copy")
        self._call("set_payload", self.alias, {"sid": heir["sid"], "key": heir["key"], "root": heir["root"]},
                   points=_f(_m("sid", src["sid"]), _m("type", "chunk")), wait=True, what="promote a copy")
        others = [source_point("file", c["key"]) for c in copies[1:]]
        if others:
            self._call("set_payload", self.alias, {"same_as": heir["key"]}, points=others, wait=True,
                       what="promote a copy")
        refresh.add(heir["key"])

    def _copy_point(self, u: SourceWrite, writing: dict[str, SourceWrite], now: float) -> models.PointStruct:
        """The source point of copy ``u`` (see ``SourceWrite.copy_of``): its canonical is a file this write
        stores, or one stored (a copy's canonical if ``copy_of`` is itself a copy)."""
        assert u.copy_of is not None
        new = writing.get(u.copy_of)
        if new is not None:
            canonical, sha, partial, metadata = new.key, new.sha256, new.partial, new.metadata
        else:
            got = self._sources([("file", u.copy_of)], ["kind", "key", "sha256", "partial", "same_as", "metadata"])
            p = got.get(("file", u.copy_of), {})
            canonical, sha, partial = str(p.get("same_as") or u.copy_of), str(p.get("sha256")), bool(p.get("partial"))
            metadata = p.get("metadata", {})
        if sha != u.sha256 or partial:
            raise ValueError(f"{u.key}: no complete file {u.copy_of} with sha256 {u.sha256} to be a copy of")
        return models.PointStruct(id=source_point("file", u.key), vector={}, payload={
            "type": "source", "sid": _h63("file", u.key), "gen": 0, "kind": "file", "key": u.key, "root": u.root,
            "ext": u.ext, "size": u.size, "mtime": u.mtime, "sha256": u.sha256, "metadata": metadata, "text": None,
            "indexed_at": now, "partial": False, "chunks": 0, "same_as": canonical})

    def _refresh_copies(self, key: str) -> None:
        """Set the ext and modified of canonical file ``key``'s chunks to its own and its copies' (lists
        when it has copies), so a filter on a copy's extension or mtime finds the content."""
        src = self._sources([("file", key)], ["kind", "key", "sid", "ext", "mtime", "same_as"]).get(("file", key))
        if src is None or src.get("same_as"):
            return
        copies = self._copies_of(key, ["ext", "mtime"])
        values: dict[str, Any] = {"ext": src["ext"], "modified": src["mtime"]}
        if copies:
            values = {"ext": [src["ext"], *sorted({c["ext"] for c in copies} - {src["ext"]})],  # its own first
                      "modified": [src["mtime"], *(c["mtime"] for c in copies)]}
        self._call("set_payload", self.alias, values, points=_f(_m("sid", src["sid"]), _m("type", "chunk")),
                   wait=True, what="record copies")

    def canonical_file(self, sha256: str) -> str | None:
        keys = [p["key"] for p in self._scroll(_f(_m("type", "source"), _m("kind", "file"), _m("sha256", sha256)),
                                               ["key", "partial", "same_as"])
                if not p.get("partial") and not p.get("same_as")]
        return min(keys) if keys else None

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

    def _filter(self, filters: Filters) -> models.Filter | None:
        """The Qdrant filter for ``filters`` (None: every chunk; ``filters.py``).

        No ``type == chunk`` condition: a search names a vector (``dense`` or ``keyword``) and only
        chunk points have vectors, so source and meta points never come back. Without a condition,
        an unfiltered search is a plain vector search: local mode evaluates a filter point by point in
        Python (~50 us a point, most of a query's time on SciFact), and a server skips the payload index."""
        return filter_conditions(filters.tree(), self._source_ids)

    def _source_ids(self, cond: Cond) -> list[int]:
        """The sources a condition Qdrant cannot put on a chunk (a glob, a size) holds for, by a scan
        of the source points (one per file or document) with the reference reading of the condition.
        A copy that matches stands for its canonical file (whose chunks it shares)."""
        fields = ["sid", "kind", "key", "root", "ext", "size", "mtime", "indexed_at", "same_as"]
        scope = _f(_m("type", "source"), *([_m("kind", "file")] if cond.op == "glob" else []))  # a glob: files only
        return [_h63("file", p["same_as"]) if p.get("same_as") else p["sid"] for p in self._scroll(scope, fields)
                if matches(cond, {**p, "path": p["key"], "metadata": {},
                                  "modified": p["mtime"] if p["kind"] == "file" else p["indexed_at"]})]

    def _query(self, query: Any, using: str, k: int, filters: Filters) -> list[tuple[int, float]]:
        flt = self._filter(filters)
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
        if not ids:
            return {}
        sids = models.FieldCondition(key="sid", match=models.MatchAny(any=[int(i) for i in ids]))
        flt = _f(_m("type", "source"), sids)
        return {int(p["sid"]): (float(p["mtime"] if p["kind"] == "file" else p["indexed_at"]), p["key"])
                for p in self._scroll(flt, ["sid", "kind", "key", "mtime", "indexed_at"])}

    def facet_counts(self, facet: Facet, filters: Filters, sources: Sequence[int] | None = None) -> FacetCounts:
        """Counted here, over a scroll of the matching source points (when only source-level fields are
        asked and filtered) or chunk points: Qdrant's facet API counts points (chunks), needs a payload
        index per field and cannot cut a folder out of a path."""
        flt = self._filter(filters)
        if sources is not None and not sources:
            return FacetCounts(facet.name)
        within = [] if sources is None else [
            models.FieldCondition(key="sid", match=models.MatchAny(any=[int(i) for i in sources]))]
        if facet.field != "metadata" and not filters.metadata and filters.modified_after is None \
                and filters.where is None:
            # Only source-level conditions (ext, the glob's sids): count the source points, a tenth of
            # the chunks or less (local mode reads every point it scrolls in Python). A ``where`` is written
            # for chunk points (their payload), so it takes the chunk scroll below.
            by_value: Counter[str] = Counter()
            total = 0
            for p in self._scroll(_f(_m("type", "source"), *([flt] if flt is not None else []), *within),
                                  ["sid", "kind", "key", "root", "ext", "mtime", "indexed_at", "chunks"]):
                if not p.get("chunks"):  # no chunk to match, as in the chunk scroll below and the SQL stores
                    continue
                total += 1
                value = _facet_value(facet, {**p, "modified": p["mtime"] if p["kind"] == "file" else p["indexed_at"]})
                if value is not None:
                    by_value[json.dumps(value)] += 1
            return FacetCounts(facet.name, ranked([(json.loads(v), n) for v, n in by_value.items()], facet.top), total)
        conds: list[Any] = [_m("type", "chunk"), *([flt] if flt is not None else []), *within]
        seen: dict[int, tuple[str, str, int]] = {}  # sid -> (kind, key, gen) of the first chunk seen
        values: dict[tuple[int, int], set[str]] = {}  # (sid, gen) -> the JSON text of its values
        for p in self._scroll(_f(*conds), ["sid", "gen", "kind", "key", "root", "ext", "modified", "meta"]):
            sid, gen = int(p["sid"]), int(p["gen"])
            seen.setdefault(sid, (p["kind"], p["key"], gen))
            got = values.setdefault((sid, gen), set())
            value = _facet_value(facet, p)
            if value is not None:
                got.add(json.dumps(value))
        current = self._sources([(kind, key) for kind, key, _ in seen.values()], ["kind", "key", "sid", "gen"])
        gens = {int(p["sid"]): int(p["gen"]) for p in current.values()}
        counts: Counter[str] = Counter()
        total = 0
        for (sid, gen), vals in values.items():
            if gens.get(sid) == gen:  # a visible version of its source (the gen rule)
                total += 1
                counts.update(vals)
        return FacetCounts(facet.name, ranked([(json.loads(v), n) for v, n in counts.items()], facet.top), total)

    def hit_rows(self, ids: Sequence[int]) -> dict[int, HitRow]:
        got = self._chunks(ids, ["start", "end", "text", "meta", "cmeta", "root"])
        also: dict[str, tuple[list[str], int]] = {}
        files = sorted({p["key"] for p in got.values() if p["kind"] == "file"})
        if files:
            copies = self._scroll(_f(_m("type", "source"), models.FieldCondition(
                key="same_as", match=models.MatchAny(any=files))), ["key", "same_as"])
            for c in sorted(copies, key=lambda c: c["key"]):
                paths, n = also.get(c["same_as"], ([], 0))
                if len(paths) < ALSO_AT_MAX:
                    paths.append(c["key"])
                also[c["same_as"]] = (paths, n + 1)
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


def _facet_value(facet: Facet, p: dict[str, Any]) -> Any:
    """A chunk point's value of ``facet`` (None: it has none), as the SQL stores compute it: a file with
    copies lists their ext and modified after its own (``_refresh_copies``), and counts by its own."""
    p = {**p, **{k: p[k][0] for k in ("ext", "modified") if isinstance(p.get(k), list) and p[k]}}
    if facet.field == "ext":
        return p.get("ext") or None if p["kind"] == "file" else None
    if facet.field == "folder":
        return folder_at(p["key"], p.get("root") or "", facet.depth) if p["kind"] == "file" else None
    if facet.field in ("year", "month"):
        when = datetime.fromtimestamp(float(p["modified"]), tz=timezone.utc)
        return when.strftime("%Y" if facet.field == "year" else "%Y-%m")
    value = (p.get("meta") or {}).get(facet.key)
    return value if isinstance(value, (str, int, float, bool)) else None


def _dense(vector: Any) -> np.ndarray:
    v = vector.get(DENSE) if isinstance(vector, dict) else vector
    return np.asarray(v, dtype=np.float32)


def meta_of(payload: dict[str, Any]) -> StoreMeta:
    """The StoreMeta of a meta point's payload (one made before languages existed: English, legacy)."""
    return StoreMeta(payload["model"], int(payload["dimension"]), payload.get("index_type", "flat"),
                     float(payload["created"]), language=payload.get("language", "en"),
                     keywords=payload.get("keywords", LEGACY))
