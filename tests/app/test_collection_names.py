"""One rule and one message for a collection's name, whichever interface is asked (API, CLI, MCP), and no
name a snapshot could not be restored under on Windows or an SMB share (device names, a trailing '.')."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from typer.testing import CliRunner

import app.cli as cli
from app.mcp import build_server
from app.mcp_state import LocalState
from indexer.names import NAME_RULE, validate_name
from tests.app.conftest import make_settings

REFUSED = ["CON", "con", "Nul.txt", "aux.tar.gz", "COM1", "com9.db", "LPT1.txt", "lpt3", "PRN", "a.", "notes..",
           "bad name", "-dash", "x" * 65]
ALLOWED = ["CONSOLE", "COM10", "aux_1", "nul-x", "a.b", "LPT", "con1"]


def message(name: str) -> str:
    with pytest.raises(Exception) as caught:
        validate_name(name)
    return str(caught.value)


@pytest.mark.parametrize("name", REFUSED)
def test_device_names_and_trailing_dots_are_refused_with_the_rule(name: str) -> None:
    text = message(name)
    assert text.startswith(f"Collection name {name!r} is not allowed (") and NAME_RULE in text


@pytest.mark.parametrize("name", ALLOWED)
def test_names_that_only_look_like_device_names_are_allowed(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["LPT1.txt", "bad name", "a."])
def test_api_cli_and_mcp_give_the_same_sentence(name: str, make_client: Any, embedder: Any, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    expected = message(name)
    client = make_client()
    created = client.post("/collections", json={"name": name})
    assert created.status_code == 422 and created.json()["error"] == {
        "code": "invalid_input", "message": expected, "field": "name"}
    for path in (f"/collections/{name}", f"/collections/{name}/query?q=x", f"/collections/{name}/snapshots"):
        r = client.get(path)
        assert r.status_code == 422 and r.json()["error"]["message"] == expected, (path, r.text)
    assert "pattern" not in created.text and "[A-Za-z0-9]" not in created.text  # no raw regex

    monkeypatch.setattr("app.service.load_model", lambda settings, backend=None: embedder)
    data = tmp_path / "cli-data"
    result = CliRunner().invoke(cli.app, ["--data-dir", str(data), "--server", "none", "collections", "create", name])
    assert result.exit_code != 0 and expected in " ".join(result.output.split()), result.output
    assert not (data / "collections" / name).exists()

    state = LocalState(make_settings(tmp_path / "mcp-data"))

    async def session() -> str:
        async with Client(build_server(state)) as mcp:
            r = await mcp.call_tool("search", {"query": "x", "collection": name})
            assert r.is_error
            return str(r.content[0].text)

    assert expected in anyio.run(session)


def test_a_collection_made_before_the_rule_can_still_be_deleted(client: Any, tmp_data_dir: Path) -> None:
    # an older version allowed "CON"; it must not be stuck on disk
    (tmp_data_dir / "collections").mkdir(parents=True, exist_ok=True)
    assert client.post("/collections", json={"name": "keep"}).status_code in (200, 201)
    (tmp_data_dir / "collections" / "keep").rename(tmp_data_dir / "collections" / "CON")
    assert client.delete("/collections/CON").status_code in (200, 204)
    assert not (tmp_data_dir / "collections" / "CON").exists()
