"""What the MCP tools work on: the settings, the request models, the model and the open collections.

Two sources, one interface. Under ``semsearch serve`` the tools share the HTTP app's state (its model
and :class:`CollectionRegistry`, set by the app's lifespan). Under ``semsearch mcp`` (stdio) the
process has its own: the model loads once, in a background thread started with the server, so the
client's handshake is answered at once and the first tool call waits for the load.

Domain errors become :class:`ToolError` (for tools) or ``ResourceError`` (for resources) with the
same message the HTTP API sends; the SDK turns those into an ``isError`` result or a JSON-RPC error,
never a traceback.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from fastapi import FastAPI
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from pydantic import BaseModel, ValidationError

from app.registry import CollectionRegistry
from app.routes.query import run_query_group
from app.schemas import ApiModels, build_models
from app.search_lanes import SearchLanes
from app.settings import Settings, model_cache_dir
from indexer.embedding import cpu_count, load_embedder
from indexer.errors import CollectionNotFound, CorruptCollection, DocumentNotFound, SemsearchError

log = logging.getLogger(__name__)

STARTING = "The service is still starting (loading the model); try again in a moment."
CORRUPT = "The collection's catalog cannot be read; see the server log."


class McpState(Protocol):
    settings: Settings
    models: ApiModels  # request models with this server's limits, as the HTTP API validates them

    def registry(self) -> CollectionRegistry: ...

    def lanes(self) -> SearchLanes: ...


class AppState:
    """The HTTP app's model and collections (``app.state``, filled by its lifespan)."""

    def __init__(self, app: FastAPI, models: ApiModels) -> None:
        self.app = app
        self.settings: Settings = app.state.settings
        self.models = models

    def registry(self) -> CollectionRegistry:
        registry = getattr(self.app.state, "collections", None)
        if registry is None:
            raise ToolError(STARTING)
        return registry

    def lanes(self) -> SearchLanes:
        """The app's search lanes: MCP searches share batching and bounds with HTTP queries."""
        lanes = getattr(self.app.state, "search_lanes", None)
        if lanes is None:
            raise ToolError(STARTING)
        return lanes


class LocalState:
    """``semsearch mcp``'s own model, registry over the data folder and search lanes (as the app has
    them, so a search runs the same code either way); the model loads once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.models = build_models(settings)
        self._lock = threading.Lock()
        self._registry: CollectionRegistry | None = None
        self._lanes: SearchLanes | None = None

    def start(self) -> None:
        """Start loading the model now, so the first tool call waits less (or not at all)."""
        threading.Thread(target=self._quiet_load, name="load-model", daemon=True).start()

    def _quiet_load(self) -> None:
        try:
            self.registry()
        except ToolError:
            pass  # logged; the next tool call tries again and reports it

    def registry(self) -> CollectionRegistry:
        with self._lock:
            if self._registry is None:
                s = self.settings
                try:
                    model = load_embedder(s.model, backend=s.backend, precision=s.precision, engine=s.engine,
                                          model_cache=model_cache_dir(s.model_cache))
                except SemsearchError as e:
                    log.error("model %r not loaded: %s", s.model, e.message)
                    raise ToolError(e.message) from e
                except Exception as e:
                    log.exception("model %r not loaded", s.model)
                    raise ToolError(f"The model {s.model!r} could not be loaded; see the server log.") from e
                log.info("ready: model %s (%d dimensions), data in %s", model.name, model.dimension, s.data_dir)
                self._registry = registry = CollectionRegistry(s, model)
                self._lanes = SearchLanes(lambda *a: run_query_group(registry, *a), lanes=cpu_count())
                self._lanes.start()
            return self._registry

    def lanes(self) -> SearchLanes:
        self.registry()
        assert self._lanes is not None
        return self._lanes

    def close(self) -> None:
        with self._lock:
            if self._lanes is not None:
                self._lanes.close()
                self._lanes = None
            if self._registry is not None:
                self._registry.close_all()
                self._registry = None


def validation_message(exc: ValidationError) -> str:
    """The first problem as ``field: message`` (pydantic's message states the limit)."""
    errs = exc.errors()
    first = errs[0]
    field = ".".join(str(p) for p in first.get("loc", ()))
    more = f" (and {len(errs) - 1} more problem{'s' if len(errs) > 2 else ''})" if len(errs) > 1 else ""
    return (f"{field}: " if field else "") + str(first.get("msg", "invalid value")) + more


def validated(model: type[BaseModel], data: dict[str, object]) -> BaseModel:
    """``data`` checked by the HTTP API's request model (same limits, same messages)."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ToolError(validation_message(e)) from e


@contextmanager
def tool_errors() -> Iterator[None]:
    """Domain errors -> a ToolError with the HTTP API's message."""
    try:
        yield
    except CorruptCollection as e:
        log.error("%s: %s", type(e).__name__, e.message)
        raise ToolError(CORRUPT) from e
    except SemsearchError as e:
        raise ToolError(e.message) from e


@contextmanager
def resource_errors() -> Iterator[None]:
    """Domain errors -> ResourceNotFoundError (unknown collection) or ResourceError."""
    try:
        with tool_errors():
            yield
    except ToolError as e:
        cause = e.__cause__
        not_found = isinstance(cause, CollectionNotFound | DocumentNotFound)
        raise (ResourceNotFoundError if not_found else ResourceError)(str(e)) from cause
