"""Checks made before any handler reads a byte of the body: the API key and the body size."""

from __future__ import annotations

from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.deps import key_problem
from app.errors import BodyTooLarge, error_response

# Reachable without a key: liveness/readiness, the page shell and the API description (no data in them).
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json",
                          "/favicon.ico"})
PUBLIC_PREFIXES = ("/static/", "/static-docs/")


class AuthMiddleware:
    """401 for every non-public path without a valid ``Authorization: Bearer <key>`` (when keys are set).

    Checked before routing and before the body is read, so a request without a key learns nothing
    about the API's validation rules and costs no parsing.
    """

    def __init__(self, app: ASGIApp, keys: list[SecretStr]) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not self.keys or path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        auth = dict(scope.get("headers") or []).get(b"authorization")
        problem = key_problem(auth.decode("latin-1") if auth is not None else None, self.keys)
        if problem is None:
            await self.app(scope, receive, send)
            return
        await error_response(401, "unauthorized", problem[0], headers={"WWW-Authenticate": problem[1]})(
            scope, receive, send)


class BodyLimitMiddleware:
    """413 when Content-Length says the body is too large, or when a streamed body grows past the limit.

    Chunked uploads have no Content-Length, so the bytes are also counted as they arrive; the handler
    reading the body gets :class:`BodyTooLarge` (an HTTPException, which FastAPI passes through).
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await error_response(400, "bad_request", "Content-Length is not a number.")(scope, receive, send)
                return
            if size > self.max_bytes:
                exc = BodyTooLarge(self.max_bytes)
                await error_response(413, "body_too_large", exc.detail, "body")(scope, receive, send)
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counting_receive, send)
