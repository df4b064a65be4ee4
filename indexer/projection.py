"""A 2-D map of a collection's chunks: PCA of their vectors, sampled, cached per collection version.

Why PCA and not UMAP: PCA is a linear map, so a query's vector lands in exactly the same space as the
chunks (UMAP's ``transform`` of a new point is an approximation), it is deterministic, takes one SVD of
a few thousand rows in NumPy, and needs no extra dependency (umap-learn pulls numba and llvmlite and
JIT-compiles for tens of seconds on first use). The first two principal components keep the widest
spread of the embeddings, which is what "vectors that land close to each other" looks like on paper.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import numpy as np

from indexer.collection import Collection
from indexer.errors import InvalidInput
from indexer.search import SearchOptions
from indexer.stores.base import Store

PREVIEW_CHARS = 240
MAX_POINTS = 5000


@dataclass
class MapPoint:
    chunk_id: int
    x: float
    y: float
    kind: str  # "file" or "doc"
    id: str  # the file path or document id
    folder: str  # the file's folder from the indexed folder down ("notes/2024"); "(documents)" for documents
    start: int
    end: int
    preview: str  # the chunk's first characters

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class Projection:
    """The fitted map of one collection version: ``xy = (v - mean) @ components.T``."""

    seq: int
    total: int  # chunks in the collection
    mean: np.ndarray  # (D,)
    components: np.ndarray  # (2, D)
    explained: list[float]  # share of the variance each axis keeps
    points: list[MapPoint] = field(default_factory=list)

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """(N, D) -> (N, 2) in this map's coordinates."""
        return (np.asarray(vectors, np.float32) - self.mean) @ self.components.T  # (N, 2)


def _pca(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Mean, the first two principal axes (2, D) and their variance shares, signs fixed so that a
    refit of the same data draws the same picture."""
    mean = x.mean(axis=0)
    centered = x - mean  # (N, D)
    _, s, vt = np.linalg.svd(centered, full_matrices=False)  # vt: (min(N, D), D)
    comps = np.zeros((2, x.shape[1]), np.float32)
    comps[: min(2, len(vt))] = vt[:2]
    for i in range(2):
        if comps[i, np.argmax(np.abs(comps[i]))] < 0:
            comps[i] = -comps[i]
    var = s**2
    shares = [float(v / var.sum()) if var.sum() > 0 else 0.0 for v in var[:2]]
    return mean.astype(np.float32), comps, shares + [0.0] * (2 - len(shares))


def _folder(kind: str, key: str, root: str) -> str:
    """The file's folder named from the indexed folder down (``notes/2024``), so that two indexed
    folders stay apart on the map."""
    if kind == "doc":
        return "(documents)"
    parent = PurePath(key).parent
    try:
        return str(parent.relative_to(PurePath(root).parent)) if root else str(parent)
    except ValueError:
        return str(parent)


def build_projection(coll: Collection, *, max_points: int = 2000, seed: int = 0) -> Projection:
    """Fit the map on up to ``max_points`` chunks (a fixed-seed sample when there are more)."""
    if not 1 <= max_points <= MAX_POINTS:
        raise InvalidInput(f"points must be between 1 and {MAX_POINTS}, not {max_points}", field="points")
    store = coll.store
    with store.reading():  # ids, rows and seq from one read view
        seq = store.seq
        ids = store.chunk_ids()
        if len(ids) > max_points:
            ids = np.sort(np.random.default_rng(seed).choice(ids, size=max_points, replace=False))
        rows = chunk_rows(store, ids.tolist())
        total = store.count_chunks()
    if not rows:
        return Projection(seq, 0, np.zeros(coll.embedder.dimension, np.float32),
                          np.zeros((2, coll.embedder.dimension), np.float32), [0.0, 0.0])
    vectors = np.stack([r["vector"] for r in rows])  # (N, D)
    mean, comps, shares = _pca(vectors)
    proj = Projection(seq, int(total), mean, comps, shares)
    proj.points = points_for(proj, rows)
    return proj


def chunk_rows(store: Store, ids: list[int]) -> list[dict[str, Any]]:
    """Chunk rows with their source, vector and a preview, in id order."""
    return [{**r, "folder": _folder(r["kind"], r["id"], r["root"])} for r in store.map_rows(ids, PREVIEW_CHARS)]


def points_for(proj: Projection, rows: list[dict[str, Any]]) -> list[MapPoint]:
    if not rows:
        return []
    xy = proj.project(np.stack([r["vector"] for r in rows]))
    return [MapPoint(r["chunk_id"], round(float(x), 5), round(float(y), 5), r["kind"], r["id"], r["folder"],
                     r["start"], r["end"], r["preview"]) for r, (x, y) in zip(rows, xy, strict=True)]


class ProjectionCache:
    """Fitted maps by (collection folder, version, points): a write to the collection bumps its
    version, so a stale map is never served. Holds the ``size`` most recently used."""

    def __init__(self, size: int = 8) -> None:
        self._maps: OrderedDict[tuple[str, int, int], Projection] = OrderedDict()
        self._lock = threading.Lock()
        self.size = size
        self.fits = 0  # maps computed (for tests and metrics)

    def get(self, coll: Collection, *, max_points: int = 2000) -> Projection:
        key = (f"{coll.store.backend}:{coll.path or coll.name}", coll.store.seq, max_points)
        with self._lock:
            if key in self._maps:
                self._maps.move_to_end(key)
                return self._maps[key]
        proj = build_projection(coll, max_points=max_points)  # outside the lock: other maps stay served
        with self._lock:
            self.fits += 1
            self._maps[(key[0], proj.seq, max_points)] = proj
            while len(self._maps) > self.size:
                self._maps.popitem(last=False)
        return proj


def locate_query(coll: Collection, proj: Projection, query: str, *,
                 options: SearchOptions | None = None) -> dict[str, Any]:
    """The query's own point in ``proj``'s space and its top hits (their best chunks, projected too,
    sampled or not): ``{"text", "x", "y", "hits": [{"rank", "score", ...point}]}``."""
    opts = options or SearchOptions()
    hits = coll.search_batch([query], options=opts)[0]
    (x, y), = proj.project(coll.embed_queries([query]))
    rows = chunk_rows(coll.store, sorted({h.chunk_id for h in hits}))
    by_id = {p.chunk_id: p for p in points_for(proj, rows)}
    ranked = [{"rank": opts.offset + i, "score": h.score, **by_id[h.chunk_id].to_dict()}
              for i, h in enumerate(hits, start=1) if h.chunk_id in by_id]
    return {"text": query, "x": round(float(x), 5), "y": round(float(y), 5), "hits": ranked}
