"""HTTP conventions: CORS, hand-written operationIds, Allow on 405, and bounded in-flight queries."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from fastapi.routing import APIRoute

from app.backpressure import InflightQueryLimit
from app.settings import Settings

ORIGIN = "http://localhost:3000"
PREFLIGHT = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization,content-type"}


def test_cors_is_off_by_default(client):
    r = client.options("/collections/notes/query", headers=PREFLIGHT)
    assert r.status_code == 405 and "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in client.get("/healthz", headers={"Origin": ORIGIN}).headers


def test_a_preflight_from_an_allowed_origin_is_answered_before_the_key_check(make_client):
    client = make_client(cors_origins=[ORIGIN], api_keys=["k"])
    r = client.options("/collections/notes/query", headers=PREFLIGHT)
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in r.headers["access-control-allow-methods"]
    assert {"authorization", "content-type"} <= {h.strip().lower() for h in
                                                 r.headers["access-control-allow-headers"].split(",")}
    denied = client.options("/collections/notes/query", headers={**PREFLIGHT, "Origin": "http://evil.example"})
    assert denied.status_code == 400 and "access-control-allow-origin" not in denied.headers
    # the real request: still needs the key, and its answer (even a 401) carries the CORS header
    r = client.get("/collections", headers={"Origin": ORIGIN})
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == ORIGIN
    r = client.get("/collections", headers={"Origin": ORIGIN, "Authorization": "Bearer k"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN


def test_cors_origins_come_from_one_comma_separated_variable(monkeypatch):
    monkeypatch.setenv("SEMSEARCH_CORS_ORIGINS", "http://a.example, http://b.example:8080/")
    assert Settings(_env_file=None).cors_origins == ["http://a.example", "http://b.example:8080"]  # type: ignore[call-arg]


@pytest.mark.parametrize("value", ["localhost:3000", "http://a.example/app", "http://a.example, ftp://b.example"])
def test_a_value_no_browser_sends_as_origin_is_refused_at_start(monkeypatch, value):
    """A browser's Origin is scheme://host[:port]: anything else would never match, silently."""
    from app.settings import InvalidSettings

    monkeypatch.setenv("SEMSEARCH_CORS_ORIGINS", value)
    with pytest.raises(InvalidSettings) as e:
        Settings.load(_env_file=None)
    bad = value.split(", ")[-1]
    assert str(e.value) == (f"SEMSEARCH_CORS_ORIGINS={value!r} is not valid: {bad!r} is not an origin: "
                            "write scheme://host[:port] (e.g. http://localhost:3000) or *")


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, also inside included routers (which this FastAPI keeps as one route each)."""
    found: list[APIRoute] = []
    for r in routes:
        if isinstance(r, APIRoute):
            found.append(r)
        elif hasattr(r, "original_router"):
            found += _api_routes(r.original_router.routes)
    return found


def test_every_operation_id_is_hand_written_and_unique(client):
    routes = [r for r in _api_routes(client.app.routes) if r.include_in_schema]
    assert routes
    unset = [f"{sorted(r.methods)} {r.path}" for r in routes if not r.operation_id]
    assert unset == [], "give these routes an operation_id=... (snake_case, verb first)"
    ids = [op["operationId"] for path in client.get("/openapi.json").json()["paths"].values() for op in path.values()]
    assert len(ids) == len(routes) and len(set(ids)) == len(ids), sorted(ids)
    assert all(re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", i) and "__" not in i for i in ids), ids
    assert {"query_collection", "upsert_documents", "create_collection", "openai_create_embeddings"} <= set(ids)


@pytest.mark.parametrize("method, path, allowed", [
    ("PUT", "/collections/notes/query", "GET, POST"),  # two routes share the path: both are named
    ("PATCH", "/collections", "GET, POST"),
    ("GET", "/embed", "POST"),
    ("POST", "/jobs/abc", "DELETE, GET"),
    ("HEAD", "/healthz", "GET"),  # only what is answered: FastAPI routes take no HEAD
])
def test_405_says_what_is_allowed(client, method, path, allowed):
    r = client.request(method, path)
    assert r.status_code == 405 and r.headers["allow"] == allowed
    for other in allowed.split(", "):  # each method named is one the path answers (not 405)
        assert client.request(other, path).status_code != 405, other
    if method != "HEAD":  # (a HEAD answer has no body)
        error = r.json()["error"]
        assert error["code"] == "method_not_allowed" and allowed.split(",")[0] in error["message"]


def _asgi_request(limiter: InflightQueryLimit, path: str, method: str = "POST") -> asyncio.Task[list[dict[str, Any]]]:
    async def go() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await limiter({"type": "http", "method": method, "path": path, "headers": [], "query_string": b""},
                      receive, send)
        return sent

    return asyncio.ensure_future(go())


def test_queries_past_the_bound_get_503_with_retry_after_and_others_pass():
    async def scenario() -> None:
        release = asyncio.Event()
        entered: list[str] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:  # a query that holds its place
            entered.append(scope["path"])
            if scope["path"].endswith("/query"):
                await release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        limiter = InflightQueryLimit(app, limit=2, retry_after=3)
        held = [_asgi_request(limiter, "/collections/c/query") for _ in range(2)]
        while len(entered) < 2:
            await asyncio.sleep(0)
        rejected = await _asgi_request(limiter, "/collections/c/query", "GET")
        assert rejected[0]["status"] == 503 and (b"retry-after", b"3") in rejected[0]["headers"]
        assert b"SEMSEARCH_MAX_INFLIGHT_QUERIES=2" in rejected[1]["body"]
        other = await _asgi_request(limiter, "/collections", "GET")  # not a query: never bounded
        assert other[0]["status"] == 200
        release.set()
        assert [(await t)[0]["status"] for t in held] == [200, 200]
        assert limiter.inflight == 0
        again = await _asgi_request(limiter, "/collections/c/query")  # the places are free again
        assert again[0]["status"] == 200

    asyncio.run(scenario())


def test_the_app_bounds_its_query_routes_with_the_setting(make_client):
    client = make_client(max_inflight_queries=7)
    layers = [(m.cls, m.kwargs) for m in client.app.user_middleware]
    assert [kw["bound"].limit for cls, kw in layers if cls is InflightQueryLimit] == [7]


def test_a_catalog_missing_its_wal_tells_the_client_how_to_recover_and_a_damaged_one_names_no_file():
    import json

    from app.errors import semsearch_error_response
    from indexer.errors import CatalogWalMissing, damaged_catalog

    missing = semsearch_error_response(CatalogWalMissing("notes", 3, 5))
    body = json.loads(bytes(missing.body))["error"]
    assert missing.status_code == 500 and body["code"] == "catalog_wal_missing"
    assert "writes up to 5 were acknowledged" in body["message"] and "snapshot restore notes" in body["message"]
    damaged = semsearch_error_response(damaged_catalog("notes", ValueError("/srv/data/collections/notes: bad")))
    body = json.loads(bytes(damaged.body))["error"]
    assert body["code"] == "corrupt_collection" and "/srv" not in body["message"]
