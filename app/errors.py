"""One error shape for every failure: ``{"error": {"code", "message", "field"}}``.

The table below is the only place a domain error becomes an HTTP status. Unknown exceptions become a
500 with a generic message (the traceback goes to the server log, never to the client).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indexer import errors as e

log = logging.getLogger(__name__)

CollectionBusy = e.CollectionBusy  # (defined with the domain errors, so the CLI imports no FastAPI for it)


class ModelNotServed(e.SemsearchError):
    """A request names a model other than the one this server has loaded."""

    code = "model_mismatch"


# Most specific class first: the first isinstance match wins.
STATUS: list[tuple[type[e.SemsearchError], int]] = [
    (e.LimitExceeded, 422),
    (e.InvalidInput, 422),
    (e.CollectionNotFound, 404),
    (e.DocumentNotFound, 404),
    (e.SourceNotFound, 404),
    (e.JobNotFound, 404),
    (e.SnapshotNotFound, 404),
    (e.CollectionExists, 409),
    (e.ModelMismatch, 409),
    (ModelNotServed, 409),
    (e.CollectionBusy, 409),
    (e.Reindexing, 409),
    (e.PathNotAllowed, 403),
    (e.CorruptCollection, 500),
    (e.StoreUnavailable, 503),
    (e.DiskFull, 507),  # Insufficient Storage: the message names the data folder and what to free
    (e.NotSupported, 501),
    (e.RayUnavailable, 503),  # (the CLI's --ray only, today)
]

# Codes for errors raised by the HTTP layer itself (routing, auth, body size).
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 413: "body_too_large", 415: "unsupported_media_type",
              503: "not_ready"}

INTERNAL_MESSAGE = "Internal server error; the details are in the server log."


def status_of(exc: e.SemsearchError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def error_response(status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, field), status_code=status, headers=headers)


class BodyTooLarge(StarletteHTTPException):
    """Raised while streaming a request body past the limit (FastAPI passes HTTPExceptions through)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body is larger than the {limit:,} byte limit (SEMSEARCH_MAX_BODY_BYTES).")


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str | None:
    # Drop the location ("body", "query" ...) and pydantic's union branch tags ("list[constrained-str]").
    parts = [str(p) for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith(("constrained-", "function-"))
                                                                  or p in ("str", "int", "float", "bool", "list")))]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or None


def _validation_message(err: dict[str, Any]) -> str:
    """Pydantic's message already states the limit ("at most 256 items"); JSON errors get a clearer one."""
    if err.get("type") == "json_invalid":
        return "Request body is not valid JSON: " + str((err.get("ctx") or {}).get("error", "syntax error"))
    if err.get("type") in ("model_attributes_type", "dict_type"):
        return "Expected a JSON object"
    return str(err.get("msg", "invalid value"))


def semsearch_error_response(exc: e.SemsearchError) -> JSONResponse:
    """The response for a domain error (also used by handlers that bypass FastAPI's routing)."""
    status = status_of(exc)
    if isinstance(exc, e.CorruptCollection) and not exc.public_message:  # its message stays in the log
        log.error("%s: %s", type(exc).__name__, exc.message)
        return error_response(status, exc.code, "The collection's catalog cannot be read; see the server log.")
    if status >= 500:  # the store is unreachable, or cannot do this: the message says what to do
        log.error("%s: %s", type(exc).__name__, exc.message)
    return error_response(status, exc.code, exc.message, exc.field)


async def _semsearch_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, e.SemsearchError)
    return semsearch_error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Type mismatches of the other union branches are noise next to a broken limit: report those last.
    errs = sorted(exc.errors(), key=lambda err: str(err.get("type", "")).endswith("_type"))
    if not errs:
        return error_response(422, "invalid_input", "Invalid request")
    first = errs[0]
    if first.get("type") == "json_invalid":  # unparseable, not invalid: 400, as the README's table and HTTP say
        return error_response(400, "bad_request", _validation_message(first), "body")
    field = _field_name(first.get("loc", ()))
    message = (f"{field}: " if field else "") + _validation_message(first)
    if len(errs) > 1:
        message += f" (and {len(errs) - 1} more problem{'s' if len(errs) > 2 else ''})"
    return error_response(422, "invalid_input", message, field)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = f"No route {request.method} {request.url.path}; see /docs for the API."
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        allowed = allowed_methods(request)
        message = (f"{request.method} is not allowed on {request.url.path}: use {', '.join(allowed)}; "
                   "see /docs for the API.")
        headers = {**(headers or {}), "Allow": ", ".join(allowed)}
    field = "body" if exc.status_code == 413 else None
    return error_response(exc.status_code, code, message, field, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method the API answers on this path. Starlette's 405 names only the first matching
    route's methods, and GET and POST of one path are two routes here; the OpenAPI document lists
    them all (its path templates compiled once per app, as Starlette compiles a route's)."""
    app = request.app
    table = getattr(app.state, "allow_table", None)
    if table is None:
        table = [(compile_path(path)[0], {m.upper() for m in ops if m.upper() in _METHODS})
                 for path, ops in app.openapi().get("paths", {}).items()]
        app.state.allow_table = table
    path = request.url.path
    methods: set[str] = set()
    for regex, ops in table:
        if regex.match(path):
            methods |= ops
    return sorted(methods)  # no HEAD: FastAPI's routes answer only the methods they declare


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(e.SemsearchError, _semsearch_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


class CatchAllMiddleware:
    """Last line of defence: any exception that escapes a handler becomes a generic 500.

    A pure ASGI middleware (not ``add_exception_handler(Exception)``, which Starlette re-raises after
    responding), so nothing propagates to the server and no internals reach the client.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except RecursionError:
            # json.loads of a body nested thousands of levels deep
            if started:
                raise
            await error_response(422, "invalid_input", "Request body is nested too deeply.")(scope, receive, send)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await error_response(500, "internal_error", INTERNAL_MESSAGE)(scope, receive, send)
