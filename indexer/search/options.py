"""What a search may ask for, and the rules every caller shares (library, CLI and HTTP alike).

The rules are checked here, once: a :class:`SearchOptions` is checked when it is made and cannot be
changed after, so the ranking recipe trusts it. The HTTP schemas and MCP tools show the same limits
(``indexer.limits``) so their documents list them: a CLI user gets the same answer as an API client.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

from indexer.errors import InvalidInput, LimitExceeded
from indexer.filters import Filters
from indexer.limits import (
    DEFAULT_FIELD_BOOST,
    DEFAULT_MAX_K,
    DEFAULT_MAX_QUERY_CHARS,
    MAX_FIELD_BOOST,
    MAX_LIKE_CHARS,
    MAX_SIMILARITY,
    MIN_K,
    MIN_OFFSET,
    MIN_SIMILARITY,
)
from indexer.search.fusion import FUSIONS

Mode = Literal["dense", "keyword", "hybrid"]
MODES: tuple[str, ...] = ("dense", "keyword", "hybrid")
Fusion = Literal["relative", "rrf"]
# How hits are ordered: by relevance (the ranking's score), or - for browsing - the best ``candidates``
# hits by modified time or path, ascending, or descending with a leading "-".
Sort = Literal["relevance", "modified", "-modified", "path", "-path"]
SORTS: tuple[str, ...] = ("relevance", "modified", "-modified", "path", "-path")



@dataclass(frozen=True)
class Like:
    """"More like this": rank by the vector of an indexed document or file (its id or path),
    leaving that source itself out of the hits."""

    id: str


Query = str | Like


@dataclass(frozen=True)
class SearchOptions:
    """A search's options, checked when made (:class:`InvalidInput` naming the field, or
    :class:`LimitExceeded` over ``max_k``); immutable, so whoever gets one trusts it."""

    k: int = 10
    offset: int = 0
    mode: str = "hybrid"
    filters: Filters = field(default_factory=Filters)
    explain: bool = False
    fusion: str = "relative"  # how hybrid combines the rankings: relative (min-max scores) | rrf (ranks)
    rrf_k: int = 60
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    candidates: int = 100  # depth of each ranking that hybrid fuses
    min_similarity: float | None = None  # drop hits whose cosine is below this (-1..1), before paging
    # Title and file-name matches weigh more in the keyword ranking (so in hybrid too): a source whose
    # title or name holds a share f of the query's terms scores bm25 * (1 + field_boost * f); 0: off.
    field_boost: float = DEFAULT_FIELD_BOOST
    sort: str = "relevance"  # see Sort: "-modified" lists the best ``candidates`` hits newest first
    # The limit offset + k was checked against (SEMSEARCH_MAX_K): not an option, so not compared.
    max_k: int = field(default=DEFAULT_MAX_K, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InvalidInput(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}", field="mode")
        if self.fusion not in FUSIONS:
            raise InvalidInput(f"fusion must be one of {', '.join(FUSIONS)}, not {self.fusion!r}", field="fusion")
        if self.sort not in SORTS:
            raise InvalidInput(f"sort must be one of {', '.join(SORTS)}, not {self.sort!r}", field="sort")
        if not (math.isfinite(self.field_boost) and 0 <= self.field_boost <= MAX_FIELD_BOOST):
            raise InvalidInput(f"field_boost must be between 0 (off) and {MAX_FIELD_BOOST}, not {self.field_boost!r}",
                               field="field_boost")
        if self.k < MIN_K:
            raise InvalidInput(f"k must be at least {MIN_K}", field="k")
        if self.offset < MIN_OFFSET:
            raise InvalidInput(f"offset must be at least {MIN_OFFSET}", field="offset")
        if self.k > self.max_k:
            raise LimitExceeded(f"k is {self.k}, over the limit of {self.max_k} (SEMSEARCH_MAX_K)", field="k")
        if self.offset + self.k > self.max_k:
            raise LimitExceeded(f"offset + k is {self.offset + self.k}, over the limit of {self.max_k} "
                                "(SEMSEARCH_MAX_K)", field="offset")
        self.filters.tree()  # the filters' checks (InvalidInput naming the field, operator and value)
        m = self.min_similarity
        if m is not None and not (math.isfinite(m) and MIN_SIMILARITY <= m <= MAX_SIMILARITY):
            raise InvalidInput(f"min_similarity must be a cosine between {MIN_SIMILARITY} and {MAX_SIMILARITY}, "
                               f"not {m!r}", field="min_similarity")

    def within(self, max_k: int) -> SearchOptions:
        """These options, checked against a limit ``max_k`` (a collection's): themselves when they were
        checked against one at least as strict."""
        return self if self.max_k <= max_k else replace(self, max_k=max_k)


def check_query(query: Query, *, mode: str, max_chars: int = DEFAULT_MAX_QUERY_CHARS) -> Query:
    """The query, if it is one a search can answer: words (not empty, at most ``max_chars``) or a
    :class:`Like` of an id (dense or hybrid mode: a document's vector has no words to match)."""
    if isinstance(query, Like):
        if not query.id or len(query.id) > MAX_LIKE_CHARS:
            raise InvalidInput(f"like must be a document id or file path of 1-{MAX_LIKE_CHARS} characters",
                               field="like")
        if mode == "keyword":
            raise InvalidInput("like ranks by a document's vector: use mode dense or hybrid, not keyword",
                               field="like")
        return query
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("query must not be empty: say what to look for (or use like with an id)",
                           field="query")
    if len(query) > max_chars:
        raise LimitExceeded(f"query is {len(query):,} characters, over the limit of {max_chars:,} "
                            "(SEMSEARCH_MAX_QUERY_CHARS)", field="query")
    return query


def query_of(query: str | None, like: str | None) -> Query:
    """A request's query: its words or its ``like``, exactly one of them."""
    if like is not None:
        if query is not None:
            raise InvalidInput("send either query (words) or like (a document id or file path), not both",
                               field="like")
        return Like(like)
    if query is None:
        raise InvalidInput("query is missing: say what to look for (or use like with an id)", field="query")
    return query
