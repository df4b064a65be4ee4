"""The MCP server inside the app: Host checks on loopback, and tools called before the model is there."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from app.main import create_app
from app.mcp import build_server
from app.mcp_state import STARTING, AppState, LocalState
from app.schemas import build_models
from tests.app.conftest import make_settings


def test_a_server_still_starting_says_so(tmp_data_dir):
    app = create_app(make_settings(tmp_data_dir))  # lifespan not run: no model, no collections yet
    server = build_server(AppState(app, build_models(app.state.settings)))

    async def session() -> None:
        async with Client(server) as client:
            calls = (("search", {"query": "x"}), ("list_collections", {}), ("compare", {"texts": ["a", "b"]}))
            for tool, args in calls:
                result = await client.call_tool(tool, args)
                assert result.is_error and result.content[0].text == f"Error executing tool {tool}: {STARTING}"
            listed = (await client.list_resources()).resources
            assert [str(r.uri) for r in listed] == ["semsearch://collections"]  # none per collection yet

    anyio.run(session)


def test_a_model_that_cannot_load_is_one_line_naming_the_setting(tmp_data_dir):
    # (a bad backend name is refused when the settings load; a model folder that is not there only when
    # the model loads, which the stdio server does on the first call)
    state = LocalState(make_settings(tmp_data_dir, model=str(tmp_data_dir / "no-such-model")))

    async def session() -> None:
        async with Client(build_server(state)) as client:
            result = await client.call_tool("search", {"query": "x"})
            assert result.is_error
            assert "is neither the bundled" in result.content[0].text and "SEMSEARCH_MODEL" in result.content[0].text
            assert "Traceback" not in result.content[0].text

    anyio.run(session)


@pytest.mark.parametrize(("host", "status"), [("127.0.0.1", 421), ("0.0.0.0", 200)])
def test_host_headers_are_checked_only_on_loopback(make_client, host, status):
    """Bound to loopback, a request whose Host is not local is refused (DNS rebinding: a web page
    reaching a keyless local server through a name it controls); bound wider, any Host is served."""
    client = make_client(host=host)  # TestClient sends Host: testserver
    r = client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
                    headers={"accept": "application/json, text/event-stream"})
    assert r.status_code == status, r.text
    if status == 200:
        assert {t["name"] for t in r.json()["result"]["tools"]} == {"list_collections", "search", "fetch", "compare"}


def test_an_app_started_twice_serves_mcp_each_time(embedder, tmp_data_dir):
    """A session manager runs once; the app makes a new one per lifespan (test clients, schemathesis)."""
    from fastapi.testclient import TestClient

    app = create_app(make_settings(tmp_data_dir, host="0.0.0.0"), embedder=embedder)
    for _ in range(2):
        with TestClient(app) as client:
            r = client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
                            headers={"accept": "application/json, text/event-stream"})
            assert r.status_code == 200 and len(r.json()["result"]["tools"]) == 4


def test_the_search_tool_offers_sorting_and_field_boosts_with_their_bounds(tmp_data_dir):
    import json

    app = create_app(make_settings(tmp_data_dir))
    server = build_server(AppState(app, build_models(app.state.settings)))

    async def session() -> None:
        async with Client(server) as client:
            tools = (await client.list_tools()).tools
            search = next(t for t in tools if t.name == "search")
            props = search.input_schema["properties"]
            assert "-modified" in json.dumps(props["sort"]) and "path" in json.dumps(props["sort"])
            assert '"maximum": 10.0' in json.dumps(props["field_boost"])

    anyio.run(session)
