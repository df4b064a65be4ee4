"""The filter language through every interface: a range + $in + $or + $not query gives the same hits
through the library, HTTP (POST body and GET's URL-encoded JSON), MCP's search tool and the CLI (in
process), and a bad one is one 422 or one CLI line naming the place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from typer.testing import CliRunner

import app.cli as cli
from app.mcp import build_server
from app.mcp_state import LocalState
from indexer.collection import Collection
from indexer.filters import Filters, matches
from indexer.stores.embedded import EmbeddedBackend
from tests.app.conftest import make_settings

runner = CliRunner()
WHERE = {"year": {"$gte": 2021, "$lt": "2025-01-01"},
         "$or": [{"topic": {"$in": ["law", "tax"]}}, {"tags": {"$contains": "urgent"}}],
         "$not": {"draft": True}}
DOCS = [{"id": f"r{i}", "text": f"Report {i} on {topic}, with figures and notes.",
         "metadata": {"year": 2019 + i, "topic": topic, "tags": tags, **({"draft": i % 2 == 0} if i % 3 else {})}}
        for i, (topic, tags) in enumerate([("law", ["urgent"]), ("tax", []), ("cooking", ["urgent", "final"]),
                                           ("law", ["final"]), ("travel", ["urgent"]), ("tax", ["draft"]),
                                           ("law", []), ("cooking", ["final"])])]


def test_the_same_hits_through_library_http_mcp_and_cli(make_client, tmp_data_dir: Path, embedder: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    tree = Filters(where=WHERE).tree()
    want = {d["id"] for d in DOCS if matches(tree, {"kind": "doc", "path": d["id"], "metadata": d["metadata"]})}
    assert 1 < len(want) < len(DOCS) - 2  # the filter keeps some, not all

    client = make_client()
    assert client.post("/collections", json={"name": "notes"}).status_code == 201
    assert client.post("/collections/notes/documents", json={"documents": DOCS}).status_code == 200
    body = {"query": "report figures", "k": 20, "filters": {"where": WHERE}}
    post = client.post("/collections/notes/query", json=body)
    get = client.get("/collections/notes/query", params={"q": "report figures", "k": 20, "where": json.dumps(WHERE)})
    assert post.status_code == get.status_code == 200, post.text + get.text
    http = [h["id"] for h in post.json()["hits"]]
    assert set(http) == want and [h["id"] for h in get.json()["hits"]] == http

    bad = client.post("/collections/notes/query", json={**body, "filters": {"where": {"year": {"$gte": "soon"}}}})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "where.year.$gte"
    assert bad.json()["error"]["message"] == 'where.year.$gte: expected a number or an ISO 8601 date, got "soon"'
    bad = client.get("/collections/notes/query", params={"q": "x", "where": '{"a": {"$foo": 1}}'})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "where.a.$foo"

    with Collection.open(EmbeddedBackend(tmp_data_dir), "notes", embedder, create=False) as notes:
        library = [h.id for h in notes.search("report figures", k=20, filters=Filters(where=WHERE))]
    assert library == http

    monkeypatch.setattr("app.service.load_model", lambda settings, backend=None: embedder)
    g = ["--data-dir", str(tmp_data_dir), "--server", "none", "--collection", "notes"]
    r = runner.invoke(cli.app, ["query", "report figures", "--k", "20", "--json", "--where", json.dumps(WHERE), *g])
    assert r.exit_code == 0, r.output
    assert [h["id"] for h in json.loads(r.stdout)["hits"]] == http
    r = runner.invoke(cli.app, ["query", "x", "--where", '{"$or": [{"a": 1}, {"b": {"$in": 2}}]}', *g])
    assert r.exit_code != 0 and len(r.output.strip().splitlines()) == 1
    assert "where.$or[1].b.$in: expected a non-empty list of values, got 2" in r.output

    async def session() -> list[str]:
        async with Client(build_server(LocalState(make_settings(tmp_data_dir)))) as mcp:
            got = await mcp.call_tool("search", {"query": "report figures", "k": 20, "collection": "notes",
                                                 "where": WHERE})
            assert not got.is_error, got.content
            bad = await mcp.call_tool("search", {"query": "x", "collection": "notes", "where": {"a": {"$x": 1}}})
            assert bad.is_error and "where.a.$x: unknown operator $x" in bad.content[0].text
            return [h["id"] for h in got.structured_content["hits"]]

    assert anyio.run(session) == http
