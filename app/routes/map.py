"""The map of a collection: its chunks projected to 2-D (PCA), with a query's point and its top hits."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from app.deps import ServiceDep
from app.routes import CollectionName, errors
from app.schemas import MAX_QUERY_CHARS, Mode
from indexer.limits import MAX_EXTS, MAX_GLOB_CHARS, MIN_K
from indexer.projection import MAX_POINTS, ProjectionCache
from indexer.search import Filters, SearchOptions

router = APIRouter(tags=["map"])


class MapPointOut(BaseModel):
    chunk_id: int
    x: float
    y: float
    kind: str = Field(description="file or doc")
    id: str = Field(description="The file's path or the document's id")
    folder: str = Field(description="The file's folder from the indexed folder down, e.g. 'notes/2024'; "
                        "'(documents)' for documents")
    start: int = Field(description="The chunk's character offsets in its source")
    end: int
    preview: str = Field(description="The chunk's first characters")


class MapHit(MapPointOut):
    rank: int
    score: float


class MapQuery(BaseModel):
    text: str
    x: float
    y: float
    hits: list[MapHit] = Field(description="The query's top hits (each at its best chunk), best first")


class MapResponse(BaseModel):
    collection: str
    version: int = Field(description="The collection's write sequence the map was fitted at")
    total: int = Field(description="Chunks in the collection")
    sampled: int = Field(description="Chunks drawn on the map (a fixed-seed sample when over `points`)")
    method: str = "pca"
    explained_variance: list[float] = Field(description="Share of the variance kept by each axis")
    points: list[MapPointOut]
    query: MapQuery | None = None


def _maps(request: Request) -> ProjectionCache:
    maps: ProjectionCache = request.app.state.maps
    return maps


@router.get("/collections/{name}/map",
            operation_id="get_collection_map", response_model=MapResponse, responses=errors(404, 409))
def collection_map(
    name: CollectionName, service: ServiceDep, maps: Annotated[ProjectionCache, Depends(_maps)],
    q: Annotated[str | None, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="Place this query")] = None,
    k: Annotated[int, Query(ge=MIN_K, le=100, description="The query's hits to mark")] = 10,
    mode: Annotated[Mode, Query(description="How the hits are ranked")] = "hybrid",
    path_glob: Annotated[str | None, Query(max_length=MAX_GLOB_CHARS,
                                           description="Hits only from matching paths")] = None,
    ext: Annotated[list[str] | None, Query(max_length=MAX_EXTS, description="Hits only with these extensions")] = None,
    points: Annotated[int, Query(ge=1, le=MAX_POINTS, description="Most chunks drawn")] = 2000,
) -> MapResponse:
    """A 2-D projection of the collection's chunks (PCA, cached per version) and, with q, the query's point.

    The map is fitted on up to `points` chunks (a fixed sample when there are more) and kept until the
    collection changes. The query's vector and its top hits' chunks are projected into the same space."""
    opts = SearchOptions(k=k, mode=mode, filters=Filters(path_glob=path_glob, ext=ext or []))
    proj, located = service.collection_map(name, maps, max_points=points, query=q, options=opts)
    return MapResponse.model_validate({
        "collection": name, "version": proj.seq, "total": proj.total, "sampled": len(proj.points),
        "explained_variance": proj.explained, "points": [p.to_dict() for p in proj.points], "query": located})
