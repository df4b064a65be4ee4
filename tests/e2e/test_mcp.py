"""The MCP server as an agent meets it: the SDK's own client, over stdio (``semsearch mcp`` as a real
subprocess) and over streamable HTTP (``semsearch serve`` on a loopback port), on a real collection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from pydantic import TypeAdapter

from app.mcp import PassageOut
from app.schemas import CollectionInfo, CollectionList, CompareResponse, QueryResponse
from indexer.collection import Collection
from indexer.stores.embedded import EmbeddedBackend
from tests.serving import SEMSEARCH, cli_env, serve

KEY = "mcp-test-key"
DOCS = {
    "bread.md": "# Sourdough\n\nSourdough bread needs a long, slow rise before baking: let the dough rise overnight.",
    "planets.txt": "Jupiter is the largest planet in the solar system.",
    "sub/tea.txt": "Green tea is brewed with water below boiling.",
}


@pytest.fixture(scope="module")
def mcp_data(tmp_path_factory, embedder) -> Path:
    """A data folder whose collection 'notes' holds DOCS (as files) and one API document."""
    mcp_data = tmp_path_factory.mktemp("mcp") / "data"
    for rel, text in DOCS.items():
        (mcp_data / "docs" / rel).parent.mkdir(parents=True, exist_ok=True)
        (mcp_data / "docs" / rel).write_text(text)
    with Collection.open(EmbeddedBackend(mcp_data), "notes", embedder) as notes:
        notes.index_folder(mcp_data / "docs")
        notes.upsert_documents([{"id": "faq/keys", "text": "API keys rotate every 90 days.",
                                 "metadata": {"team": "ops"}}])
    return mcp_data


def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content)


async def exercise(client: Client, docs: Path) -> dict[str, Any]:
    """Every tool and resource through ``client``, as both transports must answer; returns the search body."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"list_collections", "search", "fetch", "compare"}
    assert all(t.output_schema and t.description for t in tools.values())
    assert tools["search"].input_schema["properties"]["k"]["maximum"] == 1000  # SEMSEARCH_MAX_K
    assert tools["search"].input_schema["required"] == ["query"]

    listed = await client.call_tool("list_collections", {})
    assert not listed.is_error
    [info] = CollectionList.model_validate(listed.structured_content).collections
    assert (info.name, info.files, info.documents) == ("notes", 3, 1)
    assert "notes: 3 files, 1 documents" in _text(listed)

    found = await client.call_tool("search", {"query": "how long should the dough rise", "collection": "notes",
                                              "k": 2})
    assert not found.is_error, _text(found)
    body = TypeAdapter(QueryResponse).validate_python(found.structured_content)  # the library's dataclass
    hit = body.hits[0]
    assert (body.collection, body.k, hit.kind, hit.path) == ("notes", 2, "file", str(docs / "bread.md"))
    assert f"1. {hit.score:.4f} {hit.id}" in _text(found)

    by_ext = await client.call_tool("search", {"query": "planet", "collection": "notes", "ext": ["txt"],
                                               "mode": "dense"})
    assert {h["path"] for h in by_ext.structured_content["hits"]} == {str(docs / "planets.txt"),
                                                                      str(docs / "sub/tea.txt")}
    by_glob = await client.call_tool("search", {"query": "planet", "collection": "notes", "path_glob": "sub/**"})
    assert [h["id"] for h in by_glob.structured_content["hits"]] == [str(docs / "sub/tea.txt")]
    by_meta = await client.call_tool("search", {"query": "rotate keys", "collection": "notes",
                                                "metadata": {"team": "ops"}})
    assert [h["id"] for h in by_meta.structured_content["hits"]] == ["faq/keys"]

    fetched = await client.call_tool("fetch", {"id": hit.id, "collection": "notes", "start": hit.span_start,
                                               "end": hit.span_end, "context": 10})
    assert not fetched.is_error, _text(fetched)
    passage = PassageOut.model_validate(fetched.structured_content)
    text = DOCS["bread.md"]
    assert (passage.start, passage.end) == (max(0, hit.span_start - 10), min(len(text), hit.span_end + 10))
    assert passage.text == text[passage.start : passage.end] and passage.total_chars == len(text)
    assert _text(fetched).endswith(passage.text)
    doc = await client.call_tool("fetch", {"id": "faq/keys", "collection": "notes"})
    assert doc.structured_content["text"] == "API keys rotate every 90 days."
    assert doc.structured_content["metadata"] == {"team": "ops"}

    pair = await client.call_tool("compare", {"texts": ["a cat sleeps", "a kitten naps"]})
    assert set(pair.structured_content) == {"model", "similarity", "matrix"}  # as POST /compare: no nulls
    similarity = CompareResponse.model_validate(pair.structured_content).similarity
    assert similarity is not None and 0.5 < similarity <= 1 and _text(pair) == f"cosine similarity {similarity:.4f}"
    ranked = await client.call_tool("compare", {"query": "hot drinks", "candidates": ["planets", "green tea"]})
    assert [c["index"] for c in ranked.structured_content["ranked"]] == [1, 0]

    # Bad input: a clear tool error naming the field, the thing or the limit; never a traceback.
    errors = {
        "collection 'nope' does not exist": ("search", {"query": "x", "collection": "nope"}),
        "k: input should be less than or equal to 1000": ("search", {"query": "x", "collection": "notes", "k": 5000}),
        "collection name '../x' is not allowed": ("search", {"query": "x", "collection": "../x"}),
        "no file or document with id 'missing.md'": ("fetch", {"id": "missing.md", "collection": "notes"}),
        "start 999 is past the end": ("fetch", {"id": "faq/keys", "collection": "notes", "start": 999}),
        "texts: list should have at least 2 items": ("compare", {"texts": ["alone"]}),
        "send either texts, or query with candidates": ("compare", {"texts": ["a", "b"], "query": "c"}),
        "unknown tool: drop_everything": ("drop_everything", {}),
    }
    for expected, (tool, args) in errors.items():
        result = await client.call_tool(tool, args)
        assert result.is_error and expected in _text(result).lower(), (tool, args, _text(result))
        assert "Traceback" not in _text(result)

    resources = {str(r.uri): r for r in (await client.list_resources()).resources}
    assert set(resources) == {"semsearch://collections", "semsearch://collections/notes"}
    assert "3 files" in (resources["semsearch://collections/notes"].description or "")
    templates = (await client.list_resource_templates()).resource_templates
    assert [t.uri_template for t in templates] == ["semsearch://collections/{name}"]
    every = (await client.read_resource("semsearch://collections")).contents[0]
    assert [c.name for c in CollectionList.model_validate_json(every.text).collections] == ["notes"]
    one = (await client.read_resource("semsearch://collections/notes")).contents[0]
    assert TypeAdapter(CollectionInfo).validate_json(one.text) == info and one.mime_type == "application/json"
    with pytest.raises(MCPError, match="Collection 'nope' does not exist"):
        await client.read_resource("semsearch://collections/nope")
    return found.structured_content


