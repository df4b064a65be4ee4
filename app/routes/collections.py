"""Collections: create, list, inspect, delete."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.deps import EmbedderDep, ServiceDep
from app.errors import ModelNotServed
from app.routes import CollectionName, errors
from app.schemas import CollectionCreate, CollectionInfo, CollectionList
from indexer.embedding import DEFAULT_MODEL

router = APIRouter(prefix="/collections", tags=["collections"])


def _served_names(name: str) -> set[str]:
    names = {name, name.rsplit("/", 1)[-1]}
    if name == DEFAULT_MODEL:
        names.add("default")
    return names


@router.post("", operation_id="create_collection",
             status_code=status.HTTP_201_CREATED, response_model=CollectionInfo, responses=errors(409, 507))
def create_collection(body: CollectionCreate, service: ServiceDep, embedder: EmbedderDep) -> CollectionInfo:
    """Create an empty collection for the served model."""
    if body.model is not None and body.model not in _served_names(embedder.name):
        raise ModelNotServed(f"This server runs model {embedder.name!r}; it cannot create a collection for "
                             f"{body.model!r}. Start a server with SEMSEARCH_MODEL={body.model!r} for that.",
                             field="model")
    if body.dimension is not None and body.dimension != embedder.dimension:
        raise ModelNotServed(f"dimension {body.dimension} does not match the served model {embedder.name!r} "
                             f"({embedder.dimension} dimensions).", field="dimension")
    return CollectionInfo(**service.create_collection(body.name, index_type=body.index_type,
                                                      language=body.language).to_dict())


@router.get("", operation_id="list_collections", response_model=CollectionList, responses=errors())
def list_collections(service: ServiceDep) -> CollectionList:
    """All collections with their counts, model, dimension and size on disk; damaged ones by name."""
    infos, damaged = service.collection_infos()
    return CollectionList(collections=[CollectionInfo(**i.to_dict()) for i in infos], damaged=damaged)


@router.get("/{name}", operation_id="get_collection", response_model=CollectionInfo, responses=errors(404))
def get_collection(name: CollectionName, service: ServiceDep) -> CollectionInfo:
    """One collection's counts, model, dimension and size."""
    return CollectionInfo(**service.collection_info(name).to_dict())


@router.delete("/{name}", operation_id="delete_collection",
               status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               responses=errors(404, 409))
def delete_collection(name: CollectionName, service: ServiceDep) -> Response:
    """Delete a collection and its files (its running jobs are cancelled first)."""
    service.delete_collection(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
