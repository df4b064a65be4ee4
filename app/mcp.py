"""The MCP server (the official ``mcp`` SDK): the user's collections as tools for LLM agents.

Tools: ``list_collections``, ``search`` (with filters), ``fetch`` (a file's or document's text
around a hit) and ``compare``. Resources: ``semsearch://collections`` and one
``semsearch://collections/{name}`` per collection. Each tool's structured result is the JSON body
the HTTP API returns for the same operation (``fetch`` has its own, :class:`PassageOut`), checked
against the advertised output schema, plus a short text for the model to read.

Transports: ``semsearch mcp`` serves stdio (:func:`run_stdio`); ``semsearch serve`` serves the same
tools over streamable HTTP at ``/mcp`` of the API app (:func:`mount`), behind the app's API-key
check. The tools call the shared :class:`app.service.Service` (the app's under ``serve``, a
process-local one under stdio), never HTTP.

No ``from __future__ import annotations`` here: the tools' parameter types carry this server's
limits (``le=settings.max_k``), so they must be evaluated where the tools are defined.
"""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import anyio
from fastapi import FastAPI
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from mcp.types import Resource as MCPResource
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import error_response
from app.mcp_state import (
    STARTING,
    AppState,
    LocalState,
    McpState,
    resource_errors,
    tool_errors,
    validated,
    validation_message,
)
from app.schemas import (
    ApiModels,
    CollectionInfo,
    CollectionList,
    CompareRequest,
    CompareResponse,
    QueryRequest,
    QueryResponse,
)
from app.schemas.query import WHERE_DOC
from app.search_lanes import LanesClosed
from app.service import query_request
from app.settings import Settings
from indexer.limits import (
    DEFAULT_FIELD_BOOST,
    MAX_EXTS,
    MAX_FIELD_BOOST,
    MAX_GLOB_CHARS,
    MAX_METADATA_FILTERS,
    MIN_K,
    MIN_OFFSET,
)
from indexer.passages import read_passage
from indexer.search import Filters, Sort

PATH = "/mcp"
MAX_FETCH_CHARS = 20_000
URI = "semsearch://collections"
INSTRUCTIONS = """Semantic search over the user's own indexed files and documents.
Call list_collections to see what is indexed, search to find passages (each hit has an id, offsets
and a snippet), fetch with a hit's id and offsets to read more of the text around it, and compare
to measure how close texts are in meaning (cosine similarity, -1..1)."""
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


class PassageOut(BaseModel):
    collection: str
    id: str = Field(description="Document id, or the file's path")
    kind: Literal["doc", "file"]
    path: str | None = Field(description="The file's path (null for documents)")
    start: int = Field(description="Character offset of text in the source's indexed text")
    end: int
    total_chars: int = Field(description="Length of the source's indexed text: fetch again from end to read on")
    text: str
    metadata: dict[str, Any]


def _result(body: Any, text: str, *, exclude_none: bool = False) -> CallToolResult:
    """``body`` (a response model: pydantic, or the library's dataclass) as the HTTP API sends it
    (``exclude_none`` where its route does), and ``text``."""
    dumped = TypeAdapter(type(body)).dump_python(body, mode="json", exclude_none=exclude_none)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=dumped)


def _hits_text(r: QueryResponse) -> str:
    if not r.hits:
        return f"No hits for {r.query!r} in collection {r.collection!r} ({r.mode})."
    n = len(r.hits)
    lines = [f"{n} hit{'s' if n > 1 else ''} for {r.query!r} in collection {r.collection!r} ({r.mode}):"]
    lines += [f"{i}. {h.score:.4f} {h.id} [chars {h.start}-{h.end}] {h.snippet}"
              for i, h in enumerate(r.hits, start=r.offset + 1)]
    return "\n".join(lines)


def _collection_line(i: CollectionInfo) -> str:
    return (f"{i.name}: {i.files} files, {i.documents} documents, {i.chunks} chunks "
            f"(model {i.model}, {i.dimension} dimensions, {i.index_type}, language {i.language})")


class _Server(MCPServer):
    """The SDK's server plus one-line argument errors, and one resource listed per existing collection
    besides the fixed ones (collections come and go, so they cannot be registered up front)."""

    def __init__(self, state: McpState, **kw: Any) -> None:
        super().__init__(**kw)
        self._state = state

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        """Arguments that do not match the input schema: one line naming the field and the limit
        (``k: Input should be less than or equal to 1000``) instead of pydantic's full report."""
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as e:
            if isinstance(e.__cause__, ValidationError):
                raise ToolError(f"Error executing tool {name}: {validation_message(e.__cause__)}") from e.__cause__
            raise

    async def list_resources(self) -> list[MCPResource]:
        fixed = await super().list_resources()
        try:
            infos = await anyio.to_thread.run_sync(lambda: self._state.service().collections.infos())
        except ToolError:  # still starting: the fixed list only
            return fixed
        return fixed + [MCPResource(uri=f"{URI}/{i.name}", name=i.name, title=f"Collection {i.name}",
                                    description=_collection_line(CollectionInfo(**i.to_dict())),
                                    mime_type="application/json")
                        for i in infos]


