"""Bounded in-flight queries: past the bound, a query is answered 503 with ``Retry-After`` at once.

Without a bound a burst queues without limit: every request waits for all those before it, so under
256 connections the median answer took seconds and nothing told a client to back off. With one, the
first ``limit`` queries in flight are served as before (the search lanes batch them), and the rest are
told to come back, which a load balancer or a client's retry policy understands.

Counted per worker process on its event loop (single-threaded, so a plain integer) in one
:class:`QueryBound`, around both query routes (POST and the GET fast path), inside the key check: a
request without a valid key never takes a place. Under ``semsearch serve`` the refusal itself is
made earlier still, by the HTTP protocol as soon as a request's headers are parsed
(``app.http_limits``): no ASGI task, no middleware, no body read, nothing queued behind the accepted
work - under load a 503 through the whole middleware stack took seconds to arrive. The middleware
below refuses too, for servers started another way (``uvicorn app.main:create_app``, tests).
Why own code: the ASGI limiters on PyPI bound requests per client or per time window (rate limiting),
not concurrency per route.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from app.deps import key_problem
from app.errors import error_response

QUERY_PATH = re.compile(r"/collections/[^/]+/query\Z")
#: the key under which the lifespan state hands the bound to the HTTP protocol (app.http_limits)
STATE_KEY = "semsearch_query_bound"


@dataclass
class QueryBound:
    """The in-flight query count of one worker and its limit (0: no bound)."""

    limit: int
    retry_after: int = 1
    keys: list[SecretStr] = field(default_factory=list)
    inflight: int = 0
    refused: int = 0  #: 503s sent (by the protocol or the middleware)

    def stats(self) -> dict[str, float]:
        """What /metrics shows (app.metrics)."""
        return {"refused": self.refused, "inflight": self.inflight}

    def bounds(self, method: str, path: str) -> bool:
        return bool(self.limit) and method in ("GET", "POST") and QUERY_PATH.match(path) is not None

    def full(self) -> bool:
        return self.inflight >= self.limit

    def message(self) -> str:
        return (f"{self.inflight} queries are in flight, the most this server takes at once "
                f"(SEMSEARCH_MAX_INFLIGHT_QUERIES={self.limit}); retry in {self.retry_after} s.")

    def admit(self, method: str, path: str, authorization: bytes | None) -> str:
        """What the HTTP protocol does with a request whose headers are in: "pass" it on uncounted (not a
        bounded query, or no valid key: its 401 comes later and it never takes a place), "refuse" it
        (503), or "count" it: it takes a place now, before any ASGI task runs, so the requests parsed in
        the same turn of the event loop as the first ``limit`` are refused at once."""
        if not self.bounds(method, path):
            return "pass"
        if self.keys and key_problem(authorization.decode("latin-1") if authorization else None, self.keys):
            return "pass"
        return "refuse" if self.full() else "count"


#: set in the ASGI scope by the protocol when it has counted the request (the middleware then does not)
COUNTED = "semsearch.counted"


class InflightQueryLimit:
    """503 + ``Retry-After`` for a query request that finds ``limit`` others in flight (0: no bound)."""

    def __init__(self, app: ASGIApp, *, limit: int = 0, retry_after: int = 1, bound: QueryBound | None = None) -> None:
        self.app = app
        self.bound = bound if bound is not None else QueryBound(limit, retry_after)

    @property
    def inflight(self) -> int:
        return self.bound.inflight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        bound = self.bound
        if scope["type"] != "http" or scope.get(COUNTED) or not bound.bounds(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        if bound.full():
            bound.refused += 1
            await error_response(503, "overloaded", bound.message(), headers={"Retry-After": str(bound.retry_after)})(
                scope, receive, send)
            return
        bound.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            bound.inflight -= 1
