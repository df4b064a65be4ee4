"""What the MCP tools work on: the settings, the request models, the model and the open collections.

Two sources, one interface: a :class:`Service`. Under ``semsearch serve`` the tools share the HTTP
app's (set by the app's lifespan). Under ``semsearch mcp`` (stdio) the
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

from app.schemas import ApiModels, build_models
from app.service import Service
from app.settings import Settings
from indexer.errors import CollectionNotFound, CorruptCollection, DocumentNotFound, SemsearchError

log = logging.getLogger(__name__)

STARTING = "The service is still starting (loading the model); try again in a moment."
CORRUPT = "The collection's catalog cannot be read; see the server log."


class McpState(Protocol):
    settings: Settings
    models: ApiModels  # request models with this server's limits, as the HTTP API validates them

    def service(self) -> Service: ...


class AppState:
    """The HTTP app's service (``app.state.service``, set by its lifespan)."""

    def __init__(self, app: FastAPI, models: ApiModels) -> None:
        self.app = app
        self.settings: Settings = app.state.settings
        self.models = models

    def service(self) -> Service:
        """The app's service: MCP searches share its model, collections, batching and bounds."""
        service = getattr(self.app.state, "service", None)
        if service is None:
            raise ToolError(STARTING)
        return service


class LocalState:
    """``semsearch mcp``'s own :class:`Service` over the data folder, with search lanes as the app has
    them (so a search runs the same code either way); the model loads once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.models = build_models(settings)
        self._lock = threading.Lock()
        self._service: Service | None = None

    def start(self) -> None:
        """Start loading the model now, so the first tool call waits less (or not at all)."""
        threading.Thread(target=self._quiet_load, name="load-model", daemon=True).start()

    def _quiet_load(self) -> None:
        try:
            self.service()
        except ToolError:
            pass  # logged; the next tool call tries again and reports it

    def service(self) -> Service:
        with self._lock:
            if self._service is None:
                s = self.settings
                service = Service.from_settings(s)
                try:
                    service.embedder  # noqa: B018 - loads the model now, to report a failure here
                except SemsearchError as e:
                    service.close()
                    log.error("model %r not loaded: %s", s.model, e.message)
                    raise ToolError(e.message) from e
                except Exception as e:
                    service.close()
                    log.exception("model %r not loaded", s.model)
                    raise ToolError(f"The model {s.model!r} could not be loaded; see the server log.") from e
                service.start(jobs=False)
                self._service = service
            return self._service

    def close(self) -> None:
        with self._lock:
            if self._service is not None:
                self._service.close()
                self._service = None


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