def build_server(state: McpState) -> MCPServer:
    """The MCP server over ``state``: tools and resources, limits from ``state.settings``."""
    s: Settings = state.settings
    models: ApiModels = state.models
    server = _Server(state, name="semsearch", title="semsearch", version="0.1.0", instructions=INSTRUCTIONS,
                     log_level="WARNING")
    name_field = Field(description="Collection name (default: SEMSEARCH_DEFAULT_COLLECTION); see list_collections")

    @server.tool(annotations=READ_ONLY)
    def list_collections() -> Annotated[CallToolResult, CollectionList]:
        """The indexed collections with their file, document and chunk counts, model and size."""
        with tool_errors():
            infos = state.service().collections.infos()
            body = CollectionList(collections=[CollectionInfo(**i.to_dict()) for i in infos])
        text = "\n".join(map(_collection_line, body.collections)) or f"No collections in {s.data_dir}."
        return _result(body, text)

    @server.tool(annotations=READ_ONLY)
    async def search(
        query: Annotated[str, Field(min_length=1, max_length=s.max_query_chars, description="What to look for")],
        collection: Annotated[str | None, name_field] = None,
        k: Annotated[int, Field(ge=MIN_K, le=s.max_k, description="Hits to return")] = 10,
        mode: Annotated[Literal["dense", "keyword", "hybrid"], Field(
            description="dense (meaning), keyword (bm25 on words) or hybrid (both, fused)")] = "hybrid",
        path_glob: Annotated[str | None, Field(max_length=MAX_GLOB_CHARS, description=(
            "Only files whose path matches: relative globs match below the indexed folder ('docs/**'), "
            "absolute ones the full path; * stays within a folder, ** crosses folders"))] = None,
        ext: Annotated[list[str] | None, Field(max_length=MAX_EXTS, description="Only these extensions: ['md', 'txt']")
                       ] = None,
        metadata: Annotated[dict[str, str | int | float | bool | None] | None, Field(
            max_length=MAX_METADATA_FILTERS,
            description="Only documents whose metadata has these key/value pairs")] = None,
        modified_after: Annotated[float | None, Field(
            description="Unix time: files modified (documents indexed) after it")] = None,
        offset: Annotated[int, Field(ge=MIN_OFFSET, le=s.max_k - MIN_K, description="Hits to skip (paging)")] = 0,
        where: Annotated[dict[str, Any] | None, Field(description=WHERE_DOC + (
            ', e.g. {"year": {"$gte": 2024}, "$or": [{"ext": "pdf"}, {"path": {"$glob": "legal/**"}}]}'))] = None,
        sort: Annotated[Sort, Field(description=(
            "relevance (default), or to browse: the best 100 hits by modified time or path, "
            "modified | path ascending, -modified | -path descending"))] = "relevance",
        field_boost: Annotated[float | None, Field(ge=0, le=MAX_FIELD_BOOST, description=(
            "Title and file-name matches weigh more in keyword and hybrid ranking (0: off; default "
            f"{DEFAULT_FIELD_BOOST})"))] = None,
    ) -> Annotated[CallToolResult, QueryResponse]:
        """Search a collection by meaning and/or keywords; hits carry an id (a file's path or a document
        id), a score, character offsets (start, end) and a snippet with the best span marked **like this**."""
        body = validated(models.query, {"query": query, "k": k, "offset": offset, "mode": mode, "sort": sort,
                                        "field_boost": field_boost,
                                        "filters": {
            "path_glob": path_glob, "ext": ext or [], "metadata": metadata or {}, "modified_after": modified_after,
            "where": where}})
        assert isinstance(body, QueryRequest)
        name = collection or s.default_collection
        f = body.filters
        with tool_errors():
            query_, opts = query_request(
                s, query=body.query, like=None, k=body.k, offset=body.offset, mode=body.mode, explain=False,
                sort=body.sort, field_boost=body.field_boost,
                filters=Filters(path_glob=f.path_glob, ext=f.ext, metadata=dict(f.metadata),
                                modified_after=f.timestamp(), where=f.where))
            service = await anyio.to_thread.run_sync(state.service)  # stdio: may wait for the model
            try:
                raw = await service.submit_query(name, query_, opts)  # the HTTP route's exact JSON text
            except LanesClosed as e:
                raise ToolError(str(e)) from e
        r = TypeAdapter(QueryResponse).validate_json(raw)
        return CallToolResult(content=[TextContent(type="text", text=_hits_text(r))],
                              structured_content=json.loads(raw))

    @server.tool(annotations=READ_ONLY)
    def fetch(
        id: Annotated[str, Field(min_length=1, max_length=4096,
                                 description="A hit's id: the file's path or the document id")],
        collection: Annotated[str | None, name_field] = None,
        kind: Annotated[Literal["file", "doc"] | None, Field(
            description="A hit's kind, when a document and a file share the id (default: the file)")] = None,
        start: Annotated[int, Field(ge=0, description="Offset to read from: a hit's start (or span_start)")] = 0,
        end: Annotated[int | None, Field(ge=0, description=(
            "A hit's end (or span_end); without it, max_chars are read from start"))] = None,
        context: Annotated[int, Field(ge=0, le=MAX_FETCH_CHARS, description=(
            "Characters to add before start and after end"))] = 500,
        max_chars: Annotated[int, Field(ge=1, le=MAX_FETCH_CHARS, description="Longest text returned")] = 4000,
    ) -> Annotated[CallToolResult, PassageOut]:
        """Read the indexed text of a file or document around a hit (a bounded window); page on by fetching
        again with start set to the previous end."""
        name = collection or s.default_collection
        with tool_errors(), state.service().collections.lease(name) as coll:
            p = read_passage(coll, id, kind=kind, start=start, end=end, context=context, max_chars=max_chars)
        body = PassageOut(collection=name, **p.to_dict())
        more = f"; more from {p.end}" if p.end < p.total_chars else ""
        return _result(body, f"{p.id} characters {p.start}-{p.end} of {p.total_chars}{more}:\n{p.text}")

    @server.tool(annotations=READ_ONLY)
    def compare(
        texts: Annotated[list[Annotated[str, Field(max_length=s.max_text_chars)]] | None, Field(
            min_length=2, max_length=s.max_texts, description="Two or more texts: their cosine similarities")] = None,
        query: Annotated[str | None, Field(max_length=s.max_text_chars, description=(
            "Rank the candidates by similarity to this text (instead of texts)"))] = None,
        candidates: Annotated[list[Annotated[str, Field(max_length=s.max_text_chars)]] | None, Field(
            min_length=1, max_length=s.max_texts, description="Texts to rank against the query")] = None,
    ) -> Annotated[CallToolResult, CompareResponse]:
        """Cosine similarity by meaning (-1..1): two texts -> one score, more -> a matrix, or a query
        with candidates -> the candidates ranked."""
        body = validated(models.compare, {"texts": texts, "query": query, "candidates": candidates})
        assert isinstance(body, CompareRequest)
        with tool_errors():
            service = state.service()
            if body.texts is not None:
                r = service.compare(body.texts)
                pair, matrix = r.similarity, r.matrix or []
                text = (f"cosine similarity {pair:.4f}" if pair is not None else
                        "\n".join(" ".join(f"{x:.3f}" for x in row) for row in matrix))
            else:
                assert body.query is not None and body.candidates is not None  # the model checked one form
                r = service.rank(body.query, body.candidates)
                text = "\n".join(f"{c.score:.4f} [{c.index}] {c.text[:200]}" for c in r.ranked or [])
        return _result(r, text, exclude_none=True)

    @server.resource(URI, name="collections", title="Collections", mime_type="application/json",
                     description="Every collection with its counts, model and size (JSON, as GET /collections)")
    def collections_resource() -> str:
        with resource_errors():
            infos = state.service().collections.infos()
        return CollectionList(collections=[CollectionInfo(**i.to_dict()) for i in infos]).model_dump_json()

    @server.resource(URI + "/{name}", name="collection", title="One collection", mime_type="application/json",
                     description="A collection's counts, model, dimension and size (JSON, as GET /collections/NAME)")
    def collection_resource(name: str) -> str:
        with resource_errors():
            info = state.service().collections.info(name)
        return TypeAdapter(CollectionInfo).dump_json(CollectionInfo(**info.to_dict())).decode()

    return server


