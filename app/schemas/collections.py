"""``/collections`` (app/routes/collections.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.schemas.common import (
    NAME_RULE,
    NAME_SCHEMA,
    RequestModel,
)
from indexer import collection


class CollectionCreate(RequestModel):
    name: str = Field(description=f"Collection name: {NAME_RULE}",
                      examples=["notes"], json_schema_extra=NAME_SCHEMA)
    model: str | None = Field(None, max_length=512,
                              description="Must be the model this server runs (default: it); anything else is 409")
    dimension: int | None = Field(None, ge=1, le=100_000, description="If given, must equal the model's dimension")
    index_type: Literal["flat", "hnsw"] | None = Field(
        None, description="flat (exact) or hnsw (approximate); default SEMSEARCH_INDEX_TYPE")
    language: str | None = Field(
        None, min_length=2, max_length=8, examples=["de"],
        description="Keyword search language: en, de, fr, es, zh ... or auto (detected per document); "
                    "default SEMSEARCH_LANGUAGE. Fixed at creation (docs/languages.md)")


CollectionInfo = collection.CollectionInfo  # the library's dataclass is the response model


class CollectionList(BaseModel):
    collections: list[CollectionInfo]
    damaged: list[str] = Field(default_factory=list, description="Collections whose catalog cannot be read: "
                               "restore a snapshot or DELETE them")
