"""What every request model shares: the default limits, strict request bodies, the metadata check, errors."""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.settings import Settings
from indexer import collection, names

NAME_PATTERN = "^" + collection.NAME_PATTERN + "$"
NAME_RULE = names.NAME_RULE
# Shown in OpenAPI for clients; enforced by indexer.names.validate_name (which also refuses device names).
NAME_SCHEMA: dict[str, Any] = {"pattern": NAME_PATTERN, "minLength": 1, "maxLength": 64}
MAX_ID_CHARS = 512
MAX_METADATA_BYTES = 16_384
MAX_PATH_CHARS = 4096
DEFAULTS = Settings.model_fields  # default limits for the static declarations below


def default_limit(name: str) -> int:
    value = DEFAULTS[name].default
    assert isinstance(value, int)
    return value


MAX_TEXTS = default_limit("max_texts")
MAX_TEXT_CHARS = default_limit("max_text_chars")
MAX_QUERY_CHARS = default_limit("max_query_chars")
MAX_K = default_limit("max_k")
MAX_DOCUMENTS = default_limit("max_documents")


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


def check_metadata(value: dict[str, Any]) -> dict[str, Any]:
    def finite(v: Any, depth: int = 0) -> None:
        if depth > 20:
            raise ValueError("metadata is nested more than 20 levels deep")
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError("metadata numbers must be finite (no NaN or Infinity)")
        if isinstance(v, dict):
            for x in v.values():
                finite(x, depth + 1)
        elif isinstance(v, list):
            for x in v:
                finite(x, depth + 1)

    finite(value)
    size = len(json.dumps(value, ensure_ascii=False).encode())
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"metadata is {size:,} bytes as JSON, over the {MAX_METADATA_BYTES:,} byte limit")
    return value



class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. collection_not_found")
    message: str = Field(description="What went wrong and what to do, for people")
    field: str | None = Field(None, description="The request field the error is about, if any")


class ErrorResponse(BaseModel):
    error: ErrorDetail

    model_config = ConfigDict(json_schema_extra={"examples": [{"error": {
        "code": "collection_not_found", "field": "collection",
        "message": "Collection 'notes' does not exist. Create it first (POST /collections)."}}]})
