"""Re-index a Qdrant collection with another model without downtime: fill a new physical collection,
then move the alias in one call.

Why this is Qdrant's (the embedded store answers NotSupported): the swap needs a name that every
process resolves on every request. Qdrant's collection aliases are exactly that; a folder of SQLite
and FAISS files held open by a server has no such name.

What a re-index does, and what it guarantees:
1. It marks the collection ``reindexing`` (model, host:pid, heartbeat) in the meta point. From then
   on every write through any process is refused with a clear "retry when it finishes" (HTTP 409);
   searches go on against the old vectors. The mark goes stale after ``REINDEX_STALE_SECONDS``
   without a heartbeat, so a re-index that was killed does not block writes for ever.
2. It copies every *visible* source (the gen rule of ``store.py``) with its chunks' text, offsets
   and metadata, embedding the chunks with the new model (the chunk boundaries stay: they came from
   the files, not from the model). Writes that were in flight when the mark was set finish first;
   any that landed meanwhile (the write sequence moved) are copied again in another round.
3. It writes the new meta point (model, dimension, a new ``created``) and swaps the alias, which
   also deletes the old physical collection. A process still holding the old model notices at its
   next search or write (``QdrantStore._check_current``) and answers ModelMismatch, naming the model
   to restart with.
A failure or a cancel before the swap drops the new collection and clears the mark: the collection is
as it was. Physical collections left by a killed re-index are removed by the next one.

The one gap (Qdrant has no transactions to close it): a write that passed its check before the mark
was set, stalled through the whole copy, and commits in the milliseconds between the last check of
the write sequence and the swap, is not in the new collection. Indexing its folder again brings it.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from qdrant_client import models

from indexer.analysis.bm25 import document_vector
from indexer.embedding import Embedder
from indexer.errors import Reindexing
from indexer.stores.base import ReindexReport
from indexer.stores.qdrant.points import (
    DENSE,
    KEYWORD,
    META_ID,
    PREFIX,
    REINDEX_STALE_SECONDS,
    Connection,
    _f,
    _m,
)
from indexer.stores.qdrant.store import QdrantStore

log = logging.getLogger(__name__)

BATCH_SOURCES = 64  # sources copied (and their chunks embedded) per round trip
QUIET_SECONDS = 10.0  # how long to wait for writes already in flight before copying regardless
CHUNK_FIELDS = ["type", "sid", "gen", "ord", "start", "end", "text", "kind", "key", "root", "ext", "modified",
                "meta", "cmeta"]



def reindex(qb: Connection, name: str, embedder: Embedder, *, batch_sources: int = BATCH_SOURCES,
            progress: Callable[[dict[str, Any]], None] | None = None,
            cancel: threading.Event | None = None) -> ReindexReport:
    """Re-embed collection ``name`` with ``embedder`` into a new physical collection and swap it in."""
    started = time.monotonic()
    store = QdrantStore(qb, name)
    meta = store._meta_payload()
    job = meta.get("reindexing")
    if job and time.time() - float(job.get("heartbeat", 0)) < REINDEX_STALE_SECONDS:
        raise Reindexing(name, str(job.get("model")), str(job.get("by")))
    _drop_leftovers(qb, name)
    mark = {"model": embedder.name, "by": f"{socket.gethostname()}:{os.getpid()}", "heartbeat": time.time()}
    store._set_meta(reindexing=mark)
    new = qb.create_physical(name, embedder.dimension)
    copier = _Copier(qb, store, new, embedder, mark, progress, cancel)
    try:
        rounds = 0
        while True:
            seq = copier.wait_quiet()
            copier.copy_changes(batch_sources)
            rounds += 1
            if store.seq == seq:
                break
        latest = store._meta_payload()
        fresh = {**latest, "model": embedder.name, "dimension": embedder.dimension, "created": time.time(),
                 "seq": int(latest.get("seq", 0)) + 1, "dirty": False, "reindexing": None}
        qb.call("upsert", new, [models.PointStruct(id=META_ID, vector={}, payload=fresh)], wait=True,
                what=f"write meta ({new})")
        for key in fresh.get("meta_keys", []):
            qb.index_field(new, f"meta.{key}", "keyword")
        qb.swap(name, new)
    except BaseException:
        log.warning("re-index of %s stopped before the swap; dropping %s", name, new)
        try:
            qb.call("delete_collection", new, what=f"drop {new}")
            store._set_meta(reindexing=None)
        except Exception as e:  # the original error matters more; the next re-index removes the leftover
            log.warning("could not clean up after the re-index of %s: %s", name, e)
        raise
    chunks = QdrantStore(qb, name).count_chunks()
    return ReindexReport(name, embedder.name, str(meta["model"]), len(copier.copied), chunks, rounds,
                         round(time.monotonic() - started, 2))


def _drop_leftovers(qb: Connection, name: str) -> None:
    """Physical collections of ``name`` behind no alias: what a killed re-index left."""
    live = qb.physical(name)
    mine = re.compile(rf"{re.escape(PREFIX + name)}__\d+")  # not those of a collection named "{name}__x"
    for c in qb.call("get_collections", what="list collections").collections:
        if mine.fullmatch(c.name) and c.name != live:
            log.info("removing %s, left by a re-index that did not finish", c.name)
            qb.call("delete_collection", c.name, what=f"drop {c.name}")


class _Copier:
    """Copies sources from the live collection (by its alias) to ``new``, remembering what it copied."""

    def __init__(self, qb: Connection, store: QdrantStore, new: str, embedder: Embedder, mark: dict[str, Any],
                 progress: Callable[[dict[str, Any]], None] | None, cancel: threading.Event | None) -> None:
        self.qb, self.store, self.new, self.embedder, self.mark = qb, store, new, embedder, mark
        self.progress, self.cancel = progress, cancel
        self.copied: dict[str, tuple[int, int]] = {}  # source point id -> (sid, the gen copied)

    def wait_quiet(self) -> int:
        """The write sequence once no write is in flight (or after QUIET_SECONDS: a writer that died
        leaves ``dirty`` set, and its chunks are invisible, so they are not copied anyway)."""
        deadline = time.monotonic() + QUIET_SECONDS
        while True:
            meta = self.store._meta_payload()
            if not meta.get("dirty") or time.monotonic() > deadline:
                return int(meta.get("seq", 0))
            time.sleep(0.2)

    def copy_changes(self, batch: int) -> None:
        sources = {pid: p for pid, p in self.store._scroll_ids(_f(_m("type", "source")))}
        todo = [pid for pid, p in sources.items() if self.copied.get(str(pid)) != (p["sid"], p["gen"])]
        live = {str(k) for k in sources}
        gone = [pid for pid in self.copied if pid not in live]
        done = len(sources) - len(todo)
        for i in range(0, len(todo), batch):
            if self.cancel is not None and self.cancel.is_set():
                raise InterruptedError("the re-index was cancelled; the collection is unchanged")
            self._copy([(str(pid), sources[pid]) for pid in todo[i : i + batch]])
            done += len(todo[i : i + batch])
            self._heartbeat()
            if self.progress is not None:
                self.progress({"phase": "copying", "sources_done": done, "sources_total": len(sources)})
        for pid in gone:  # deleted meanwhile (the delete committed on the live collection)
            sid, _ = self.copied.pop(pid)
            self.qb.call("delete", self.new, models.FilterSelector(filter=_f(_m("sid", sid))), wait=True,
                         what=f"delete a source ({self.new})")
            self.qb.call("delete", self.new, models.PointIdsList(points=[pid]), wait=True,
                         what=f"delete a source ({self.new})")

    def _copy(self, batch: Sequence[tuple[str, dict[str, Any]]]) -> None:
        gens = {int(p["sid"]): int(p["gen"]) for _, p in batch}
        flt = _f(_m("type", "chunk"), models.FieldCondition(key="sid", match=models.MatchAny(any=list(gens))))
        chunks = [(cid, c) for cid, c in self.store._scroll_ids(flt, CHUNK_FIELDS) if gens.get(c["sid"]) == c["gen"]]
        vectors = self.embedder.embed([c["text"] for _, c in chunks])
        points = []
        analyzers = {}  # a source's (its detected language's, under auto), None for a legacy collection
        for sid in gens:
            texts = [c["text"] for _, c in sorted((x for x in chunks if x[1]["sid"] == sid), key=lambda x: x[1]["ord"])]
            analyzers[sid] = self.store.analyzer.for_document(texts) if self.store.analyzer else None
        for (cid, c), v in zip(chunks, vectors, strict=True):
            idx, vals = document_vector(c["text"], analyzers[c["sid"]])
            points.append(models.PointStruct(id=cid, vector={
                DENSE: v.tolist(), KEYWORD: models.SparseVector(indices=idx, values=vals)}, payload=c))
        for i in range(0, len(points), 250):  # the chunks first, the sources after: the store's write order
            self.qb.call("upsert", self.new, points[i : i + 250], wait=True, what=f"copy chunks ({self.new})")
        self.qb.call("upsert", self.new, [models.PointStruct(id=pid, vector={}, payload=p) for pid, p in batch],
                     wait=True, what=f"copy sources ({self.new})")
        for pid, p in batch:
            if pid in self.copied:  # copied before at another gen: drop that version's chunks
                self.qb.call("delete", self.new, models.FilterSelector(filter=models.Filter(
                    must=[_m("sid", p["sid"])], must_not=[_m("gen", p["gen"])])), wait=True,
                    what=f"drop replaced chunks ({self.new})")
            self.copied[pid] = (int(p["sid"]), int(p["gen"]))

    def _heartbeat(self) -> None:
        self.mark["heartbeat"] = time.time()
        self.store._set_meta(reindexing=self.mark)
