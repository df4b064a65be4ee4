"""The full text of an indexed file or document, to open a hit where it matched."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.deps import ServiceDep
from app.routes import CollectionName, errors
from app.schemas import MAX_ID_CHARS

router = APIRouter(tags=["documents"])

MAX_TEXT_CHARS = 2_000_000


class ChunkSpan(BaseModel):
    id: int
    start: int
    end: int


class SourceTextOut(BaseModel):
    id: str = Field(description="The file's path or the document's id")
    kind: Literal["file", "doc"]
    text: str = Field(description="The text the offsets of hits refer to (at most max_chars characters)")
    chars: int = Field(description="The whole text's length")
    truncated: bool
    origin: Literal["catalog", "disk", "chunks"] = Field(
        description="catalog: a document's stored text; disk: the file, read again (unchanged since indexing); "
        "chunks: stitched from the stored chunks (a file outside the allowed roots, changed or gone, or read "
        "by OCR: metadata ocr_pages)")
    stale: bool = Field(description="The file changed or disappeared since it was indexed")
    metadata: dict[str, object]
    chunks: list[ChunkSpan] = Field(description="The chunks' offsets in the text, in order")


@router.get("/collections/{name}/text",
            operation_id="get_source_text", response_model=SourceTextOut, responses=errors(404))
def get_text(
    name: CollectionName, service: ServiceDep,
    id: Annotated[str, Query(min_length=1, max_length=MAX_ID_CHARS, description="File path or document id")],
    kind: Annotated[Literal["file", "doc"], Query(description="file or doc")] = "file",
    max_chars: Annotated[int, Query(ge=1, le=MAX_TEXT_CHARS, description="Characters returned at most")] = 1_000_000,
) -> SourceTextOut:
    """The text of an indexed file or document, with the offsets of its chunks.

    A file is read again (through the same readers) when it lies under SEMSEARCH_ALLOWED_ROOTS and is
    unchanged since indexing; otherwise its text is rebuilt from the stored chunks, so hit offsets
    still point at the same characters. Nothing outside the allowed roots is read from disk: the path is
    resolved once, checked against the roots, and opened following no symlink and without blocking on a
    FIFO; that one descriptor must be a regular file and is hashed and parsed. A file swapped since
    indexing for a symlink, a FIFO, a device or a folder comes from its chunks (`stale`: true)."""
    return SourceTextOut.model_validate(service.source_text(name, id, kind=kind, max_chars=max_chars).to_dict())
