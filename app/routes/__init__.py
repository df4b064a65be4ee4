"""One router per resource. Shared here: the collection-name path parameter and documented errors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from app.schemas import NAME_SCHEMA, ErrorResponse

# The name is checked by the service (indexer/names.py), not by a schema pattern, so every interface
# (API, CLI, MCP) answers a bad name with the same sentence; the schema still shows the character rule.
CollectionName = Annotated[str, Path(description="Collection name", examples=["notes"],
                                     json_schema_extra=NAME_SCHEMA)]

_DESCRIPTIONS = {
    400: "Malformed request (e.g. a body that cannot be parsed)",
    401: "Missing or invalid API key (when SEMSEARCH_API_KEYS is set)",
    403: "Path outside the allowed roots",
    404: "Not found",
    409: "Conflict: exists already, other model, or busy",
    413: "Request body over SEMSEARCH_MAX_BODY_BYTES",
    422: "Invalid input or over a limit; `field` names it",
    500: "Internal error (details only in the server log)",
    503: "Still starting, or (queries) too many in flight: retry after the Retry-After header's seconds",
    507: "The disk holding the data folder is full (`disk_full`): the message names the folder and what to free",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route can return (all share one shape)."""
    wanted = sorted({*codes, 400, 401, 413, 422, 500})
    return {c: {"model": ErrorResponse, "description": _DESCRIPTIONS[c]} for c in wanted}
