"""Documents: upsert a batch (chunked and embedded like files), get, list with paging, delete."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status

from app.deps import ServiceDep, bind
from app.routes import CollectionName, errors
from app.schemas import (
    MAX_ID_CHARS,
    ApiModels,
    DeleteDocumentsRequest,
    DeleteResponse,
    DocumentOut,
    SourceList,
    SourceOut,
    UpsertRequest,
    UpsertResponse,
)

DocId = Annotated[str, Path(min_length=1, max_length=MAX_ID_CHARS, description="Document id")]


def router(models: ApiModels) -> APIRouter:
    r = APIRouter(prefix="/collections/{name}/documents", tags=["documents"])

    @r.post("", operation_id="upsert_documents", response_model=UpsertResponse,
            responses=errors(404, 409, 507))
    @bind(body=models.upsert)
    def upsert_documents(name: CollectionName, body: UpsertRequest, service: ServiceDep) -> UpsertResponse:
        """Add or replace documents by id; unchanged ones cost nothing."""
        return UpsertResponse(**service.upsert_documents(name, [d.model_dump() for d in body.documents]))

    @r.get("", operation_id="list_documents", response_model=SourceList, responses=errors(404))
    def list_documents(
        name: CollectionName, service: ServiceDep,
        offset: Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip")] = 0,
        limit: Annotated[int, Query(ge=1, le=1000, description="Page size")] = 100,
        kind: Annotated[Literal["doc", "file", "all"],
                        Query(description="doc (API documents), file (indexed files), or all")] = "all",
    ) -> SourceList:
        """List documents and indexed files with paging, ordered by id (``kind`` narrows it)."""
        rows, total = service.list_sources(name, kind=None if kind == "all" else kind, offset=offset, limit=limit)
        items = [SourceOut(id=row.key, kind=row.kind, ext=row.ext, size=row.size, mtime=row.mtime,
                           metadata=row.metadata, chunks=row.chunks, indexed_at=row.indexed_at,
                           root=row.root or None, copy_of=row.copy_of or None) for row in rows]
        return SourceList(items=items, total=total, offset=offset, limit=limit)

    @r.post("/delete", operation_id="delete_documents", response_model=DeleteResponse,
            responses=errors(404, 507))
    @bind(body=models.delete_documents)
    def delete_documents(name: CollectionName, body: DeleteDocumentsRequest,
                         service: ServiceDep) -> DeleteResponse:
        """Delete documents by id (ids not in the collection are ignored and not counted)."""
        return DeleteResponse(deleted=service.delete_documents(name, list(dict.fromkeys(body.ids))))

    @r.get("/{doc_id:path}", operation_id="get_document", response_model=DocumentOut, responses=errors(404))
    def get_document(name: CollectionName, doc_id: DocId, service: ServiceDep) -> DocumentOut:
        """One document's text and metadata."""
        doc = service.get_document(name, doc_id)
        return DocumentOut(id=doc.id, text=doc.text, metadata=doc.metadata)

    @r.delete("/{doc_id:path}", operation_id="delete_document",
              status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
              responses=errors(404, 507))
    def delete_document(name: CollectionName, doc_id: DocId, service: ServiceDep) -> Response:
        """Delete one document."""
        service.delete_document(name, doc_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return r
