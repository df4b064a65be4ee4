"""The ranking recipe: queries -> vectors -> dense and keyword rankings -> fusion -> scores -> a page of hits.

All of a batch's queries share one embedding call and one read view of the store
(``Store.reading``), so a server that groups concurrent requests pays the per-search costs once. The
recipe asks the store only through ``indexer.stores.base.Store``, so every store ranks the same way.

Every hit carries its cosine beside the rank score: the dense ranking's score where the source was in
it (its best passage, which is also the passage shown), else the cosine of the passage shown, from its
stored vector. So the query is embedded in every mode, keyword included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

import numpy as np

from indexer.embedding import l2_normalize
from indexer.errors import InvalidInput, SourceNotFound
from indexer.search.fusion import fuse
from indexer.search.hits import Hits, Ranked, build_hits
from indexer.search.options import DEFAULT_MAX_QUERY_CHARS, Like, Mode, Query, SearchOptions, check_query
from indexer.search.rankings import Ranking, boost_fields, dense_ranking, keyword_ranking

if TYPE_CHECKING:
    from indexer.stores.base import Store


def search_batch(store: Store, embed_queries: Callable[[Sequence[str]], np.ndarray], queries: Sequence[Query],
                 opts: SearchOptions,
                 vectors: np.ndarray | None = None, *, max_query_chars: int = DEFAULT_MAX_QUERY_CHARS) -> list[Hits]:
    """Rank ``store``'s files and documents for each query (modes: dense, keyword, hybrid).

    A query is words, or :class:`Like` an indexed source (ranked by its vector, dense, itself left
    out). ``vectors``: one row per query when the caller computed them first (rows of ``Like``
    queries are ignored); ``embed_queries`` is called otherwise. The caller refreshes the store first."""
    queries = [check_query(q, mode=opts.mode, max_chars=max_query_chars) for q in queries]
    if not queries:
        return []
    qvecs = _query_vectors(queries, embed_queries, store.meta.dimension, vectors)
    depth = opts.offset + opts.k
    if opts.sort != "relevance":  # browsing: the best `candidates` hits, in another order
        depth = max(depth, opts.candidates)
    mode_asked = cast(Mode, opts.mode)  # checked when the options were made
    modes: list[Mode] = ["dense" if isinstance(q, Like) else mode_asked for q in queries]
    results: list[Hits] = []
    with store.reading():
        excluded: dict[int, int] = {}  # query -> the source it is like
        dense: dict[int, Ranking] = {}
        for qi, q in enumerate(queries):
            if isinstance(q, Like):
                excluded[qi], qvecs[qi] = _like_vector(store, q)
        for qi, mode in enumerate(modes):
            if mode != "keyword":
                d = (depth if mode == "dense" else max(depth, opts.candidates)) + (qi in excluded)
                dense[qi] = dense_ranking(store, qvecs[qi], d, opts.filters)
        for qi, (query, mode) in enumerate(zip(queries, modes, strict=True)):
            rankings: dict[str, Ranking] = {}
            if qi in dense:
                rankings["dense"] = [r for r in dense[qi] if r[0] != excluded.get(qi)]
            if mode != "dense":
                d = depth if mode == "keyword" else max(depth, opts.candidates)
                rankings["keyword"] = boost_fields(store, keyword_ranking(store, str(query), d, opts.filters),
                                                   str(query), opts.field_boost)
            ranked = _combine(rankings, mode, opts)
            cosine = {sid: score for sid, score, _ in rankings.get("dense", ())}
            keyword = {sid: score for sid, score, _ in rankings.get("keyword", ())}
            if opts.min_similarity is not None:
                _fill_cosines(store, qvecs[qi], ranked, cosine)
                ranked = [r for r in ranked if r[0] in cosine and cosine[r[0]] >= opts.min_similarity]
            if opts.sort != "relevance":
                ranked = _sorted(store, ranked, opts.sort)
            page = ranked[opts.offset : opts.offset + opts.k]
            _fill_cosines(store, qvecs[qi], page, cosine)
            text = query if isinstance(query, str) else ""
            hits = build_hits(store, page, text, explain=opts.explain, cosine=cosine, keyword=keyword)
            results.append(Hits(hits, mode, len(ranked), [r[0] for r in page]))
    return results


def _sorted(store: Store, ranked: Ranked, sort: str) -> Ranked:
    """``ranked`` by modified time or path (``sort``; "-" first: descending), ties by rank."""
    keys = store.source_sort_keys([r[0] for r in ranked])
    by = 0 if sort.lstrip("-") == "modified" else 1
    order = sorted(range(len(ranked)), key=lambda i: keys.get(ranked[i][0], (0.0, ""))[by],
                   reverse=sort.startswith("-"))  # a stable sort, reversed stably: ties keep their rank
    return [ranked[i] for i in order]


def _query_vectors(queries: Sequence[Query], embed_queries: Callable[[Sequence[str]], np.ndarray],
                   dimension: int, vectors: np.ndarray | None) -> np.ndarray:
    """One row per query: the given vectors, or the text queries embedded in one call (rows of
    ``Like`` queries are filled in from the store later)."""
    if vectors is not None:
        qvecs = np.array(vectors, dtype=np.float32)
        if qvecs.shape != (len(queries), dimension):
            raise InvalidInput(f"vectors must have shape ({len(queries)}, {dimension}), not {qvecs.shape}",
                               field="vectors")
        return qvecs
    qvecs = np.zeros((len(queries), dimension), np.float32)
    texts = [i for i, q in enumerate(queries) if isinstance(q, str)]
    if texts:
        qvecs[texts] = embed_queries([str(queries[i]) for i in texts])
    return qvecs


def _like_vector(store: Store, like: Like) -> tuple[int, np.ndarray]:
    """(source id, query vector) for "more like this": the normalized mean of the source's chunk
    vectors, so every part of a long document counts, not only its first passage."""
    sid = store.find_source(like.id)
    if sid is None:
        raise SourceNotFound(like.id, field="like")
    return sid, l2_normalize(store.source_vectors(sid).mean(axis=0, keepdims=True))[0]


def _combine(rankings: dict[str, Ranking], mode: str, opts: SearchOptions) -> Ranked:
    """One ranking: the fusion of both in hybrid mode, else the mode's own."""
    if mode == "hybrid":
        fused = fuse(rankings, {"dense": opts.dense_weight, "keyword": opts.keyword_weight}, opts.rrf_k,
                     method=opts.fusion)
        return [(sid, sc, cid, {**det, "fused": sc}) for sid, sc, cid, det in fused]
    return [(sid, sc, cid, {mode: {"rank": r, "score": sc}})
            for r, (sid, sc, cid) in enumerate(rankings[mode], start=1)]


def _fill_cosines(store: Store, qvec: np.ndarray, ranked: Ranked, cosine: dict[int, float]) -> None:
    """Add the cosine of each ranked source's passage where the dense ranking did not give one."""
    missing = {cid: sid for sid, _, cid, _ in ranked if sid not in cosine}
    if missing:
        for cid, vec in store.vectors_for(list(missing)).items():
            cosine[missing[cid]] = float(vec @ qvec)
