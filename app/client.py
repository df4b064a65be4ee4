"""A small HTTP client for a running ``semsearch serve``: what makes the CLI fast.

A CLI command that would load the model (several seconds) asks a running server instead when one is
named (``--server URL`` or ``SEMSEARCH_URL``) or found on the configured ``SEMSEARCH_HOST:SEMSEARCH_PORT``.
A server found that way is only used when it serves the same setup - data folder, model, backend,
precision, engine - as this process would load: its ``/readyz`` carries a fingerprint of that setup
(:meth:`app.settings.Settings.fingerprint`), so a server started for another data folder is never
asked by mistake.

Why the standard library's ``urllib.request`` and not httpx: the client's start-up *is* the wall time of
a CLI command answered by a server. httpx costs ~0.3 s before the first byte goes out on this 2-core
machine (its import pulls in httpcore and, once ``h2`` is installed, the HTTP/2 stack; each client
builds an SSL context even for ``http://``), against ~0.04 s here. ``urllib.request`` still brings what
a client must have: proxies from HTTP(S)_PROXY / NO_PROXY, HTTPS with the system's certificates,
redirects. The only piece added is a connection class with a short connect timeout and a long read
timeout (urllib has one timeout for both): a server that is down fails in seconds, a long snapshot or
a query on a loaded server is waited for.

This module imports nothing heavy (no torch, faiss, FastAPI, httpx or library code).
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from app.settings import SETUP_HEADER

if TYPE_CHECKING:
    from app.settings import Settings

log = logging.getLogger(__name__)

PROBE_SECONDS = 0.3  # a server on this machine answers /readyz in a few ms; anything slower is not used
CONNECT_SECONDS = 5.0  # reaching a server; the answer itself may take up to the client's ``timeout``
NO_SERVER = ("none", "off", "local")  # --server none / SEMSEARCH_URL=none: always load the model here


class ServerError(Exception):
    """The server answered with an error; ``message`` is its own (the same text the library raises)."""

    def __init__(self, status: int, message: str, code: str = "", field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.field = status, message, code, field


class ServerUnreachable(Exception):
    """No answer from the server (refused, timed out, not HTTP)."""


class Client:
    """The routes the CLI uses, each returning the HTTP response body (parsed JSON)."""

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = 600.0, proxies: bool = True) -> None:
        """``proxies``: honour HTTP(S)_PROXY / NO_PROXY (not for a server found on this machine)."""
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._headers = {"Accept": "application/json", "User-Agent": "semsearch-cli"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._opener = _opener(proxies)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = dict(self._headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with self._opener.open(req, timeout=self.timeout) as r:
                content = r.read()
        except urllib.error.HTTPError as e:
            raise _error(e.code, e.reason, _read(e)) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            raise ServerUnreachable(f"cannot reach the server at {self.url}: {_reason(e)}") from None
        return json.loads(content) if content else None

    # -- the API, one method per route the CLI needs --------------------------------------------------
    def query(self, collection: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", f"/collections/{_seg(collection)}/query", body)

    def facets(self, collection: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", f"/collections/{_seg(collection)}/facets", body)

    def embed(self, texts: list[str]) -> dict[str, Any]:
        return self.request("POST", "/embed", {"texts": texts})

    def compare(self, texts: list[str]) -> dict[str, Any]:
        return self.request("POST", "/compare", {"texts": texts})

    def list_collections(self) -> dict[str, Any]:
        return self.request("GET", "/collections")

    def collection_info(self, name: str) -> dict[str, Any]:
        return self.request("GET", f"/collections/{_seg(name)}")

    def create_collection(self, name: str, *, index_type: str | None = None,
                          language: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name}
        if index_type is not None:
            body["index_type"] = index_type
        if language is not None:
            body["language"] = language
        return self.request("POST", "/collections", body)

    def delete_collection(self, name: str) -> None:
        self.request("DELETE", f"/collections/{_seg(name)}")

    def create_snapshot(self, name: str) -> dict[str, Any]:
        return self.request("POST", f"/collections/{_seg(name)}/snapshots")

    def list_snapshots(self, name: str) -> dict[str, Any]:
        return self.request("GET", f"/collections/{_seg(name)}/snapshots")

    def restore_snapshot(self, name: str, snapshot: str) -> dict[str, Any]:
        return self.request("POST", f"/collections/{_seg(name)}/snapshots/{_seg(snapshot)}/restore")


# -- the transport --------------------------------------------------------------------------------------
def _connect(conn: http.client.HTTPConnection, connect: Callable[[], None]) -> None:
    """``connect`` with at most CONNECT_SECONDS to reach the server; the socket then waits the
    request's own (long) timeout for the answer."""
    read_seconds: Any = conn.timeout
    if isinstance(read_seconds, (int, float)):
        conn.timeout = min(CONNECT_SECONDS, read_seconds)
    try:
        connect()
    finally:
        conn.timeout = read_seconds
    if conn.sock is not None and isinstance(read_seconds, (int, float)):
        conn.sock.settimeout(read_seconds)


