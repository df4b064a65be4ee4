"""The request checks every interface runs (HTTP POST and GET, the CLI, MCP) before anything opens.

A query's and a facet's options are checked here, once, by the library's rules, with the same messages
everywhere; they need only the settings, so a bad request is refused before the model loads. The
service offers them as :meth:`Service.query_request` and :meth:`Service.facet_request`.
"""

from __future__ import annotations

from app.settings import Settings
from indexer.facets import Facet, parse_facet
from indexer.limits import DEFAULT_FACET_HITS, DEFAULT_FACET_TOP, DEFAULT_FIELD_BOOST
from indexer.search import Filters, SearchOptions, check_query, query_of
from indexer.search import Query as SearchQuery


def query_request(settings: Settings, *, query: str | None, like: str | None, k: int, offset: int, mode: str,
                  filters: Filters, explain: bool, fusion: str | None = None,
                  min_similarity: float | None = None, sort: str = "relevance",
                  field_boost: float | None = None) -> tuple[SearchQuery, SearchOptions]:
    """A query request's query and options, checked by the library's rules: the one check every
    interface runs (HTTP POST and GET, the CLI, MCP), with the same messages. It needs only the
    settings, so a bad request is refused before the model loads."""
    opts = SearchOptions(k=k, offset=offset, mode=mode, filters=filters, explain=explain,
                         min_similarity=min_similarity, max_k=settings.max_k, sort=sort,
                         field_boost=DEFAULT_FIELD_BOOST if field_boost is None else field_boost,
                         fusion=fusion if fusion is not None else settings.fusion)  # SEMSEARCH_FUSION
    return check_query(query_of(query, like), mode=mode, max_chars=settings.max_query_chars), opts


def facet_request(settings: Settings, *, field: str, depth: int = 1, top: int = DEFAULT_FACET_TOP,
                  query: str | None = None, like: str | None = None, mode: str = "hybrid",
                  k: int = DEFAULT_FACET_HITS, filters: Filters | None = None
                  ) -> tuple[Facet, SearchQuery | None, SearchOptions]:
    """A facet request's facet, its query (None: count over the whole collection) and the options of
    that query's search (whose filters restrict the counts either way), checked by the same rules as a
    query (``query_request``): the one check every interface runs."""
    facet = parse_facet(field, depth=depth, top=top)
    filters = filters or Filters()
    if query is None and like is None:
        filters.check()  # the same refusal as a search's, before anything is opened
        return facet, None, SearchOptions(filters=filters, max_k=settings.max_k)
    q, opts = query_request(settings, query=query, like=like, k=k, offset=0, mode=mode, filters=filters,
                            explain=False)
    return facet, q, opts
