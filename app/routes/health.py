"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from app.deps import MetricsDep, key_problem
from app.routes import errors
from app.schemas import Ready
from app.settings import SETUP_HEADER

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="get_health")
async def healthz() -> dict[str, str]:
    """The process is up (no auth)."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="get_readiness",
            response_model=Ready, responses={503: {"model": Ready, "description": "Still starting"}})
async def readyz(request: Request) -> JSONResponse:
    """Model loaded and existing collections opened (no auth; names only with a key); 503 until then."""
    state = request.app.state
    embedder = getattr(state, "embedder", None)
    registry = getattr(state, "collections", None)
    warmed = getattr(state, "warmed_up", None)
    ready = embedder is not None and registry is not None and warmed is not None and warmed.is_set()
    body = Ready(status="ready" if ready else "starting", explain=state.minilm.state)
    if embedder is not None:
        body.model, body.dimension, body.backend = embedder.name, embedder.dimension, embedder.backend
    # Collection names (and why one is unavailable) are for key holders only when keys are set.
    keys = state.settings.api_keys
    if registry is not None and key_problem(request.headers.get("authorization"), keys) is None:
        body.collections = registry.loaded()
        body.unavailable = dict(registry.unavailable)
    # The CLI asks a server it finds on the configured address only if this matches its own setup (app.client).
    headers = {SETUP_HEADER: state.settings.fingerprint()}
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503, headers=headers)


metrics_router = APIRouter(tags=["health"])


@metrics_router.get("/metrics", operation_id="get_metrics", response_class=Response, responses={
    200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text format"},
    **errors()})
def metrics(metrics: MetricsDep) -> Response:
    """Prometheus metrics: requests and latency per route, embed batch sizes, index sizes, jobs."""
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
