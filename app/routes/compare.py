"""Comparing texts by meaning: a pair, a matrix, or candidates ranked against a query."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import ServiceDep, bind
from app.routes import errors
from app.schemas import ApiModels, CompareRequest, CompareResponse


def router(models: ApiModels) -> APIRouter:
    r = APIRouter(tags=["compare"])

    @r.post("/compare", operation_id="compare_texts",
            response_model=CompareResponse, response_model_exclude_none=True, responses=errors())
    @bind(body=models.compare)
    def compare(body: CompareRequest, service: ServiceDep) -> CompareResponse:
        """Cosine similarity: two texts -> a score, N texts -> an N x N matrix, query + candidates -> ranking."""
        if body.texts is not None:
            return service.compare(body.texts)
        assert body.query is not None and body.candidates is not None  # the schema guarantees one form
        return service.rank(body.query, body.candidates)

    return r
