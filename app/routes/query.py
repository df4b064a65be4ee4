"""Search a collection: dense, keyword or hybrid, with filters and paging."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.deps import CollectionsDep, SettingsDep, bind
from app.registry import CollectionRegistry
from app.routes import CollectionName, errors
from app.schemas import ApiModels, Hit, QueryFilters, QueryParams, QueryRequest, QueryResponse
from app.settings import Settings
from indexer.errors import LimitExceeded
from indexer.search import Filters


def _search(collections: CollectionRegistry, settings: Settings, name: str, query: str, *, k: int, offset: int,
            mode: str, filters: Filters, explain: bool, fusion: str | None = None) -> Response:
    """Run the search and serialize the response here, in the worker thread: a returned ``Response``
    skips FastAPI's second validation pass and its extra thread hop on the event loop, which a busy
    server otherwise pays on every query (the model is still the documented ``response_model``)."""
    if offset + k > settings.max_k:
        raise LimitExceeded(f"offset + k is {offset + k}, over the limit of {settings.max_k} (SEMSEARCH_MAX_K)",
                            field="offset")
    extra = {"fusion": fusion} if fusion is not None else {}  # else the library's default
    with collections.lease(name) as coll:
        hits = coll.search(query, k=k, offset=offset, mode=mode, filters=filters, explain=explain, **extra)
    body = QueryResponse(collection=name, query=query, mode=mode, k=k, offset=offset,
                         total_candidates=max(hits.total_candidates, offset + len(hits)),
                         hits=[Hit(**h) for h in hits.to_list()])
    return Response(body.model_dump_json(), media_type="application/json")


def router(models: ApiModels) -> APIRouter:
    r = APIRouter(prefix="/collections/{name}/query", tags=["query"])

    @r.post("", response_model=QueryResponse, responses=errors(404, 409))
    @bind(body=models.query)
    def query(name: CollectionName, body: QueryRequest, collections: CollectionsDep,
              settings: SettingsDep) -> Response:
        """Search a collection; hits carry score, id or path, offsets, a snippet and metadata."""
        f: QueryFilters = body.filters
        filters = Filters(path_glob=f.path_glob, ext=f.ext, metadata=dict(f.metadata), modified_after=f.timestamp())
        return _search(collections, settings, name, body.query, k=body.k, offset=body.offset, mode=body.mode,
                       filters=filters, explain=body.explain, fusion=body.fusion)

    @r.get("", response_model=QueryResponse, responses=errors(404, 409))
    @bind(params=models.query_params)
    def query_get(name: CollectionName, params: Annotated[QueryParams, Query()], collections: CollectionsDep,
                  settings: SettingsDep) -> Response:
        """Search with query parameters, for quick curl use: ?q=...&k=5&mode=dense&ext=md."""
        filters = Filters(path_glob=params.path_glob, ext=params.ext, modified_after=params.modified_after)
        return _search(collections, settings, name, params.q, k=params.k, offset=params.offset, mode=params.mode,
                       filters=filters, explain=params.explain)

    return r
