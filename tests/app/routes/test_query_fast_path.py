"""GET /collections/{name}/query fast path: answers like the route, hands on everything else."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from app.routes import query
from app.schemas import build_models
from app.search_lanes import LanesClosed
from indexer.errors import CollectionNotFound
from indexer.search import Like
from tests.app.conftest import make_settings

ANSWER = '{"answered": "by the lanes"}'
SCOPES: list[dict[str, Any]] = []


class FakeLanes:
    def __init__(self, error: BaseException | None = None) -> None:
        self.calls: list[tuple[Any, Any]] = []
        self.error = error

    async def submit(self, key: Any, item: Any) -> str:
        self.calls.append((key, item))
        if self.error is not None:
            raise self.error
        return ANSWER


def run(path: str, query_string: str = "", *, method: str = "GET", lanes: Any = None, root_path: str = "",
        max_k: int = 20) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(what the fast path sent, the scopes it handed on to the app)."""
    settings = make_settings(Path("/nonexistent"), max_k=max_k)
    models = build_models(settings)
    handed_on: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        handed_on.append(scope)

    fast = query.GetQueryFastPath(app, route=query.get_route(query.router(models)), params=models.query_params,
                                  settings=settings)
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": method, "path": path, "root_path": root_path,
             "query_string": query_string.encode("latin-1"), "headers": [],
             "app": SimpleNamespace(state=SimpleNamespace(search_lanes=lanes))}
    asyncio.run(fast(scope, receive, send))
    SCOPES.append(scope)
    return sent, handed_on


def test_a_valid_query_is_answered_without_the_app():
    lanes = FakeLanes()
    sent, handed_on = run("/collections/notes/query",
                          "q=green+tea&k=3&offset=1&mode=dense&ext=md&ext=txt&path_glob=sub/*&explain=true"
                          "&modified_after=100.5&unknown=ignored", lanes=lanes)
    assert handed_on == []
    assert sent[0]["status"] == 200 and (b"content-type", b"application/json") in sent[0]["headers"]
    assert sent[1]["body"] == ANSWER.encode()
    ((name, opts), q), = lanes.calls
    assert (name, q) == ("notes", "green tea")
    assert (opts.k, opts.offset, opts.mode, opts.explain) == (3, 1, "dense", True)
    assert (opts.filters.ext, opts.filters.path_glob, opts.filters.modified_after) == (["md", "txt"], "sub/*", 100.5)
    assert SCOPES[-1]["route"].path == "/collections/{name}/query"  # the metrics label it like the route


def test_like_min_similarity_and_fusion_reach_the_lanes():
    lanes = FakeLanes()
    sent, handed_on = run("/collections/notes/query", "like=doc-1&min_similarity=0.25&fusion=rrf", lanes=lanes)
    assert handed_on == [] and sent[0]["status"] == 200
    ((_name, opts), item), = lanes.calls
    assert item == Like("doc-1") and (opts.min_similarity, opts.fusion) == (0.25, "rrf")


def test_defaults_and_a_repeated_key_read_like_starlette():
    lanes = FakeLanes()
    run("/collections/notes/query", "q=first&q=last", lanes=lanes)  # a repeated single-valued key: the last wins
    ((_, opts), q), = lanes.calls
    assert q == "last" and (opts.k, opts.offset, opts.mode, opts.filters.ext) == (10, 0, "hybrid", [])


