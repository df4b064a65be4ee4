"""Search a collection: dense, keyword or hybrid, with filters and paging.

``GET /collections/{name}/query`` - the quick, cacheable form - is also answered by
:class:`GetQueryFastPath` without FastAPI's per-request machinery; the route below stays the
reference (and the OpenAPI description) and answers every request the fast path hands on.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, get_origin

from fastapi import APIRouter, Query
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.datastructures import QueryParams as StarletteQueryParams
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from app.deps import SearchLanesDep, ServiceDep, bind
from app.errors import semsearch_error_response
from app.routes import CollectionName, errors
from app.schemas import NAME_PATTERN, ApiModels, QueryFilters, QueryParams, QueryRequest, QueryResponse
from app.search_lanes import LanesClosed, SearchLanes
from app.service import query_request
from app.settings import Settings
from indexer.errors import InvalidInput, SemsearchError
from indexer.search import Filters, SearchOptions
from indexer.search import Query as SearchQuery

PATH = "/collections/{name}/query"


def get_request(settings: Settings, params: QueryParams) -> tuple[SearchQuery, SearchOptions]:
    """The GET form's query and options, checked by the service's one check (``app.service.query_request``)."""
    filters = Filters(path_glob=params.path_glob, ext=params.ext, modified_after=params.modified_after,
                      where=params.where)
    try:
        return query_request(settings, query=params.q, like=params.like, k=params.k, offset=params.offset,
                             mode=params.mode, filters=filters, explain=params.explain, fusion=params.fusion,
                             min_similarity=params.min_similarity, sort=params.sort,
                             field_boost=params.field_boost)
    except InvalidInput as e:
        if e.field == "query":  # GET spells it q
            e.field = "q"
            e.message = e.message.replace("query", "q", 1)
        raise


async def _search(lanes: SearchLanes, name: str, opts: SearchOptions, query: SearchQuery) -> Response:
    """Hand the search to a lane (see ``app.search_lanes``): concurrent requests with the same
    collection and options share one embedding pass and one snapshot."""
    try:
        body = await lanes.submit((name, opts), query)
    except LanesClosed as e:  # shutting down: the client may retry against the next instance
        raise HTTPException(503, str(e), headers={"Retry-After": "1"}) from e
    return Response(body, media_type="application/json")


def router(models: ApiModels) -> APIRouter:
    r = APIRouter(prefix=PATH, tags=["query"])

    @r.post("", operation_id="query_collection", response_model=QueryResponse, responses=errors(404, 409, 503))
    @bind(body=models.query)
    async def query(name: CollectionName, body: QueryRequest, lanes: SearchLanesDep,
                    service: ServiceDep) -> Response:
        """Search a collection; hits carry score, id or path, offsets, a snippet and metadata."""
        f: QueryFilters = body.filters
        filters = Filters(path_glob=f.path_glob, ext=f.ext, metadata=dict(f.metadata), modified_after=f.timestamp(),
                          where=f.where)
        query, opts = service.query_request(query=body.query, like=body.like, k=body.k, offset=body.offset,
                                            mode=body.mode, filters=filters, explain=body.explain,
                                            fusion=body.fusion, min_similarity=body.min_similarity,
                                            sort=body.sort, field_boost=body.field_boost)
        return await _search(lanes, name, opts, query)

    @r.get("", operation_id="query_collection_get", response_model=QueryResponse, responses=errors(404, 409, 503))
    @bind(params=models.query_params)
    async def query_get(name: CollectionName, params: Annotated[QueryParams, Query()], lanes: SearchLanesDep,
                        service: ServiceDep) -> Response:
        """Search with query parameters, for quick curl use: ?q=...&k=5&mode=dense&ext=md."""
        query, opts = get_request(service.settings, params)
        return await _search(lanes, name, opts, query)

    return r


_NAME = re.compile(NAME_PATTERN)


class GetQueryFastPath:
    """Answers ``GET /collections/{name}/query`` straight from the ASGI scope.

    Why: at concurrency 1 FastAPI's routing, per-field parameter extraction and dependency solving
    cost about 0.8 ms a request once the forward pass has pushed the interpreter out of the CPU
    caches - a third or more of the HTTP overhead over an in-process search. This parses the query string
    once with the same pydantic model, checks the same limits and submits to the same lanes.
    Measured again side by side (``benchmarks/get_fast_path.py``, 2026-12-07, AMD EPYC with AVX2, a
    loaded 2-core machine): about 0.85 ms saved per request at concurrency 1 (keyword queries: p50
    15.8 vs 16.65 ms, +7 % queries/s at concurrency 8); for dense queries within the noise (+1-2 %).

    It only answers what the route would answer with 200 or a domain error; anything else - a
    parameter that does not validate, a malformed name, the lanes not started or closing, a
    ``root_path`` - goes on to the app, whose route answers it in the API's usual shape. It sits
    inside the key and body-size checks and the metrics, which label it with the route's template.
    """

    def __init__(self, app: ASGIApp, *, route: APIRoute, params: type[QueryParams], settings: Settings) -> None:
        self.app = app
        self.route = route
        self.params = params
        self.settings = settings
        # As FastAPI reads them: list fields take every value of their key, others the last one.
        self.lists = frozenset(name for name, f in params.model_fields.items() if get_origin(f.annotation) is list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        match = self.route.path_regex.match(scope["path"])
        lanes = getattr(scope["app"].state, "search_lanes", None) if match else None
        if match is None or lanes is None or not _NAME.fullmatch(name := match["name"]):
            await self.app(scope, receive, send)
            return
        query = StarletteQueryParams(scope["query_string"])  # what the route would parse
        raw: dict[str, Any] = {key: query.getlist(key) if key in self.lists else query[key] for key in query}
        try:
            params = self.params.model_validate(raw)
        except ValidationError:  # the route reports it, field by field
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route  # for the metrics' label, as if routed
        response: Response
        try:
            item, opts = get_request(self.settings, params)
            response = Response(await lanes.submit((name, opts), item), media_type="application/json")
        except SemsearchError as e:
            response = semsearch_error_response(e)
        except LanesClosed:  # the route answers 503 with Retry-After
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)


def get_route(query_router: APIRouter) -> APIRoute:
    """The GET route of a router made by :func:`router` (the fast path mirrors it)."""
    for route in query_router.routes:
        if isinstance(route, APIRoute) and route.path == PATH and "GET" in (route.methods or ()):
            return route
    raise LookupError(f"no GET {PATH} route")
