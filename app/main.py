"""The HTTP service: ``create_app(settings)`` builds everything; the model loads once in ``lifespan``.

Run it with ``semsearch serve`` (or ``uvicorn app.main:create_app --factory``).
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import FileResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware

from app import mcp
from app.backpressure import STATE_KEY, InflightQueryLimit, QueryBound
from app.deps import require_api_key
from app.docs_pages import install_docs
from app.errors import CatchAllMiddleware, install_error_handlers
from app.metrics import Metrics, MetricsMiddleware
from app.middleware import AuthMiddleware, BodyLimitMiddleware
from app.routes import collections, compare, documents, embed, explain, facets, health, jobs, query, snapshots, texts
from app.routes import map as map_routes
from app.schemas import build_models
from app.service import Service
from app.settings import InvalidSettings, Settings
from indexer.embedding import Embedder
from indexer.projection import ProjectionCache
from indexer.walk import PinnedRoot

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"

DESCRIPTION = """Semantic search over your own documents: embed, index, query and compare.

* **Auth**: when `SEMSEARCH_API_KEYS` is set, every route except `/healthz`, `/readyz`, the web page and
  these docs needs `Authorization: Bearer <key>`.
* **Errors** all look like `{"error": {"code": "...", "message": "...", "field": "..."}}`.
* **Limits** (texts per request, characters, k, body size) are settings; each field below states its own.
"""


def _summarized(router: APIRouter) -> APIRouter:
    """A handler's docstring: first line -> OpenAPI summary, the rest -> description."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.description and not route.summary:
            route.summary, _, rest = route.description.partition("\n")
            route.description = inspect.cleandoc(rest)
    return router


def create_app(settings: Settings | None = None, *, embedder: Embedder | None = None) -> FastAPI:
    """Build the app. ``embedder`` skips loading the model (tests share one across apps)."""
    if settings is None:  # the factory as uvicorn calls it: bad settings end the process with one line each
        try:
            settings = Settings.load()
        except InvalidSettings as e:
            for line in str(e).splitlines():
                log.error("%s", line)
            raise SystemExit(2) from None
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        # The one front door (app/service.py): the model, the store, the collections, the lanes, the jobs.
        service = await run_in_threadpool(Service.from_settings, settings, embedder=embedder, metrics=metrics)
        model = await run_in_threadpool(lambda: service.embedder)  # loads it now, unless given
        await run_in_threadpool(service.start)
        warmed_up = threading.Event()
        app.state.service = service
        app.state.embedder, app.state.collections, app.state.jobs = model, service.collections, service.jobs
        app.state.search_lanes = service.lanes
        app.state.warmed_up = warmed_up

        def warm_up() -> None:
            try:
                service.warm_up()
            finally:
                warmed_up.set()
            if settings.explain_preload:  # after readiness: searches need not wait for it (/readyz "explain")
                app.state.minilm.preload(model)

        warm = threading.Thread(target=warm_up, name="warm-up", daemon=True)
        warm.start()
        try:
            # the lifespan state reaches uvicorn's protocol too: `semsearch serve` refuses there (app.http_limits)
            yield {STATE_KEY: query_bound}
        finally:
            await run_in_threadpool(service.stop)  # the lanes, then the jobs
            await run_in_threadpool(warm.join, 60)  # don't let it open a collection after close
            await run_in_threadpool(service.close)
            app.state.embedder = app.state.collections = app.state.search_lanes = app.state.service = None

    app = FastAPI(title="semsearch", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    install_docs(app, icon="/static/favicon.svg")  # /docs and /redoc from local files: they work offline
    app.state.settings = settings
    # resolved once, from the paths as configured (a symlinked root re-pointed later is refused): routes/jobs.py
    app.state.roots = [PinnedRoot.pin(r) for r in settings.allowed_roots or [Path(settings.data_dir) / "docs"]]
    app.state.metrics = metrics
    query_bound = QueryBound(settings.max_inflight_queries, keys=settings.api_keys)
    app.state.query_bound = query_bound
    app.state.minilm = explain.LazyMiniLM()
    if settings.explain_preload:
        app.state.minilm.state = "loading"
    app.state.maps = ProjectionCache()
    metrics.watch(lambda: getattr(app.state, "collections", None), lambda: getattr(app.state, "jobs", None),
                  lambda: getattr(app.state, "search_lanes", None), query_bound.stats)

    install_error_handlers(app)
    models = build_models(settings)
    auth: list[Any] = [Depends(require_api_key)] if settings.api_keys else []
    query_router = query.router(models)
    app.include_router(_summarized(health.router))
    for r in (embed.router(models), compare.router(models), collections.router, documents.router(models),
              query_router, jobs.router, snapshots.router, explain.router(models), health.metrics_router,
              texts.router, map_routes.router, facets.router):
        app.include_router(_summarized(r), dependencies=auth)
    mcp.mount(app, models)  # the MCP tools over streamable HTTP at /mcp, behind the same key check

    # Added innermost first. The GET query fast path answers behind every check; metrics see every
    # status; the catch-all turns escapes into 500s; the key is checked before the body size, and both
    # before any body is read.
    app.add_middleware(query.GetQueryFastPath, route=query.get_route(query_router),
                       params=models.query_params, settings=settings)
    app.add_middleware(InflightQueryLimit, bound=query_bound)  # around both query routes
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(AuthMiddleware, keys=settings.api_keys)
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    if settings.cors_origins:  # outermost: a preflight carries no key, and every answer needs the headers
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
                           allow_headers=["Authorization", "Content-Type"], expose_headers=["Retry-After"],
                           max_age=600)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def index_page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    return app
