"""Bounded requests against a real ``semsearch serve``: an oversized request head (one huge header, or too
many) is answered 431 and cut off, with or without an API key, and the server's memory does not grow with
what the client sends; queries past the in-flight bound are answered 503 with Retry-After."""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving import Server, serve

KEY = "bounded-key"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("bounded") / "data", SEMSEARCH_API_KEYS=KEY,
               SEMSEARCH_MAX_INFLIGHT_QUERIES="1") as s:
        yield s


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def send_head(server: Server, head: bytes, stream_bytes: int = 0) -> tuple[bytes, int]:
    """Send ``head`` and then up to ``stream_bytes`` more bytes of a header value that never ends; return
    the server's answer and how many bytes went out before the server stopped reading."""
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        try:
            sock.sendall(head)
            sent = len(head)
            chunk = b"a" * 65536
            while sent < len(head) + stream_bytes:
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: what we want
        answer = b""
        sock.settimeout(10)  # an answer comes at once, or never (an unbounded head waits for its end)
        try:
            while data := sock.recv(65536):
                answer += data
        except (ConnectionResetError, TimeoutError):
            pass
    return answer, sent


def status_and_error(answer: bytes) -> tuple[int, dict[str, str]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)["error"]


@pytest.mark.parametrize("auth", [b"", f"Authorization: Bearer {KEY}\r\n".encode()], ids=["no key", "key"])
def test_a_header_that_never_ends_is_cut_off_with_431(server: Server, auth: bytes) -> None:
    before = peak_rss_mb(server.pid)
    limit = 8 * 1024 * 1024  # 256 times the default SEMSEARCH_MAX_HEADER_BYTES
    answer, sent = send_head(server, b"GET /collections HTTP/1.1\r\nHost: x\r\n" + auth + b"X-Big: ", limit)
    assert answer, f"no answer after {sent} bytes: the head was not bounded"
    status, error = status_and_error(answer)
    assert status == 431 and error["code"] == "headers_too_large" and "SEMSEARCH_MAX_HEADER_BYTES" in error["message"]
    assert sent < limit  # the server stopped reading long before the client stopped sending
    assert peak_rss_mb(server.pid) - before < 64


@pytest.mark.parametrize("auth", [b"", f"Authorization: Bearer {KEY}\r\n".encode()], ids=["no key", "key"])
def test_too_many_headers_get_431(server: Server, auth: bytes) -> None:
    many = b"".join(f"X-H{i}: {i}\r\n".encode() for i in range(150))
    answer, _ = send_head(server, b"GET /collections HTTP/1.1\r\nHost: x\r\n" + auth + many + b"\r\n")
    status, error = status_and_error(answer)
    assert status == 431 and "SEMSEARCH_MAX_HEADERS" in error["message"] and "100" in error["message"]


def test_headers_under_the_limits_are_served(server: Server) -> None:
    fine = b"".join(f"X-H{i}: {'v' * 200}\r\n".encode() for i in range(60))  # 60 headers, about 13 KB
    answer, _ = send_head(server, b"GET /collections HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                          + f"Authorization: Bearer {KEY}\r\n".encode() + fine + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    answer, _ = send_head(server, b"GET /collections HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 401"), answer[:300]  # the key check still answers below the limits


def test_queries_past_the_bound_get_503_with_retry_after(server: Server) -> None:
    """30 queries sent at once at a bound of 1: one or a few are served, the rest are told to come back;
    nothing else (no timing: which ones get in depends on the machine)."""
    import httpx

    auth = {"Authorization": f"Bearer {KEY}"}
    assert httpx.post(server.url + "/collections", json={"name": "burst"}, headers=auth).status_code == 201
    body = b'{"query": "anything"}'
    request = (b"POST /collections/burst/query HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
               + f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=60) for _ in range(30)]
    try:
        for sock in socks:
            sock.sendall(request)
        answers = []
        for sock in socks:
            select.select([sock], [], [], 60)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
            answers.append(data)
    finally:
        for sock in socks:
            sock.close()
    statuses = [int(a.split(b" ")[1]) for a in answers]
    assert set(statuses) == {200, 503} and statuses.count(200) >= 1, statuses
    refused = answers[statuses.index(503)]
    head, _, text = refused.partition(b"\r\n\r\n")
    assert b"\r\nretry-after: 1\r\n" in head.lower()
    error = json.loads(text)["error"]
    assert error["code"] == "overloaded" and "SEMSEARCH_MAX_INFLIGHT_QUERIES=1" in error["message"]
