"""Search a collection: dense, keyword or hybrid, with filters and paging."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from app.deps import SearchLanesDep, SettingsDep, bind
from app.registry import CollectionRegistry
from app.routes import CollectionName, errors
from app.schemas import ApiModels, Hit, QueryFilters, QueryParams, QueryRequest, QueryResponse
from app.search_lanes import Lane, LanesClosed, SearchLanes
from app.settings import Settings
from indexer.errors import LimitExceeded
from indexer.search import Filters, SearchOptions


def run_query_group(collections: CollectionRegistry, key: tuple[str, SearchOptions], queries: list[str],
                    lane: Lane) -> list[str]:
    """Search lane work: one forward pass and one ``search_batch`` for queries with the same collection
    and options, each answer serialized here, off the event loop. Returning the JSON text skips
    FastAPI's second validation pass of the response (the model is still the documented
    ``response_model``)."""
    name, opts = key
    with collections.lease(name) as coll:
        vectors = coll.embed_queries(queries, busy=lane.busy) if opts.mode != "keyword" else None
        lane.release()  # the rest is ranking in Python: the core is free for the next batch's forward pass
        results = coll.search_batch(queries, options=opts, vectors=vectors)
    return [QueryResponse(collection=name, query=query, mode=opts.mode, k=opts.k, offset=opts.offset,
                          total_candidates=max(hits.total_candidates, opts.offset + len(hits)),
                          hits=[Hit(**h) for h in hits.to_list()]).model_dump_json()
            for query, hits in zip(queries, results, strict=True)]


async def _search(lanes: SearchLanes, settings: Settings, name: str, query: str, *, k: int, offset: int, mode: str,
                  filters: Filters, explain: bool, fusion: str | None = None) -> Response:
    """Check the limits here, then hand the search to a lane (see ``app.search_lanes``): concurrent
    requests with the same collection and options share one embedding pass and one snapshot."""
    if offset + k > settings.max_k:
        raise LimitExceeded(f"offset + k is {offset + k}, over the limit of {settings.max_k} (SEMSEARCH_MAX_K)",
                            field="offset")
    opts = SearchOptions(k=k, offset=offset, mode=mode, filters=filters, explain=explain)
    if fusion is not None:  # else the library's default
        opts.fusion = fusion
    try:
        body = await lanes.submit((name, opts), query)
    except LanesClosed as e:  # shutting down: the client may retry against the next instance
        raise HTTPException(503, str(e), headers={"Retry-After": "1"}) from e
    return Response(body, media_type="application/json")


def router(models: ApiModels) -> APIRouter:
    r = APIRouter(prefix="/collections/{name}/query", tags=["query"])

    @r.post("", response_model=QueryResponse, responses=errors(404, 409))
    @bind(body=models.query)
    async def query(name: CollectionName, body: QueryRequest, lanes: SearchLanesDep,
                    settings: SettingsDep) -> Response:
        """Search a collection; hits carry score, id or path, offsets, a snippet and metadata."""
        f: QueryFilters = body.filters
        filters = Filters(path_glob=f.path_glob, ext=f.ext, metadata=dict(f.metadata), modified_after=f.timestamp())
        return await _search(lanes, settings, name, body.query, k=body.k, offset=body.offset, mode=body.mode,
                       filters=filters, explain=body.explain, fusion=body.fusion)

    @r.get("", response_model=QueryResponse, responses=errors(404, 409))
    @bind(params=models.query_params)
    async def query_get(name: CollectionName, params: Annotated[QueryParams, Query()], lanes: SearchLanesDep,
                        settings: SettingsDep) -> Response:
        """Search with query parameters, for quick curl use: ?q=...&k=5&mode=dense&ext=md."""
        filters = Filters(path_glob=params.path_glob, ext=params.ext, modified_after=params.modified_after)
        return await _search(lanes, settings, name, params.q, k=params.k, offset=params.offset, mode=params.mode,
                       filters=filters, explain=params.explain)

    return r
