"""``semsearch serve``'s HTTP protocol (app/http_limits.py), driven byte by byte over a fake transport:
past the in-flight bound a query is answered 503 + Retry-After from its headers alone (no ASGI app
call, no body read), a valid query below it reaches the app and holds its place until done, and an
oversized head is answered 431. No timing: what is asserted is who answered and what."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import SecretStr
from uvicorn.config import Config
from uvicorn.server import ServerState

from app import http_limits
from app.backpressure import STATE_KEY, QueryBound


class Transport:
    def __init__(self) -> None:
        self.written = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def set_write_buffer_limits(self, *a: Any, **k: Any) -> None: ...


def answer(transport: Transport) -> tuple[int, dict[str, str], dict[str, Any]]:
    head, _, body = transport.written.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split(" ")[1]), {k.lower(): v for k, v in headers.items()}, json.loads(body)


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(http_limits, "header_limits", lambda: (4096, 20))
    calls: list[str] = []
    release = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:  # a query that holds its place until released
        calls.append(scope["path"])
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    def make(loop: asyncio.AbstractEventLoop, bound: QueryBound) -> tuple[Any, Transport]:
        config = Config(app=app, lifespan="off", log_level="warning")
        config.load()
        protocol = http_limits.BoundedHeadersProtocol(config=config, server_state=ServerState(),
                                                      app_state={STATE_KEY: bound}, _loop=loop)
        transport = Transport()
        protocol.connection_made(transport)
        return protocol, transport

    return make, calls, release


QUERY = (b"POST /collections/notes/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Content-Length: 1000000\r\n")


def test_past_the_bound_a_query_gets_503_and_retry_after_from_its_headers_alone(connect) -> None:
    make, calls, release = connect

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        bound = QueryBound(1, retry_after=2)
        first, t1 = make(loop, bound)
        first.data_received(QUERY + b"\r\n" + b'{"query": "a"}')  # its body is still coming: it holds the place
        assert bound.inflight == 1  # taken when its headers were parsed, before its task ran
        second, t2 = make(loop, bound)
        second.data_received(QUERY + b"\r\n" + b'{"que')  # a body that never completes is never waited for
        status, headers, body = answer(t2)
        assert status == 503 and headers["retry-after"] == "2" and headers["connection"] == "close"
        assert body["error"]["code"] == "overloaded" and "SEMSEARCH_MAX_INFLIGHT_QUERIES=1" in body["error"]["message"]
        assert t2.closed and bound.refused == 1
        second.data_received(b'ry": "b"}')  # ignored: the connection is closing
        other, t3 = make(loop, bound)  # not a query route: never bounded
        other.data_received(b"GET /collections HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.sleep(0)
        assert calls == ["/collections/notes/query", "/collections"] and not t3.written  # both reached the app
        release.set()
        for _ in range(20):
            await asyncio.sleep(0)
        assert bound.inflight == 0 and t1.written.startswith(b"HTTP/1.1 200")  # the place is given back

    asyncio.run(scenario())


def test_without_a_valid_key_a_query_takes_no_place_and_gets_its_401_from_the_app(connect) -> None:
    make, calls, release = connect

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        bound = QueryBound(1, keys=[SecretStr("k")], inflight=1)  # full
        protocol, transport = make(loop, bound)
        protocol.data_received(QUERY.replace(b"1000000", b"2") + b"\r\n{}")
        await asyncio.sleep(0)
        assert calls == ["/collections/notes/query"] and bound.inflight == 1 and bound.refused == 0
        keyed, t2 = make(loop, bound)
        keyed.data_received(QUERY + b"Authorization: Bearer k\r\n\r\n")
        assert answer(t2)[0] == 503
        release.set()

    asyncio.run(scenario())


@pytest.mark.parametrize("head", [b"X-Big: " + b"a" * 8192, b"".join(b"X-%d: 1\r\n" % i for i in range(30))],
                         ids=["bytes", "count"])
def test_an_oversized_head_gets_431(connect, head: bytes) -> None:
    make, calls, _ = connect

    async def scenario() -> None:
        protocol, transport = make(asyncio.get_running_loop(), QueryBound(0))
        protocol.data_received(b"GET /collections HTTP/1.1\r\nHost: x\r\n")
        for at in range(0, len(head), 1000):
            protocol.data_received(head[at:at + 1000])
        status, _, body = answer(transport)
        assert status == 431 and body["error"]["code"] == "headers_too_large" and transport.closed and not calls

    asyncio.run(scenario())


def test_refusals_and_places_show_in_the_metrics(make_client) -> None:
    client = make_client(max_inflight_queries=3)
    client.app.state.query_bound.refused = 5  # as the protocol counts its 503s
    text = client.get("/metrics").text
    assert "semsearch_queries_refused_total 5.0" in text and "semsearch_queries_in_flight 0.0" in text


def test_a_whole_oversized_head_in_one_read_gets_431_too(connect) -> None:
    make, calls, _ = connect

    async def scenario() -> None:
        protocol, transport = make(asyncio.get_running_loop(), QueryBound(0))
        protocol.data_received(b"GET /collections HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n")
        await asyncio.sleep(0)
        assert answer(transport)[0] == 431 and not calls
        fine, t2 = make(asyncio.get_running_loop(), QueryBound(0))
        fine.data_received(b"GET /collections HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 3000 + b"\r\n\r\n")
        await asyncio.sleep(0)
        assert calls == ["/collections"]

    asyncio.run(scenario())
