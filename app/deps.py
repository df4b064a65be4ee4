"""What handlers depend on, as ``Annotated`` aliases over ``app.state`` (no module-level globals)."""

from __future__ import annotations

import hmac
import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar, get_args, get_origin

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr
from starlette.exceptions import HTTPException

from app.metrics import Metrics
from app.search_lanes import SearchLanes
from app.service import Service
from app.settings import Settings
from indexer.embedding import Embedder
from indexer.jobs import JobManager


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_embedder(request: Request) -> Embedder:
    embedder = getattr(request.app.state, "embedder", None)
    if embedder is None:
        raise HTTPException(503, "The model is still loading; try again in a moment.")
    return embedder


async def get_service(request: Request) -> Service:
    service = getattr(request.app.state, "service", None)
    if service is None:
        raise HTTPException(503, "The service is still starting; try again in a moment.")
    return service


async def get_search_lanes(request: Request) -> SearchLanes:
    lanes = getattr(request.app.state, "search_lanes", None)
    if lanes is None:
        raise HTTPException(503, "The service is still starting; try again in a moment.")
    return lanes


async def get_jobs(request: Request) -> JobManager:
    return request.app.state.jobs


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
EmbedderDep = Annotated[Embedder, Depends(get_embedder)]
ServiceDep = Annotated[Service, Depends(get_service)]
SearchLanesDep = Annotated[SearchLanes, Depends(get_search_lanes)]
JobsDep = Annotated[JobManager, Depends(get_jobs)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


# -- auth ---------------------------------------------------------------------------------------------
_bearer = HTTPBearer(auto_error=False, description="An API key from SEMSEARCH_API_KEYS")
CHALLENGE = 'Bearer realm="semsearch"'


def key_problem(authorization: str | None, keys: list[SecretStr]) -> tuple[str, str] | None:
    """None if the Authorization header carries one of ``keys``; else (message, WWW-Authenticate value)."""
    if not keys:
        return None
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return ("Missing API key: send the header 'Authorization: Bearer <key>' "
                "(keys are configured in SEMSEARCH_API_KEYS).", CHALLENGE)
    given = token.strip().encode()
    ok = False
    for key in keys:  # every key is compared, each in constant time: no early exit to time
        ok |= hmac.compare_digest(given, key.get_secret_value().encode())
    return None if ok else ("Invalid API key.", CHALLENGE + ', error="invalid_token"')


async def require_api_key(request: Request,
                    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """Declares the bearer scheme in OpenAPI and checks the key (``AuthMiddleware`` has already
    checked it before the body was read; this keeps a route safe if it is mounted elsewhere)."""
    problem = key_problem(request.headers.get("authorization"), request.app.state.settings.api_keys)
    if problem is not None:
        raise HTTPException(401, problem[0], headers={"WWW-Authenticate": problem[1]})


# -- per-app request models ------------------------------------------------------------------------------
F = TypeVar("F", bound=Callable[..., Any])


def bind(**models: type[Any]) -> Callable[[F], F]:
    """Give parameters this app's request models (which carry the configured limits).

    Handlers are written against the static classes in ``app.schemas`` - that is what type checkers
    see - and each app's router factory swaps in the subclasses ``build_models(settings)`` made. Any
    ``Annotated`` metadata on the parameter (``Query()``, ``Body()``) is kept.
    """

    def decorate(fn: F) -> F:
        sig = inspect.signature(fn, eval_str=True)
        params = []
        for p in sig.parameters.values():
            if p.name in models:
                ann = p.annotation
                if get_origin(ann) is Annotated:
                    _, *meta = get_args(ann)
                    ann = Annotated[(models[p.name], *meta)]
                else:
                    ann = models[p.name]
                p = p.replace(annotation=ann)
            params.append(p)
        fn.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        return fn

    return decorate


