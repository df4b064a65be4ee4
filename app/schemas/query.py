"""``/collections/NAME/query``, POST body and GET parameters (app/routes/query.py)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.schemas.common import (
    MAX_K,
    MAX_QUERY_CHARS,
    RequestModel,
    check_metadata,
)
from indexer.limits import (
    DEFAULT_FIELD_BOOST,
    MAX_EXT_CHARS,
    MAX_EXTS,
    MAX_FIELD_BOOST,
    MAX_GLOB_CHARS,
    MAX_LIKE_CHARS,
    MAX_METADATA_FILTERS,
    MAX_SIMILARITY,
    MAX_WHERE_JSON_CHARS,
    MIN_K,
    MIN_OFFSET,
    MIN_SIMILARITY,
)
from indexer.search import Fusion, Mode, SearchResponse, Sort

WHERE_DOC = ("The filter language (docs/filters.md), AND-ed with the fields above: fields (path, ext, kind, "
             "modified, size and any metadata key) with $eq $ne $gt $gte $lt $lte $in $nin $exists $contains $glob, "
             "combined with $and, $or and $not")


class QueryFilters(RequestModel):
    path_glob: str | None = Field(None, max_length=MAX_GLOB_CHARS,
                                  description="Only files whose path matches, e.g. 'docs/*.md'")
    ext: list[Annotated[str, Field(min_length=1, max_length=MAX_EXT_CHARS)]] = Field(
        default_factory=list, max_length=MAX_EXTS, description="Only files with these extensions, e.g. ['md', 'txt']")
    metadata: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict, max_length=MAX_METADATA_FILTERS, description="Equality on document metadata keys")
    modified_after: float | datetime | None = Field(
        None, description="Unix time or ISO 8601: files modified (documents indexed) after it")
    where: dict[str, Any] | None = Field(
        None, description=WHERE_DOC, examples=[{"year": {"$gte": 2024}, "ext": {"$in": ["pdf", "pptx"]},
                                                "$not": {"tags": {"$contains": "draft"}}}])

    def timestamp(self) -> float | None:
        if isinstance(self.modified_after, datetime):
            return self.modified_after.timestamp()
        return self.modified_after

    @field_validator("metadata")
    @classmethod
    def _finite(cls, v: dict[str, Any]) -> dict[str, Any]:
        return check_metadata(v)

    @field_validator("modified_after")
    @classmethod
    def _finite_time(cls, v: float | datetime | None) -> float | datetime | None:
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError("modified_after must be a finite number")
        return v


_QUERY_DOC = "What to look for (or send like instead)"
_LIKE_DOC = ("More like this: a document id or an indexed file's path; hits are ranked by its vector "
             "(dense), leaving it out. Send it instead of query")
_SORT_DOC = ("relevance (the default), or for browsing the best `candidates` (100) hits by modified time or path: "
             "modified, path (ascending), -modified, -path (descending); a document's time is its indexing time")
_FIELD_BOOST_DOC = ("Title and file-name matches weigh more in keyword and hybrid ranking: a hit whose metadata title "
                    "or file name holds a share f of the query's words scores bm25 * (1 + field_boost * f); 0: off")
_MIN_SIMILARITY_DOC = ("Drop hits whose cosine (the hit's cosine field) is below this, before paging: "
                       "e.g. 0.3 keeps only passages with some real resemblance to the query")


class QueryRequest(RequestModel):
    """A search. The library checks the rules (indexer.search.options); the limits shown here are the same."""

    query: str | None = Field(None, max_length=MAX_QUERY_CHARS, description=_QUERY_DOC,
                              examples=["how long should bread dough rise"])
    like: str | None = Field(None, max_length=MAX_LIKE_CHARS, description=_LIKE_DOC)
    k: int = Field(10, ge=MIN_K, le=MAX_K, description="Hits to return (the page size)")
    offset: int = Field(0, ge=MIN_OFFSET, le=MAX_K - MIN_K,
                        description="Hits to skip (paging); offset + k <= SEMSEARCH_MAX_K")
    mode: Mode = Field("hybrid", description="dense (embeddings), keyword (bm25) or hybrid (a fusion of both)")
    fusion: Fusion | None = Field(
        None, description="How hybrid fuses the rankings: relative (min-max normalized scores, the default) or "
        "rrf (reciprocal rank fusion)")
    min_similarity: float | None = Field(None, ge=MIN_SIMILARITY, le=MAX_SIMILARITY, description=_MIN_SIMILARITY_DOC)
    filters: QueryFilters = Field(default_factory=QueryFilters)
    sort: Sort = Field("relevance", description=_SORT_DOC)
    field_boost: float | None = Field(None, ge=0, le=MAX_FIELD_BOOST,
                                      description=_FIELD_BOOST_DOC + f" (default {DEFAULT_FIELD_BOOST})")
    explain: bool = Field(False, description="Include per-mode ranks and scores for each hit")


class QueryParams(BaseModel):
    """GET /collections/{name}/query parameters: the POST body's fields, filters flattened (no metadata;
    where as JSON)."""

    model_config = ConfigDict(extra="ignore")

    q: str | None = Field(None, max_length=MAX_QUERY_CHARS, description=_QUERY_DOC)
    like: str | None = Field(None, max_length=MAX_LIKE_CHARS, description=_LIKE_DOC)
    k: int = Field(10, ge=MIN_K, le=MAX_K, description="Hits to return")
    offset: int = Field(0, ge=MIN_OFFSET, le=MAX_K - MIN_K, description="Hits to skip")
    mode: Mode = "hybrid"
    fusion: Fusion | None = None
    min_similarity: float | None = Field(None, ge=MIN_SIMILARITY, le=MAX_SIMILARITY, description=_MIN_SIMILARITY_DOC)
    path_glob: str | None = Field(None, max_length=MAX_GLOB_CHARS)
    ext: list[Annotated[str, Field(min_length=1, max_length=MAX_EXT_CHARS)]] = Field(default_factory=list,
                                                                                    max_length=MAX_EXTS)
    modified_after: float | None = Field(None, description="Unix time")
    where: str | None = Field(None, max_length=MAX_WHERE_JSON_CHARS,
                              description="The filter language as URL-encoded JSON, e.g. where=%7B%22year%22%3A2024%7D "
                              "for {\"year\":2024} (docs/filters.md)")
    sort: Sort = Field("relevance", description=_SORT_DOC)
    field_boost: float | None = Field(None, ge=0, le=MAX_FIELD_BOOST, description=_FIELD_BOOST_DOC)
    explain: bool = False

    @field_validator("modified_after")
    @classmethod
    def _finite_time(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("modified_after must be a finite number")
        return v


QueryResponse = SearchResponse  # the library's dataclass (its hits are indexer.search.Hit) is the response model
