"""A small HTTP client for a running ``semsearch serve``: what makes the CLI fast.

A CLI command that would load the model (several seconds) asks a running server instead when one is
named (``--server URL`` or ``SEMSEARCH_URL``) or found on the configured ``SEMSEARCH_HOST:SEMSEARCH_PORT``.
A server found that way is only used when it serves the same setup - data folder, model, backend,
precision, engine - as this process would load: its ``/readyz`` carries a fingerprint of that setup
(:meth:`app.settings.Settings.fingerprint`), so a server started for another data folder is never
asked by mistake.

This module imports nothing heavy (no torch, faiss, FastAPI or library code): only httpx.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from app.settings import SETUP_HEADER

if TYPE_CHECKING:
    from app.settings import Settings

log = logging.getLogger(__name__)

PROBE_SECONDS = 0.3  # a server on this machine answers /readyz in a few ms; anything slower is not used
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
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.url, headers=headers,
                                  timeout=httpx.Timeout(timeout, connect=5.0), trust_env=proxies)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, body: Any = None) -> Any:
        try:
            r = self._http.request(method, path, json=body)
        except httpx.TransportError as e:
            raise ServerUnreachable(f"cannot reach the server at {self.url}: {e or type(e).__name__}") from None
        if r.status_code >= 400:
            raise _error(r)
        return r.json() if r.content else None

    # -- the API, one method per route the CLI needs --------------------------------------------------
    def query(self, collection: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", f"/collections/{_seg(collection)}/query", body)

    def embed(self, texts: list[str]) -> dict[str, Any]:
        return self.request("POST", "/embed", {"texts": texts})

    def compare(self, texts: list[str]) -> dict[str, Any]:
        return self.request("POST", "/compare", {"texts": texts})

    def list_collections(self) -> dict[str, Any]:
        return self.request("GET", "/collections")

    def collection_info(self, name: str) -> dict[str, Any]:
        return self.request("GET", f"/collections/{_seg(name)}")

    def create_collection(self, name: str, *, index_type: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name}
        if index_type is not None:
            body["index_type"] = index_type
        return self.request("POST", "/collections", body)

    def delete_collection(self, name: str) -> None:
        self.request("DELETE", f"/collections/{_seg(name)}")


def _seg(name: str) -> str:
    return quote(name, safe="")


def _error(r: httpx.Response) -> ServerError:
    try:
        e = r.json()["error"]
        message, code, field = str(e["message"]), str(e.get("code") or ""), e.get("field")
    except (ValueError, KeyError, TypeError):
        message, code, field = f"the server answered {r.status_code} {r.reason_phrase}", "", None
    if r.status_code == 401:
        message += " (set SEMSEARCH_API_KEY to a key the server accepts)"
    return ServerError(r.status_code, message, code, field)


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
    try:
        r = httpx.get(f"{candidate}/readyz", timeout=PROBE_SECONDS, trust_env=False)
    except httpx.HTTPError as e:
        log.debug("no server on %s: %s", candidate, e)
        return None
    if r.status_code != 200:
        log.info("server on %s is not ready (%d)", candidate, r.status_code)
        return None
    if r.headers.get(SETUP_HEADER) != settings.fingerprint():
        log.info("server on %s serves another data folder or model; not using it", candidate)
        return None
    return Client(candidate, api_key=key, proxies=False)