class _Endpoint:
    """``/mcp``: the SDK's streamable-HTTP handler with a fresh session manager for every run of the
    app's lifespan (a manager runs only once, and test clients start one app more than once). It
    also sets ``scope["route"]``, which the metrics middleware reads, as FastAPI does for its routes."""

    def __init__(self, server: MCPServer, settings: Settings) -> None:
        self.server, self.settings = server, settings
        self.route = Route(PATH, self)
        self.handler: ASGIApp | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        # host: on a loopback address the SDK checks Host/Origin headers (DNS-rebinding protection).
        # Stateless: no session to keep between requests, so any worker can answer any request.
        http = self.server.streamable_http_app(
            streamable_http_path=PATH, stateless_http=True, json_response=True, host=self.settings.host,
            max_request_body_size=self.settings.max_body_bytes)
        self.handler = next(r.app for r in http.routes if isinstance(r, Route) and r.path == PATH)
        async with self.server.session_manager.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.handler is None:
            await error_response(503, "not_ready", STARTING)(scope, receive, send)
            return
        scope["route"] = self.route
        await self.handler(scope, receive, send)


def mount(app: FastAPI, models: ApiModels) -> None:
    """Serve the tools over streamable HTTP at ``/mcp`` of ``app``, on the app's model and collections.

    A plain route of the app, so its middleware applies: the API key, the body limit, metrics."""
    endpoint = _Endpoint(build_server(AppState(app, models)), app.state.settings)
    app.router.routes.append(endpoint.route)
    app_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with endpoint.running(), app_lifespan(a) as value:
            yield value

    app.router.lifespan_context = lifespan


def run_stdio(settings: Settings) -> None:
    """``semsearch mcp``: serve the tools over stdin/stdout until the client closes them."""
    state = LocalState(settings)
    state.start()
    try:
        build_server(state).run("stdio")
    finally:
        state.close()
