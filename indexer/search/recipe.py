"""The ranking recipe: queries -> vectors -> dense and keyword rankings -> fusion -> a page of hits.

All of a batch's queries share one embedding call and one read snapshot, so a server that groups
concurrent requests pays the per-search costs once. The snapshot is pinned under the vector index's
lock, and FAISS is searched under the same lock, so a search sees a write completely or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from indexer.catalog import Catalog
from indexer.errors import InvalidInput
from indexer.search.filters import SQL_FUNCTIONS, filter_sql
from indexer.search.fusion import fuse
from indexer.search.hits import Hits, Ranked, build_hits
from indexer.search.options import SearchOptions
from indexer.search.rankings import Ranking, dense_ranking, keyword_ranking
from indexer.vectors import VectorIndex


def search_batch(catalog: Catalog, index: VectorIndex, embed_queries: Callable[[Sequence[str]], np.ndarray],
                 dimension: int, queries: Sequence[str], opts: SearchOptions,
                 vectors: np.ndarray | None = None) -> list[Hits]:
    """Rank ``catalog``'s files and documents for each query (modes: dense, keyword, hybrid).

    ``vectors``: the queries' vectors, when the caller computed them first (``embed_queries`` is
    called otherwise). ``index`` must reflect the catalog (the collection refreshes it first)."""
    opts.check()
    if not queries:
        return []
    depth = opts.offset + opts.k
    qvecs = None
    if opts.mode != "keyword":
        qvecs = embed_queries(queries) if vectors is None else np.asarray(vectors, dtype=np.float32)
        if qvecs.shape != (len(queries), dimension):
            raise InvalidInput(f"vectors must have shape ({len(queries)}, {dimension}), not {qvecs.shape}",
                               field="vectors")
    results: list[Hits] = []
    with catalog.snapshot(SQL_FUNCTIONS):
        dense: list[Ranking] = []
        with index.lock:  # pin the snapshot and search FAISS at the same state
            catalog.seq  # noqa: B018 - the first read pins the snapshot
            if qvecs is not None:
                allowed = None
                if not opts.filters.is_empty():
                    allowed = catalog.chunk_ids_where(*filter_sql(opts.filters))
                d = depth if opts.mode == "dense" else max(depth, opts.candidates)
                dense = [dense_ranking(catalog, index, qvecs[qi : qi + 1], d, allowed) for qi in range(len(queries))]
        for qi, query in enumerate(queries):
            rankings: dict[str, Ranking] = {}
            if qvecs is not None:
                rankings["dense"] = dense[qi]
            if opts.mode != "dense":
                d = depth if opts.mode == "keyword" else max(depth, opts.candidates)
                rankings["keyword"] = keyword_ranking(catalog, query, d, opts.filters)
            ranked = _combine(rankings, opts)
            hits = build_hits(catalog, ranked[opts.offset : depth], query, explain=opts.explain)
            results.append(Hits(hits, opts.mode, len(ranked)))
    return results


def _combine(rankings: dict[str, Ranking], opts: SearchOptions) -> Ranked:
    """One ranking: the fusion of both in hybrid mode, else the mode's own."""
    if opts.mode == "hybrid":
        fused = fuse(rankings, {"dense": opts.dense_weight, "keyword": opts.keyword_weight}, opts.rrf_k,
                     method=opts.fusion)
        return [(sid, sc, cid, {**det, "fused": sc}) for sid, sc, cid, det in fused]
    return [(sid, sc, cid, {opts.mode: {"rank": r, "score": sc}})
            for r, (sid, sc, cid) in enumerate(rankings[opts.mode], start=1)]
