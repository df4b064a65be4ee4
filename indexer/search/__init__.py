"""Ranking, end to end: dense, keyword and hybrid search with filters, snippets and score explanations.

Ranking happens at the level users ask about - a file or a document - while every hit still points to
its best chunk (offsets and a snippet). A source's score in one mode is the best score of its chunks.

- dense: cosine (inner product of unit vectors) from the FAISS index; filters restrict the candidate
  ids *before* ranking, so a filtered query returns its true top-k.
- keyword: SQLite FTS5 with bm25 over Porter-stemmed chunk text; the query's words are OR-ed, with
  English stopwords dropped (they carry no signal and only slow bm25 down).
- hybrid: a fusion of the dense and keyword rankings, each ``candidates`` (100) sources deep.
  The default, ``relative`` score fusion, is a convex combination of min-max normalized scores
  (Bruch et al., "An Analysis of Fusion Functions for Hybrid Retrieval", TOIS 2023; Weaviate's
  relativeScoreFusion, Elasticsearch's linear retriever with the minmax normalizer): each ranking's
  scores are mapped to [0, 1] over its own candidates (best -> 1, last -> 0), a source missing from a
  ranking gets 0 there, and ``score = sum_m w_m * norm_m / sum_m w_m`` with equal weights. Unlike rank
  fusion it keeps *how much* better a candidate is: a dense near-duplicate or a keyword hit matching
  every rare term keeps its lead instead of tying with the other ranking's top hit.
  ``fusion="rrf"`` gives reciprocal rank fusion (Cormack et al., 2009),
  ``score = sum_m w_m / (rrf_k + rank_m)``.

Where each piece lives: ``options`` (what a search may ask for and its rules), the filters (before
ranking: ``indexer/filters.py``, re-exported here), ``rankings`` (dense and keyword), ``fusion``,
``snippets``, ``hits`` (what comes back), and ``recipe`` (the whole recipe, in order).
"""

from indexer.filters import Filters, glob_match, glob_regex
from indexer.search.fusion import FUSIONS, fuse, min_max
from indexer.search.hits import Hit, Hits, SearchResponse, search_response
from indexer.search.options import (
    MODES,
    SORTS,
    Fusion,
    Like,
    Mode,
    Query,
    SearchOptions,
    Sort,
    check_query,
    query_of,
)
from indexer.search.recipe import search_batch
from indexer.search.snippets import QueryTerms, make_snippet

__all__ = [
    "FUSIONS",
    "MODES",
    "SORTS",
    "Filters",
    "Fusion",
    "Hit",
    "Hits",
    "Like",
    "Mode",
    "Query",
    "QueryTerms",
    "SearchOptions",
    "SearchResponse",
    "Sort",
    "check_query",
    "fuse",
    "glob_match",
    "glob_regex",
    "make_snippet",
    "min_max",
    "query_of",
    "search_batch",
    "search_response",
]
