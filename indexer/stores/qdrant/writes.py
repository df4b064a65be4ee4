"""The Qdrant store's write path (``QdrantStore.write``): a batch of upserts, deletes and touches in the
three steps that keep a source whole for every reader (the ``gen`` rule of ``store.py``'s docstring):
(1) the new chunks under a fresh gen, invisible; (2) the source points with that gen, the commit point;
(3) the old chunks and the deleted sources removed. Copies are handed over first (``copies.py``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from qdrant_client import models

from indexer.analysis.bm25 import document_vector
from indexer.stores.base import SourceWrite, WriteResult
from indexer.stores.qdrant.copies import copy_point, promote_copy, refresh_copies
from indexer.stores.qdrant.points import DENSE, KEYWORD, PAGE, Points, _f, _h63, _m, source_point


def write(store: Points, upserts: Sequence[SourceWrite] = (), deletes: Sequence[tuple[str, str]] = (),
          touches: Sequence[tuple[str, float]] = ()) -> WriteResult:
    """``QdrantStore.write``: the three steps of the package's docstring, under the store's write lock."""
    for u in upserts:
        if len(u.chunks) != len(u.vectors):
            raise ValueError(f"{u.key}: {len(u.chunks)} chunks but {len(u.vectors)} vectors")
    now = time.time()
    with store._write_lock:
        meta = store._meta_payload()
        store._check_current(meta)
        store._set_meta(dirty=True)
        keys = [*deletes, *((u.kind, u.key) for u in upserts)]
        replaced = [*deletes, *((u.kind, u.key) for u in upserts if not u.append)]
        refresh: set[str] = set()  # canonical files whose copies changed: their chunks' ext/modified lists
        before = store._sources(keys)
        # The replaced or deleted canonical files that have copies (one scroll for the batch) hand their
        # chunks to a copy first; then what the write replaces is read again.
        files = [key for kind, key in replaced if kind == "file" and (kind, key) in before
                 and not before[(kind, key)].get("same_as")]
        with_copies = {p["same_as"] for p in store._scroll(_f(_m("type", "source"), models.FieldCondition(
            key="same_as", match=models.MatchAny(any=files))), ["same_as"])} if files else set()
        for key in [key for key in files if key in with_copies]:
            promote_copy(store, "file", key, {k for kd, k in replaced if kd == "file"}, refresh)
        if with_copies:
            before = store._sources(keys)
        for p in before.values():
            if p.get("same_as"):
                refresh.add(p["same_as"])
        points, sources, added = [], [], []
        new_keys = set(meta.get("meta_keys", []))
        writing = {u.key: u for u in upserts if u.kind == "file" and u.copy_of is None}
        for u in upserts:
            if u.copy_of is not None:
                copy = copy_point(store, u, writing, now)
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
            analyzer = store.analyzer.for_document([c.text for c in u.chunks]) if store.analyzer else None
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
            store.qb.index_field(store.qb.physical(store.name), f"meta.{f}", "keyword")
        for i in range(0, len(points), PAGE // 4):  # 1. the new chunks, invisible (their gen is not current)
            part = points[i : i + PAGE // 4]
            store._call("upsert", store.alias, part, wait=True, what="write chunks")
        if sources:  # 2. the commit point: each source now shows its new chunks
            store._call("upsert", store.alias, sources, wait=True, what="write sources")
        removed: list[Any] = []  # 3. what the write replaced or deleted
        current = {(s.payload or {})["sid"]: (s.payload or {})["gen"] for s in sources}
        for kind, key in keys:
            old = before.get((kind, key))
            if old is None:
                continue
            sid = int(old["sid"])
            keep = current.get(sid)
            removed += [pid for pid, c in store._scroll_ids(_f(_m("sid", sid), _m("type", "chunk")), ["gen"])
                        if c.get("gen") != keep]
        gone = [source_point(k, key) for k, key in deletes if (k, key) in before
                and _h63(k, key) not in current]
        store._delete_points(removed)
        store._delete_points(gone)
        if touches:
            touched = store._sources([("file", key) for key, _ in touches], ["kind", "key", "same_as"])
            refresh.update(p["same_as"] for p in touched.values() if p.get("same_as"))
            refresh.update(p["same_as"] for p in store._scroll(_f(_m("type", "source"), models.FieldCondition(
                key="same_as", match=models.MatchAny(any=[key for key, _ in touches]))), ["same_as"]))
            for key, mtime in touches:
                sid = _h63("file", key)
                store._call("set_payload",
                    store.alias, {"modified": mtime}, points=_f(_m("sid", sid), _m("type", "chunk")),
                    wait=True, what="touch")
                store._call("set_payload",
                    store.alias, {"mtime": mtime}, points=[source_point("file", key)], wait=True, what="touch")
        for key in sorted(refresh):
            refresh_copies(store, key)
        seq = int(meta.get("seq", 0)) + 1
        store._set_meta(seq=seq, dirty=False, meta_keys=sorted(new_keys))
    removed_ids = [int(r) for r in removed if int(r) not in set(added)]
    return WriteResult(seq=seq, added_ids=np.asarray(added, np.int64),
                       added_vectors=np.zeros((0, store.meta.dimension), np.float32),
                       removed_ids=np.asarray(removed_ids, np.int64),
                       chunks_added=len(added), chunks_removed=len(removed_ids))
