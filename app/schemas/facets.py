"""``/collections/NAME/facets``, POST body, GET parameters and response (app/routes/facets.py)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.common import MAX_K, MAX_QUERY_CHARS, RequestModel
from app.schemas.query import QueryFilters
from indexer.limits import (
    DEFAULT_FACET_HITS,
    DEFAULT_FACET_TOP,
    MAX_EXT_CHARS,
    MAX_EXTS,
    MAX_FACET_DEPTH,
    MAX_FACET_TOP,
    MAX_GLOB_CHARS,
    MAX_LIKE_CHARS,
    MAX_WHERE_JSON_CHARS,
    MIN_K,
)
from indexer.search import Mode

_FIELD_DOC = ("What to count by: ext, folder (its first `depth` levels below the indexed folder), year or month "
              "(of the modified time, UTC), or metadata.<key>")
_QUERY_DOC = "Optional: count only over the sources of this query's best `k` hits (the facets of a search)"


class FacetRequest(RequestModel):
    """Counts of files and documents (not chunks) per value of a field, within filters and optionally a query."""

    field: str = Field(max_length=140, description=_FIELD_DOC, examples=["ext", "folder", "metadata.topic"])
    top: int = Field(DEFAULT_FACET_TOP, ge=1, le=MAX_FACET_TOP, description="How many values to list, by count")
    depth: int = Field(1, ge=1, le=MAX_FACET_DEPTH, description="Folder levels (field folder)")
    query: str | None = Field(None, max_length=MAX_QUERY_CHARS, description=_QUERY_DOC)
    like: str | None = Field(None, max_length=MAX_LIKE_CHARS, description="Optional: as query, for a like search")
    mode: Mode = Field("hybrid", description="The query's ranking")
    k: int = Field(DEFAULT_FACET_HITS, ge=MIN_K, le=MAX_K, description="How many of the query's best hits count")
    filters: QueryFilters = Field(default_factory=QueryFilters)


class FacetParams(BaseModel):
    """GET /collections/{name}/facets parameters: the POST body's fields, filters flattened (no metadata)."""

    model_config = ConfigDict(extra="ignore")

    field: str = Field(max_length=140, description=_FIELD_DOC)
    top: int = Field(DEFAULT_FACET_TOP, ge=1, le=MAX_FACET_TOP)
    depth: int = Field(1, ge=1, le=MAX_FACET_DEPTH)
    q: str | None = Field(None, max_length=MAX_QUERY_CHARS, description=_QUERY_DOC)
    mode: Mode = "hybrid"
    k: int = Field(DEFAULT_FACET_HITS, ge=MIN_K, le=MAX_K)
    path_glob: str | None = Field(None, max_length=MAX_GLOB_CHARS)
    ext: list[Annotated[str, Field(min_length=1, max_length=MAX_EXT_CHARS)]] = Field(default_factory=list,
                                                                                    max_length=MAX_EXTS)
    modified_after: float | None = Field(None, description="Unix time")
    where: str | None = Field(None, max_length=MAX_WHERE_JSON_CHARS,
                              description="The filter language as URL-encoded JSON (docs/filters.md)")


class FacetValue(BaseModel):
    value: Any = Field(description="The value: a string (ext, folder, year, month) or a metadata value")
    count: int = Field(description="Files and documents with this value")


class FacetResponse(BaseModel):
    collection: str
    field: str = Field(description="The field counted")
    query: str | None = Field(description="The query whose hits were counted (null: the whole collection)")
    like: str | None = Field(description="The like search whose hits were counted")
    hits: int | None = Field(description="How many of the query's best hits were counted (null without a query)")
    sources: int = Field(description="Files and documents that matched the filters (and query), with a value or not")
    values: list[FacetValue] = Field(description="The top values by count (ties by value)")
