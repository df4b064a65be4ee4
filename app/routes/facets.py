"""Facets of a collection: how many files and documents have each value of a field, to narrow a search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.deps import ServiceDep
from app.routes import CollectionName, errors
from app.schemas import FacetParams, FacetRequest, FacetResponse
from app.service import Service
from indexer.errors import InvalidInput
from indexer.search import Filters

router = APIRouter(prefix="/collections/{name}/facets", tags=["query"])


@router.post("", operation_id="facet_collection", response_model=FacetResponse, responses=errors(404, 409))
def facets(name: CollectionName, body: FacetRequest, service: ServiceDep) -> dict[str, Any]:
    """Count files and documents per value of a field (ext, folder, year, month, metadata.KEY)."""
    f = body.filters
    filters = Filters(path_glob=f.path_glob, ext=f.ext, metadata=dict(f.metadata), modified_after=f.timestamp(),
                      where=f.where)
    return _answer(service, name, field=body.field, depth=body.depth, top=body.top, query=body.query, like=body.like,
                   mode=body.mode, k=body.k, filters=filters)


@router.get("", operation_id="facet_collection_get", response_model=FacetResponse, responses=errors(404, 409))
def facets_get(name: CollectionName, params: Annotated[FacetParams, Query()], service: ServiceDep) -> dict[str, Any]:
    """Facets with query parameters: ?field=ext&top=5&q=...&path_glob=docs/**."""
    filters = Filters(path_glob=params.path_glob, ext=params.ext, modified_after=params.modified_after,
                      where=params.where)
    try:
        return _answer(service, name, field=params.field, depth=params.depth, top=params.top, query=params.q,
                       like=None, mode=params.mode, k=params.k, filters=filters)
    except InvalidInput as e:
        if e.field == "query":  # GET spells it q
            e.field = "q"
        raise


def _answer(service: Service, name: str, **request: Any) -> dict[str, Any]:
    facet, query, opts = service.facet_request(**request)
    return service.facets(name, facet, query, opts)