class _HTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        _connect(self, super().connect)


class _HTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        _connect(self, super().connect)


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPSConnection, req, context=self._context)  # type: ignore[attr-defined]


def _opener(proxies: bool) -> urllib.request.OpenerDirector:
    handlers: list[urllib.request.BaseHandler] = [_HTTPHandler(), _HTTPSHandler()]
    if not proxies:
        handlers.append(urllib.request.ProxyHandler({}))  # replaces the default one, which reads the environment
    return urllib.request.build_opener(*handlers)


def _read(e: urllib.error.HTTPError) -> bytes:
    try:
        return e.read()
    except (OSError, http.client.HTTPException):
        return b""


def _reason(e: BaseException) -> str:
    reason = getattr(e, "reason", None) or e
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return "timed out"
    return str(reason) or type(reason).__name__


def _seg(name: str) -> str:
    return quote(name, safe="")


def _error(status: int, reason: str, content: bytes) -> ServerError:
    try:
        e = json.loads(content)["error"]
        message, code, field = str(e["message"]), str(e.get("code") or ""), e.get("field")
    except (ValueError, KeyError, TypeError):
        message, code, field = f"the server answered {status} {reason}", "", None
    if status == 401:
        message += " (set SEMSEARCH_API_KEY to a key the server accepts)"
    return ServerError(status, message, code, field)


def probe_url(host: str, port: int) -> str:
    """The URL a client uses for a server bound to ``host`` (a wildcard bind is reached on loopback)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def find_server(settings: Settings, *, explicit: str | None = None) -> Client | None:
    """The server a CLI command should ask, or None to run in this process.

    ``explicit`` (``--server``) wins over ``SEMSEARCH_URL``; either is used as given (an unreachable
    one is an error, not a silent fallback). Otherwise the configured address is probed briefly, and
    its server used only if its setup fingerprint equals ours."""
    key = settings.client_api_key()
    url = explicit if explicit is not None else settings.url
    if url:
        return None if url.strip().lower() in NO_SERVER else Client(url, api_key=key)
    candidate = probe_url(settings.host, settings.port)
    req = urllib.request.Request(f"{candidate}/readyz", headers={"User-Agent": "semsearch-cli"})
    try:
        with _opener(False).open(req, timeout=PROBE_SECONDS) as r:
            setup = r.headers.get(SETUP_HEADER)
    except urllib.error.HTTPError as e:
        log.info("server on %s is not ready (%d)", candidate, e.code)
        return None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        log.debug("no server on %s: %s", candidate, _reason(e))
        return None
    if setup != settings.fingerprint():
        log.info("server on %s serves another data folder or model; not using it", candidate)
        return None
    return Client(candidate, api_key=key, proxies=False)
