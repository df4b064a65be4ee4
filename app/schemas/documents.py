"""``/collections/NAME/documents`` and sources (app/routes/documents.py, texts.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.schemas.common import (
    MAX_DOCUMENTS,
    MAX_ID_CHARS,
    MAX_METADATA_BYTES,
    MAX_TEXT_CHARS,
    RequestModel,
    check_metadata,
)
from indexer.collection import id_problem


class DocumentIn(RequestModel):
    id: str = Field(min_length=1, max_length=MAX_ID_CHARS, examples=["doc-1"],
                    description="Your id; upserting the same id replaces it. No control characters "
                    "(newline, tab, NUL, U+0000-U+001F, U+007F-U+009F)")
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="Text to chunk, embed and index")
    metadata: dict[str, Any] = Field(default_factory=dict,
                                     description=f"Any JSON object (at most {MAX_METADATA_BYTES:,} bytes); "
                                     "queries can filter on its top-level keys")

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        problem = id_problem(v)
        if problem is not None:
            raise ValueError(problem)
        return v

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, v: dict[str, Any]) -> dict[str, Any]:
        return check_metadata(v)


class UpsertRequest(RequestModel):
    documents: list[DocumentIn] = Field(min_length=1, max_length=MAX_DOCUMENTS,
                                        description="Documents to add or replace (SEMSEARCH_MAX_DOCUMENTS)")

    model_config = ConfigDict(json_schema_extra={"examples": [{"documents": [
        {"id": "doc-1", "text": "Sourdough needs a long, slow rise.", "metadata": {"topic": "baking"}}]}]})


class UpsertResponse(BaseModel):
    added: int
    updated: int
    unchanged: int = Field(description="Documents whose text and metadata were already stored as sent")
    chunks: int = Field(description="Chunks embedded by this request")


class DocumentOut(BaseModel):
    id: str
    text: str
    metadata: dict[str, Any]


class SourceOut(BaseModel):
    id: str = Field(description="Document id, or the file's path")
    kind: Literal["doc", "file"]
    ext: str
    size: int
    mtime: float
    metadata: dict[str, Any]
    chunks: int
    indexed_at: float
    root: str | None = Field(None, description="A file's: the folder it was indexed from, so its path can be shown "
                             "relative to it (null for documents)")
    copy_of: str | None = Field(None, description="A file stored as a copy: the path of the file with the same "
                                "content whose chunks it shares (it has none of its own); null otherwise")


class SourceList(BaseModel):
    items: list[SourceOut]
    total: int
    offset: int
    limit: int


class DeleteDocumentsRequest(RequestModel):
    ids: list[Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]] = Field(
        min_length=1, max_length=MAX_DOCUMENTS, examples=[["doc-1", "doc-2"]])


class DeleteResponse(BaseModel):
    deleted: int
