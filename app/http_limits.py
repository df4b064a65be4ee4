"""What ``semsearch serve`` refuses before the app sees a request, in uvicorn's HTTP protocol.

- Bounded request heads: a request line plus headers over ``SEMSEARCH_MAX_HEADER_BYTES``, or more than
  ``SEMSEARCH_MAX_HEADERS`` header fields, is answered 431 and the connection closed, before any of it
  reaches the app (so with or without an API key, and before the key is even looked at).
- Fast 503s: a query that finds ``SEMSEARCH_MAX_INFLIGHT_QUERIES`` others in flight is answered 503 +
  ``Retry-After`` as soon as its headers are parsed (the count is the app's :class:`QueryBound`, handed
  over in the lifespan state): no ASGI task, no middleware, no body parsing, so the answer does not wait
  behind the accepted work on a busy event loop (``app.backpressure``).

Why our own code: ``semsearch serve`` runs uvicorn on httptools (llhttp), which puts no bound on a
request's head: one 200 MB header took 571 s (httptools appends each piece of a header value to a
Python bytes object, so the copying grows with the square of its size) and four at once took the server
from 535 MB to 1.4 GB. uvicorn's h11 protocol has a bound (``h11_max_incomplete_event_size``) but parses
every request in pure Python, slower under the bursts the in-flight bound is there for; so we keep
httptools and count the head's bytes as they arrive, in a subclass of uvicorn's protocol. Where httptools
is not installed, ``semsearch serve`` falls back to h11 with the byte bound (a 400 then, and no count).
"""

from __future__ import annotations

import json
import urllib.parse
from functools import cache
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from app.backpressure import COUNTED, STATE_KEY, QueryBound

# The protocol class as uvicorn imports it by name (a string survives the trip to --workers processes).
PROTOCOL = "app.http_limits:BoundedHeadersProtocol"


@cache
def header_limits() -> tuple[int, int]:
    """(bytes, fields) from the settings, read once per process: uvicorn's worker processes build the
    app's Settings from the same environment (``semsearch serve`` puts the CLI's options there)."""
    from app.settings import Settings

    s = Settings.load()
    return s.max_header_bytes, s.max_headers


class BoundedHeadersProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on each request's head (bytes and header count)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_head_bytes, self.max_headers = header_limits()
        self._in_head = True  # bytes now arriving belong to a request line or headers
        self._head_bytes = 0  # bytes read while the head is open (an estimate, by whole reads)
        self._head_size = 0  # the head's exact size, summed from the parsed URL and header lines
        self._header_count = 0
        self._completed_in_chunk = False
        self._answered = False  # a refusal went out and the connection is closing

    def data_received(self, data: bytes) -> None:
        if self._answered:
            return
        self._completed_in_chunk = False
        super().data_received(data)
        # A head still open after the parser saw the chunk holds (about) all of it: counted, so a head
        # that never ends is refused within one read (at most 256 KiB) past the bound and memory stays
        # bounded. (A chunk that also finished an earlier pipelined request is not counted.) A head
        # that ends is measured exactly in on_headers_complete.
        if not self._answered and self._in_head and not self._completed_in_chunk:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse_size()

    def _refuse_size(self) -> None:
        self._refuse(f"The request line and headers are over {self.max_head_bytes} bytes, the most this "
                     f"server reads (SEMSEARCH_MAX_HEADER_BYTES); send fewer or shorter headers.")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes, self._head_size, self._header_count = True, 0, 0, 0

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._answered:
            return  # the rest of the chunk being parsed: ignored, the connection is closing
        self._header_count += 1
        self._head_size += len(name) + len(value) + 4  # "name: value\r\n"
        if self._header_count > self.max_headers:
            self._refuse(f"The request has more than {self.max_headers} header fields, the most this server "
                         f"reads (SEMSEARCH_MAX_HEADERS); send fewer headers.")
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._answered:
            return  # refused above (431): the app never sees it
        if self._head_size > self.max_head_bytes:  # a whole head over the bound that came in one read
            self._refuse_size()
            return
        bound: QueryBound | None = self.app_state.get(STATE_KEY)
        # (a pipelined request behind one still being answered goes the usual way: the middleware counts it)
        if (bound is None or not bound.limit or self.parser.should_upgrade()
                or not (self.cycle is None or self.cycle.response_complete)):
            super().on_headers_complete()
            return
        try:
            path = urllib.parse.unquote(httptools.parse_url(self.url).path.decode("ascii"))
        except (httptools.HttpParserInvalidURLError, UnicodeDecodeError):
            path = ""  # not a query route: uvicorn answers it as usual
        authorization = next((v for n, v in self.headers if n == b"authorization"), None)
        verdict = bound.admit(self.parser.get_method().decode("ascii", "replace"), path, authorization)
        if verdict == "refuse":
            bound.refused += 1
            retry = ((b"retry-after", str(bound.retry_after).encode()),)
            self._answer(503, "overloaded", bound.message(), None, retry)
            return  # the rest of the request (a body) is never read: the connection closes
        if verdict == "pass":
            super().on_headers_complete()
            return
        # "count": the place is taken now and given back when the request's ASGI task ends
        bound.inflight += 1
        self.scope[COUNTED] = True  # type: ignore[literal-required]
        app = self.app

        async def counted(scope: Any, receive: Any, send: Any) -> None:
            try:
                await app(scope, receive, send)
            finally:
                bound.inflight -= 1

        self.app = counted
        try:
            super().on_headers_complete()  # starts the ASGI task with ``counted`` (no pipeline: checked above)
        finally:
            self.app = app

    def on_body(self, body: bytes) -> None:
        if not self._answered:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._completed_in_chunk = True
        self._in_head = True
        if not self._answered:
            super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if not self._answered:
            super().send_400_response(msg)

    def _refuse(self, message: str) -> None:
        self.logger.warning("431: %s", message)
        self._answer(431, "headers_too_large", message, "headers")

    def _answer(self, status: int, code: str, message: str, field: str | None,
                headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        """An answer with the API's error body, then close: nothing more of this connection is read."""
        self._answered = True
        body = json.dumps({"error": {"code": code, "message": message, "field": field}}).encode()
        head = [STATUS_LINE[status]]
        for name, value in [*self.server_state.default_headers, *headers]:
            head += [name, b": ", value, b"\r\n"]
        head += [b"content-type: application/json\r\n", b"content-length: ", str(len(body)).encode(), b"\r\n",
                 b"connection: close\r\n\r\n"]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def uvicorn_options(max_header_bytes: int) -> dict[str, Any]:
    """``uvicorn.run`` options for bounded heads: our protocol over httptools, else h11 with its bound."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return {"http": "h11", "h11_max_incomplete_event_size": max_header_bytes}
    return {"http": PROTOCOL}
