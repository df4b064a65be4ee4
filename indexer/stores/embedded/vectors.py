"""The FAISS index over chunk ids: a derived, rebuildable cache of the catalog's vectors.

Cosine similarity is computed here as an inner product, which is only right because every vector
(corpus and query) is L2-normalized in ``embedder.l2_normalize`` before it gets here.

Index types:
- ``flat``: exact inner-product search (``IndexFlatIP``). Filters are applied *before* ranking with
  an ``IDSelector``, so a filtered query returns its true top-k.
- ``hnsw``: approximate (``IndexHNSWFlat``) for collections past about a million chunks. FAISS's HNSW
  cannot remove ids, so removed ids are *tombstoned*: kept in the graph (it stays navigable), skipped by
  every search, saved with the file; once they pass ``COMPACT_SHARE`` of the index, the next save
  rebuilds the graph from the live vectors (``compact``; no re-embedding: HNSWFlat keeps them). Filtered
  queries whose allowed set is small are answered exactly from the stored vectors; larger ones walk
  the graph with an ``IDSelector``, widening k and efSearch until k live hits are found - so a filter
  never returns fewer than k results that exist (see ``_search_hnsw``).

On disk: ``MAGIC | seq (u64) | sha256(payload) | payload`` with payload = ``tombstone count (u64) |
tombstone ids (int64) | FAISS index`` (version 1 files, without tombstones, are still read), written
to a temp file, fsynced and renamed, so a reader sees the old file or the new one, never half of one; the checksum
catches anything else. ``seq`` is the catalog sequence the index reflects.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import struct
import threading
from pathlib import Path
from typing import Any

import numpy as np


class _Faiss:
    """faiss, imported on first use (~80 ms of a command's start-up): the commands that touch no
    vectors, such as removing a path that is not indexed, skip it. Typed ``Any``: its SWIG-generated
    stubs miss much of the API (SearchParametersHNSW, sel=...)."""

    def __getattr__(self, name: str) -> Any:
        import faiss as module

        globals()["faiss"] = module
        return getattr(module, name)


faiss: Any = _Faiss()

log = logging.getLogger(__name__)

MAGIC_V1 = b"SEMSEARCH-FAISS-1\n"  # payload = the FAISS index alone
MAGIC = b"SEMSEARCH-FAISS-2\n"  # payload = tombstones, then the FAISS index
INDEX_TYPES = ("flat", "hnsw")


#: FAISS's OpenMP threads pay off only on big searches: below this many (vectors x queries) a search
#: runs on the calling thread alone. Two threads on a 20k-vector query take twice the CPU for no gain in
#: latency, CPU that concurrent requests need (measured: 1.1 ms on one thread vs 2.4 ms wall, 4.9 ms CPU).
PARALLEL_MIN_WORK = 1_000_000


@functools.cache
def _max_threads() -> int:
    return max(1, faiss.omp_get_max_threads())


def _set_threads(work: int) -> None:
    """OpenMP threads for the next FAISS call on this thread (the setting is per calling thread)."""
    faiss.omp_set_num_threads(1 if work < PARALLEL_MIN_WORK else _max_threads())


class IndexFileError(Exception):
    """The index file is missing, truncated, corrupt or of another shape; it will be rebuilt."""


class VectorIndex:
    def __init__(self, dim: int, index_type: str = "flat", *, hnsw_m: int = 32, ef_search: int = 128) -> None:
        if index_type not in INDEX_TYPES:
            raise ValueError(f"index type must be one of {INDEX_TYPES}, not {index_type!r}")
        self.dim = dim
        self.index_type = index_type
        self.ef_search = ef_search
        self.hnsw_m = hnsw_m
        self.index = self._empty()
        self.tombstones: set[int] = set()
        self.seq = 0
        self.lock = threading.RLock()

    def _empty(self) -> Any:
        if self.index_type == "flat":
            inner = faiss.IndexFlatIP(self.dim)
        else:
            inner = faiss.IndexHNSWFlat(self.dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = 200
        return faiss.IndexIDMap2(inner)

    # -- mutation ----------------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape[1] != self.dim:
            raise ValueError(f"vectors have {vectors.shape[1]} dimensions, the index {self.dim}")
        with self.lock:
            self.index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        if len(ids) == 0:
            return
        with self.lock:
            ids = np.ascontiguousarray(ids, dtype=np.int64)
            if self.index_type == "flat":
                self.index.remove_ids(faiss.IDSelectorBatch(ids))
            else:  # only ids the graph holds: ``ntotal`` subtracts the tombstones
                self.tombstones.update(int(i) for i in ids[self._contains(ids)])

    def apply(self, added_ids: np.ndarray, added_vectors: np.ndarray, removed_ids: np.ndarray, seq: int) -> None:
        """Apply one catalog write (removals first: an id is never re-added)."""
        with self.lock:
            self.remove(removed_ids)
            self.add(added_ids, added_vectors)
            self.seq = max(self.seq, seq)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal) - len(self.tombstones)

    #: tombstones past this share of the graph make the next save compact it
    COMPACT_SHARE = 0.2

    @property
    def needs_rebuild(self) -> bool:
        return self.index_type == "hnsw" and len(self.tombstones) > self.COMPACT_SHARE * max(1, int(self.index.ntotal))

    def compact(self) -> None:
        """Rebuild the HNSW graph from its live vectors, dropping the tombstones (searches wait).

        The vectors come from the graph's own flat storage, so nothing is re-embedded or re-read."""
        with self.lock:
            if not self.tombstones:
                return
            live = self._live_ids()
            fresh = self._empty()
            for at in range(0, len(live), 50_000):
                part = np.ascontiguousarray(live[at : at + 50_000])
                vecs = self.index.reconstruct_batch(part).reshape(len(part), self.dim)
                fresh.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), part)
            log.info("compacted an HNSW index: %d tombstones dropped, %d vectors kept", len(self.tombstones), len(live))
            self.index = fresh
            self.tombstones.clear()

    # -- search ------------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[list[tuple[int, float]]]:
        """Top-k (id, inner product) per query row. ``allowed`` restricts the candidates *before*
        ranking. k is clamped to what exists and FAISS's -1 padding is dropped."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        with self.lock:
            total = int(self.index.ntotal)
            if total == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
                return [[] for _ in range(len(queries))]
            _set_threads(total * len(queries))
            if self.index_type == "hnsw":
                return [self._search_hnsw(q, k, allowed) for q in queries]
            kk = min(k, total if allowed is None else min(total, len(allowed)))
            params = None
            if allowed is not None:
                sel = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
                params = faiss.SearchParameters(sel=sel)
            scores, ids = self.index.search(queries, kk, params=params)
        return [[(int(i), float(s)) for i, s in zip(row_ids, row_scores, strict=True) if i >= 0][:k]
                for row_ids, row_scores in zip(ids, scores, strict=True)]

    #: a filter allowing at most this many ids (or this share of the index) is answered exactly
    EXACT_FILTER_MAX = 20_000
    EXACT_FILTER_SHARE = 0.05

    def _search_hnsw(self, query: np.ndarray, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """HNSW top-k that still returns k hits when a filter or tombstones remove candidates.

        A small allowed set (relative to the index) is ranked exactly over its own stored vectors: the
        graph walk would mostly visit excluded nodes. Otherwise the walk runs with an ``IDSelector``
        and, whenever it yields fewer than k live hits, is retried with k and efSearch doubled, until
        k are found or the candidates are exhausted (then the allowed set is ranked exactly)."""
        total = int(self.index.ntotal)
        q = query.reshape(1, self.dim)
        live: np.ndarray | None = None
        if allowed is not None:
            live = self._drop_tombstones(np.unique(np.asarray(allowed, dtype=np.int64)))
            live = live[self._contains(live)]
            if len(live) == 0:
                return []
            if len(live) <= self.EXACT_FILTER_MAX and len(live) <= max(1000, self.EXACT_FILTER_SHARE * total):
                return self._exact(q, k, live)
        want = min(k, total - len(self.tombstones) if live is None else len(live))
        sel = None if live is None else faiss.IDSelectorBatch(np.ascontiguousarray(live, dtype=np.int64))
        kk = min(total, k + len(self.tombstones))
        ef = max(self.ef_search, kk)
        while True:
            params = faiss.SearchParametersHNSW(sel=sel, efSearch=ef) if sel is not None else \
                faiss.SearchParametersHNSW(efSearch=ef)
            scores, ids = self.index.search(q, kk, params=params)
            hits = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True)
                    if i >= 0 and int(i) not in self.tombstones]
            if len(hits) >= want:
                return hits[:k]
            if kk >= total and ef >= total:
                break
            kk, ef = min(total, kk * 2), min(max(total, 16), ef * 2)
        if live is None:
            live = self._live_ids()
        return self._exact(q, k, live)

    def _contains(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` are in the index."""
        return np.isin(ids, faiss.vector_to_array(self.index.id_map))

    def _drop_tombstones(self, ids: np.ndarray) -> np.ndarray:
        if not self.tombstones:
            return ids
        return ids[~np.isin(ids, np.fromiter(self.tombstones, dtype=np.int64))]

    def _live_ids(self) -> np.ndarray:
        return self._drop_tombstones(faiss.vector_to_array(self.index.id_map).astype(np.int64))

    def _exact(self, q: np.ndarray, k: int, ids: np.ndarray) -> list[tuple[int, float]]:
        """Exact top-k over the stored vectors of ``ids`` (all present, none tombstoned)."""
        vecs = self.index.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64)).reshape(len(ids), self.dim)
        scores = vecs @ q[0]
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(ids[j]), float(scores[j])) for j in top]

    # -- persistence -------------------------------------------------------------------------------
    def save(self, path: Path, seq: int) -> None:
        """Atomically write the index with the catalog sequence it reflects.

        The index is streamed to the file (hashed on the way) instead of serialized in memory first,
        which held two extra copies of every vector at each checkpoint. Writing happens under the
        lock (into the page cache); the fsync and the rename do not."""
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        try:
            self._write_file(tmp, seq)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self.seq = seq

    def _write_file(self, tmp: Path, seq: int) -> None:
        head = len(MAGIC) + 8
        with open(tmp, "wb") as f:
            with self.lock:
                if self.needs_rebuild:
                    self.compact()
                f.write(MAGIC + struct.pack("<Q", seq) + bytes(32))  # the digest is filled in below
                digest = hashlib.sha256()

                def write(block: bytes) -> int:
                    f.write(block)
                    digest.update(block)
                    return len(block)

                tomb = np.fromiter(sorted(self.tombstones), dtype="<i8", count=len(self.tombstones))
                write(struct.pack("<Q", len(tomb)) + tomb.tobytes())
                faiss.write_index(self.index, faiss.PyCallbackIOWriter(write))
            f.seek(head)
            f.write(digest.digest())
            f.flush()
            os.fsync(f.fileno())

    @classmethod
    def load(cls, path: Path, dim: int, index_type: str) -> VectorIndex:
        """Read an index file, checking its checksum before FAISS parses a byte (streamed: the
        file is never held in memory beside the index it builds)."""
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed by the with below
        except FileNotFoundError as e:
            raise IndexFileError(f"{path.name} is missing") from e
        with f:
            head = f.read(len(MAGIC) + 8 + 32)
            if len(head) < len(MAGIC) + 8 + 32 or not head.startswith((MAGIC, MAGIC_V1)):
                raise IndexFileError(f"{path.name} is not a semsearch index file (or is truncated)")
            (seq,) = struct.unpack("<Q", head[len(MAGIC) : len(MAGIC) + 8])
            digest = hashlib.sha256()
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
            if digest.digest() != head[len(MAGIC) + 8 :]:
                raise IndexFileError(f"{path.name} fails its checksum")
            f.seek(len(head))
            tombstones: set[int] = set()
            if head.startswith(MAGIC):
                (count,) = struct.unpack("<Q", f.read(8))
                tombstones = set(np.frombuffer(f.read(8 * count), dtype="<i8").tolist())
            try:
                index = faiss.read_index(faiss.PyCallbackIOReader(f.read))
            except RuntimeError as e:
                raise IndexFileError(f"{path.name} cannot be read by FAISS: {e}") from e
        if index.d != dim:
            raise IndexFileError(f"{path.name} has {index.d} dimensions, the collection {dim}")
        self = cls(dim, index_type)
        inner = faiss.downcast_index(index.index)
        if isinstance(inner, faiss.IndexHNSW) != (index_type == "hnsw"):
            raise IndexFileError(f"{path.name} holds another index type than the collection's {index_type!r}")
        if index_type == "hnsw":
            self.hnsw_m = int(inner.hnsw.nb_neighbors(1))
        self.index = index
        self.tombstones = tombstones
        self.seq = int(seq)
        return self
