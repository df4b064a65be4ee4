"""The CLI's HTTP client (app/client.py) on its own, against small real HTTP servers in threads:
JSON in and out, the server's error text, timeouts that fail in seconds, proxies from the environment,
and a start-up light enough for a CLI answered in well under a second."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.client import Client, ServerError, ServerUnreachable
from tests.serving import free_port


@contextmanager
def fake_server(status: int = 200, body: Any = None) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A server answering every request with ``status`` and ``body`` (JSON); yields its URL and the
    requests it saw (method, the request target as sent, headers, body)."""
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen.append({"method": self.command, "target": self.path, "headers": dict(self.headers),
                         "body": self.rfile.read(length) if length else b""})
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_sends_json_with_the_key_and_reads_json():
    with fake_server(body={"hits": []}) as (url, seen):
        assert Client(url, api_key="k1").query("my notes", {"query": "x", "k": 3}) == {"hits": []}
    (req,) = seen
    assert (req["method"], req["target"]) == ("POST", "/collections/my%20notes/query")
    assert req["headers"]["Authorization"] == "Bearer k1"
    assert req["headers"]["Content-Type"] == "application/json"
    assert json.loads(req["body"]) == {"query": "x", "k": 3}


def test_an_empty_answer_is_none():
    with fake_server(status=204) as (url, _):
        assert Client(url).delete_collection("old") is None


def test_the_servers_error_text_reaches_the_user():
    error = {"error": {"message": "Collection 'x' does not exist", "code": "not_found", "field": "name"}}
    with fake_server(status=404, body=error) as (url, _), pytest.raises(ServerError) as e:
        Client(url).collection_info("x")
    assert (e.value.status, e.value.message, e.value.code, e.value.field) == (
        404, "Collection 'x' does not exist", "not_found", "name")


def test_a_401_says_which_setting_to_fix():
    with fake_server(status=401, body={"error": {"message": "invalid API key"}}) as (url, _), \
            pytest.raises(ServerError) as e:
        Client(url).list_collections()
    assert e.value.message == "invalid API key (set SEMSEARCH_API_KEY to a key the server accepts)"


def test_an_error_without_our_body_names_the_status():
    with fake_server(status=502, body={"detail": "bad gateway"}) as (url, _), pytest.raises(ServerError) as e:
        Client(url).list_collections()
    assert e.value.message == "the server answered 502 Bad Gateway"


def test_refused_is_unreachable():
    port = free_port()
    with pytest.raises(ServerUnreachable, match=f"cannot reach the server at http://127.0.0.1:{port}: .*refused"):
        Client(f"http://127.0.0.1:{port}").list_collections()


def test_a_server_that_never_answers_times_out():
    with socket.socket() as s:  # accepts connections (the backlog) and never reads or writes
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
        start = time.monotonic()
        with pytest.raises(ServerUnreachable, match="timed out"):
            Client(url, timeout=0.5).list_collections()
        assert time.monotonic() - start < 5


def test_proxies_come_from_the_environment_unless_told_not_to(monkeypatch):
    with fake_server(body={"via": "proxy"}) as (proxy, through), fake_server(body={"via": "direct"}) as (url, direct):
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.setenv("NO_PROXY", "")
        assert Client(url).list_collections() == {"via": "proxy"}
        assert through[0]["target"] == f"{url}/collections"  # a proxy is sent the absolute URL
        assert Client(url, proxies=False).list_collections() == {"via": "direct"}
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert Client(url).list_collections() == {"via": "direct"}
    assert len(through) == 1 and len(direct) == 2


def test_starting_the_client_imports_no_heavy_http_stack():
    """The wall time of `semsearch query` with a server is mostly the client's start-up: httpx (and the
    HTTP/2 stack it pulls in) cost ~0.3 s of it before this client replaced them."""
    code = "import sys, app.client, app.cli; print(sorted(m for m in ('httpx', 'httpcore', 'h2', 'torch', " \
           "'faiss', 'fastapi', 'indexer.collection') if m in sys.modules))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