@pytest.mark.parametrize("path, query_string, method, root_path, lanes", [
    ("/collections/notes/query", "q=x", "POST", "", FakeLanes()),  # only GET
    ("/collections/notes/query", "q=x&k=0", "GET", "", FakeLanes()),
    ("/collections/notes/query", "q=x&k=21", "GET", "", FakeLanes()),  # over max_k
    ("/collections/notes/query", "q=x&mode=fuzzy", "GET", "", FakeLanes()),
    ("/collections/notes/query", "q=x&ext=", "GET", "", FakeLanes()),
    ("/collections/bad name!/query", "q=x", "GET", "", FakeLanes()),  # the name pattern
    ("/collections/notes\n/query", "q=x", "GET", "", FakeLanes()),  # "$" would allow a trailing newline
    ("/collections/notes/query/", "q=x", "GET", "", FakeLanes()),
    ("/collections/notes/documents", "q=x", "GET", "", FakeLanes()),
    ("/api/collections/notes/query", "q=x", "GET", "/api", FakeLanes()),  # mounted under a prefix
    ("/collections/notes/query", "q=x", "GET", "", None),  # still starting: the route answers 503
    ("/collections/notes/query", "q=x", "GET", "", FakeLanes(LanesClosed("closing"))),  # 503 + Retry-After
])
def test_everything_else_goes_on_to_the_route(path, query_string, method, root_path, lanes):
    sent, handed_on = run(path, query_string, method=method, lanes=lanes, root_path=root_path)
    assert sent == [] and len(handed_on) == 1


def test_limits_and_domain_errors_get_the_api_error_shape():
    lanes = FakeLanes()
    sent, handed_on = run("/collections/notes/query", "q=x&k=15&offset=10", lanes=lanes)
    assert handed_on == [] and lanes.calls == [] and sent[0]["status"] == 422
    assert json.loads(sent[1]["body"])["error"]["field"] == "offset"

    for query_string in ("", "q=+", "q=x&like=doc-1"):  # the library's query rules, answered like the route
        sent, handed_on = run("/collections/notes/query", query_string, lanes=lanes)
        assert handed_on == [] and lanes.calls == [] and sent[0]["status"] == 422
        assert json.loads(sent[1]["body"])["error"]["field"] in ("q", "like")

    missing = CollectionNotFound("nope")
    sent, _ = run("/collections/nope/query", "q=x", lanes=FakeLanes(missing))
    assert sent[0]["status"] == 404
    assert json.loads(sent[1]["body"]) == {"error": {"code": "collection_not_found", "message": missing.message,
                                                     "field": "collection"}}


@pytest.mark.parametrize("params", [
    {"q": "brewing tea", "k": 2, "mode": "dense", "ext": ["txt", "md"]},
    {"q": "happy animals", "k": 3, "offset": 1, "mode": "hybrid", "explain": "true"},
    {"q": "bread", "mode": "keyword", "path_glob": "*.md"},
    {"q": "planets", "modified_after": 0},
])
def test_get_answers_exactly_like_post(indexed, params):
    """GET goes through the fast path, POST through FastAPI: the same search must give the same answer."""
    got = indexed.get("/collections/notes/query", params=params)
    assert got.status_code == 200, got.text
    body: dict[str, Any] = {"query": params["q"]}
    filters: dict[str, Any] = {}
    for key, value in params.items():
        if key in ("ext", "path_glob", "modified_after"):
            filters[key] = value
        elif key == "explain":
            body[key] = value == "true"
        elif key != "q":
            body[key] = value
    if filters:
        body["filters"] = filters
    posted = indexed.post("/collections/notes/query", json=body)
    assert posted.status_code == 200, posted.text
    assert got.json() == posted.json() and got.json()["hits"]
    assert got.headers["content-type"] == posted.headers["content-type"] == "application/json"


def test_get_errors_keep_the_api_shape(make_client):
    client = make_client(max_k=20)
    client.post("/collections", json={"name": "c"})
    for params, status, field in (({"q": "x", "k": 0}, 422, "k"), ({"q": "x", "k": 15, "offset": 10}, 422, "offset"),
                                  ({"k": 3}, 422, "q"), ({"q": "x", "mode": "fuzzy"}, 422, "mode")):
        r = client.get("/collections/c/query", params=params)
        assert r.status_code == status and r.json()["error"]["field"] == field, (params, r.text)
    r = client.get("/collections/nope/query", params={"q": "x"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "collection_not_found"


def test_the_app_serves_get_queries_through_the_fast_path_behind_its_checks(client):
    layers = [m.cls for m in client.app.user_middleware]  # outermost first
    assert layers[-1] is query.GetQueryFastPath  # innermost: the key, body-size and metrics layers wrap it
