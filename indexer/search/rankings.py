"""The two rankings of sources: dense (cosine) and keyword (bm25), over any store (``indexer.stores``).

Both rank sources - files and documents - by their best chunk (max), and return
``[(source_id, score, best_chunk_id)]`` best first. Adding a share of the other chunks' scores
favours long documents for their length, and measured worse on BEIR SciFact (where 71% of the
documents span several chunks) at every share tried, in both modes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from indexer.analysis.bm25 import query_vector
from indexer.filters import Filters

if TYPE_CHECKING:
    from indexer.stores.base import Store

Ranking = list[tuple[int, float, int]]  # (source_id, score, best chunk_id), best first


def group_by_source(store: Store, chunk_scores: list[tuple[int, float]]) -> Ranking:
    """[(chunk_id, score)] best first -> [(source_id, score, best_chunk_id)] best first."""
    if not chunk_scores:
        return []
    src = store.sources_of_chunks([c for c, _ in chunk_scores])
    best: dict[int, tuple[float, int]] = {}
    for cid, score in chunk_scores:
        sid = src.get(cid)
        if sid is not None and sid not in best:
            best[sid] = (score, cid)
    return sorted(((s, sc, c) for s, (sc, c) in best.items()), key=lambda t: (-t[1], t[0]))


def _top_sources(store: Store, fetch: Callable[[int], Any], depth: int) -> Ranking:
    """Ask ``fetch(want)`` for ever more chunks until they cover ``depth`` distinct sources or the
    store has no more (several chunks of one source take one place)."""
    want = depth * 3 + 10
    while True:
        rows = fetch(want)
        ranked = group_by_source(store, rows)
        if len(ranked) >= depth or len(rows) < want:
            return ranked[:depth]
        want *= 4


def dense_ranking(store: Store, qvec: np.ndarray, depth: int, filters: Filters) -> Ranking:
    """Top ``depth`` sources by their best chunk's cosine. Fetches chunks until ``depth`` distinct
    sources are found or the store has no more."""
    return _top_sources(store, lambda want: store.dense_chunks(qvec, want, filters), depth)


def keyword_ranking(store: Store, text: str, depth: int, filters: Filters) -> Ranking:
    """Top ``depth`` sources by their best chunk's bm25 (as a positive number: higher is better)."""
    return _top_sources(store, lambda want: store.keyword_chunks(text, want, filters), depth)


def field_terms(kind: str, key: str, metadata: dict[str, Any], analyzer: Any) -> set[int]:
    """The terms of a source's boosted fields: its metadata ``title`` and, for a file, its name without
    the extension (``bread_recipes.md`` -> bread recipes), analysed as its query's words are."""
    title = metadata.get("title")
    text = title if isinstance(title, str) else ""
    if kind == "file":
        name = key.rsplit("/", 1)[-1]
        text += " " + re.sub(r"[_\-.]+", " ", name.rsplit(".", 1)[0] if "." in name[1:] else name)
    return set(query_vector(text, analyzer)[0]) if text.strip() else set()


def boost_fields(store: Store, ranking: Ranking, query: str, weight: float) -> Ranking:
    """``ranking`` (keyword) re-scored so title and file-name matches weigh more: a source whose title or
    name holds a share ``f`` of the query's terms gets ``score * (1 + weight * f)``.

    Why here and not in each store's keyword index: the stores index chunk text only (FTS5 in the
    embedded store, BM25 sparse vectors in Qdrant and Postgres); a per-field index would mean a second
    keyword index in three stores and a re-index of every collection. Re-scoring the keyword ranking's
    candidates is the same in every store, needs no re-index, and changes the order only where a title or
    name matches. It cannot bring in a source whose text has none of the query's words."""
    if weight <= 0 or not ranking:
        return ranking
    analyzer = store.meta.analyzer()
    wanted = set(query_vector(query, analyzer)[0])
    if not wanted:
        return ranking
    rows = store.hit_rows([cid for _, _, cid in ranking])
    boosted = []
    for sid, score, cid in ranking:
        row = rows.get(cid)
        share = len(wanted & field_terms(row.kind, row.key, row.metadata, analyzer)) / len(wanted) if row else 0.0
        boosted.append((sid, score * (1 + weight * share), cid))
    return sorted(boosted, key=lambda t: (-t[1], t[0]))
