"""The two rankings of sources: dense (FAISS cosine) and keyword (SQLite FTS5 bm25).

Both rank sources - files and documents - by their best chunk (max), and return
``[(source_id, score, best_chunk_id)]`` best first. Adding a share of the other chunks' scores
favours long documents for their length, and measured worse on BEIR SciFact (where 71% of the
documents span several chunks) at every share tried, in both modes.
"""

from __future__ import annotations

import numpy as np

from indexer.catalog import Catalog
from indexer.search.filters import Filters, filter_sql
from indexer.search.words import STOPWORDS, WORD
from indexer.vectors import VectorIndex

Ranking = list[tuple[int, float, int]]  # (source_id, score, best chunk_id), best first


def keyword_query(text: str) -> str | None:
    """FTS5 MATCH expression: the query's words, quoted (so no FTS syntax leaks in), OR-ed."""
    words = [w for w in WORD.findall(text.lower()) if w not in STOPWORDS]
    if not words:
        words = WORD.findall(text.lower())
    if not words:
        return None
    return " OR ".join('"' + w.replace('"', "") + '"' for w in dict.fromkeys(words))


def group_by_source(catalog: Catalog, chunk_scores: list[tuple[int, float]]) -> Ranking:
    """[(chunk_id, score)] best first -> [(source_id, score, best_chunk_id)] best first."""
    if not chunk_scores:
        return []
    src = catalog.sources_of_chunks([c for c, _ in chunk_scores])
    best: dict[int, tuple[float, int]] = {}
    for cid, score in chunk_scores:
        sid = src.get(cid)
        if sid is not None and sid not in best:
            best[sid] = (score, cid)
    return sorted(((s, sc, c) for s, (sc, c) in best.items()), key=lambda t: (-t[1], t[0]))


def dense_ranking(catalog: Catalog, index: VectorIndex, qvec: np.ndarray, depth: int,
                  allowed: np.ndarray | None) -> Ranking:
    """Top ``depth`` sources by their best chunk's cosine. Fetches chunks until ``depth`` distinct
    sources are found or the index is exhausted."""
    want = depth * 3 + 10
    limit = index.ntotal if allowed is None else len(allowed)
    while True:
        hits = index.search(qvec, want, allowed)[0]
        ranked = group_by_source(catalog, hits)
        if len(ranked) >= depth or len(hits) < want or want >= limit:
            return ranked[:depth]
        want *= 4


def keyword_ranking(catalog: Catalog, text: str, depth: int, filters: Filters) -> Ranking:
    """Top ``depth`` sources by their best chunk's bm25 (as a positive number: higher is better)."""
    match = keyword_query(text)
    if match is None:
        return []
    where, params = filter_sql(filters)
    want = depth * 3 + 10
    while True:
        rows = catalog.keyword_chunks(match, where, params, want)
        ranked = group_by_source(catalog, rows)
        if len(ranked) >= depth or len(rows) < want:
            return ranked[:depth]
        want *= 4