def test_stdio(mcp_data, tmp_path):
    """`semsearch -v mcp` as a desktop assistant starts it; its stderr is the log, stdout the protocol."""
    log = tmp_path / "stderr.log"
    params = StdioServerParameters(command=SEMSEARCH[0], args=[*SEMSEARCH[1:], "-v", "mcp"],
                                   env=cli_env(mcp_data), cwd=str(tmp_path))

    async def session() -> None:
        with log.open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog)) as client:
                await exercise(client, mcp_data / "docs")

    try:
        anyio.run(session)
    finally:
        print(log.read_text()[-3000:])
    loads = [line for line in log.read_text().splitlines() if " loaded in " in line]
    assert len(loads) == 1, log.read_text()  # the model loaded once for every call


@pytest.fixture
def server(mcp_data, tmp_path):
    """`semsearch serve` with an API key, ready."""
    with serve(mcp_data, cwd=tmp_path, SEMSEARCH_API_KEYS=KEY) as running:
        yield running.url


def test_streamable_http_behind_the_api_key(server, mcp_data):
    auth = {"Authorization": f"Bearer {KEY}"}
    hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    refused = httpx.post(server + "/mcp", json=hello, headers={"accept": "application/json, text/event-stream"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"

    async def session() -> dict[str, Any]:
        async with httpx2.AsyncClient(headers=auth, timeout=60) as http, \
                Client(streamable_http_client(server + "/mcp", http_client=http)) as client:
            return await exercise(client, mcp_data / "docs")

    body = anyio.run(session)
    # The search tool's structured result is the HTTP API's body for the same query.
    api = httpx.get(server + "/collections/notes/query", params={"q": "how long should the dough rise", "k": 2},
                    headers=auth).json()
    assert {k: v for k, v in api.items() if k != "hits"} == {k: v for k, v in body.items() if k != "hits"}
    for got, want in zip(body["hits"], api["hits"], strict=True):
        assert got.pop("score") == pytest.approx(want.pop("score"), abs=1.01e-4)  # rounded to 4 decimals
        assert got == want
    metrics = httpx.get(server + "/metrics", headers=auth).text
    assert 'route="/mcp"' in metrics  # the app's middleware saw the MCP requests
