"""Bounded in-flight queries: past the bound, a query is answered 503 with ``Retry-After`` at once.

Without a bound a burst queues without limit: every request waits for all those before it, so under
256 connections the median answer took seconds and nothing told a client to back off. With one, the
first ``limit`` queries in flight are served as before (the search lanes batch them), and the rest are
told to come back, which a load balancer or a client's retry policy understands.

Counted per worker process on its event loop (single-threaded, so a plain integer), around both
query routes (POST and the GET fast path), inside the key check: a request without a valid key
never takes a place. Why own code: the ASGI limiters on PyPI bound requests per client or per time
window (rate limiting), not concurrency per route.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import error_response

QUERY_PATH = re.compile(r"/collections/[^/]+/query\Z")


class InflightQueryLimit:
    """503 + ``Retry-After`` for a query request that finds ``limit`` others in flight (0: no bound)."""

    def __init__(self, app: ASGIApp, *, limit: int, retry_after: int = 1) -> None:
        self.app = app
        self.limit = limit
        self.retry_after = retry_after
        self.inflight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or not self.limit or scope["method"] not in ("GET", "POST")
                or not QUERY_PATH.match(scope["path"])):
            await self.app(scope, receive, send)
            return
        if self.inflight >= self.limit:
            message = (f"{self.inflight} queries are in flight, the most this server takes at once "
                       f"(SEMSEARCH_MAX_INFLIGHT_QUERIES={self.limit}); retry in {self.retry_after} s.")
            await error_response(503, "overloaded", message, headers={"Retry-After": str(self.retry_after)})(
                scope, receive, send)
            return
        self.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1
