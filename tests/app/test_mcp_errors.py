"""MCP tools before the model is there: a clear tool error, never a traceback (in-process SDK client)."""

from __future__ import annotations

import anyio
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
    state = LocalState(make_settings(tmp_data_dir, backend="nope"))

    async def session() -> None:
        async with Client(build_server(state)) as client:
            result = await client.call_tool("search", {"query": "x"})
            assert result.is_error
            assert "backend must be 'sentence-transformers' or 'minimal', not 'nope'" in result.content[0].text
            assert "Traceback" not in result.content[0].text

    anyio.run(session)
