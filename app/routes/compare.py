"""Comparing texts by meaning: a pair, a matrix, or candidates ranked against a query."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import EmbedderDep, bind
from app.routes import errors
from app.schemas import ApiModels, CompareRequest, CompareResponse, RankedCandidate
from indexer.embedding import Embedder
from indexer.similarity import rank_candidates, similarity_matrix


def matrix_response(embedder: Embedder, texts: list[str]) -> CompareResponse:
    """The ``/compare`` body for texts (also what ``semsearch compare`` prints without a server)."""
    m = similarity_matrix(embedder, texts)
    return CompareResponse(model=embedder.name, matrix=m.tolist(),
                           similarity=float(m[0, 1]) if len(texts) == 2 else None)


def router(models: ApiModels) -> APIRouter:
    r = APIRouter(tags=["compare"])

    @r.post("/compare", operation_id="compare_texts",
            response_model=CompareResponse, response_model_exclude_none=True, responses=errors())
    @bind(body=models.compare)
    def compare(body: CompareRequest, embedder: EmbedderDep) -> CompareResponse:
        """Cosine similarity: two texts -> a score, N texts -> an N x N matrix, query + candidates -> ranking."""
        if body.texts is not None:
            return matrix_response(embedder, body.texts)
        assert body.query is not None and body.candidates is not None  # the schema guarantees one form
        ranked = rank_candidates(embedder, body.query, body.candidates)
        return CompareResponse(model=embedder.name, ranked=[
            RankedCandidate(index=i, text=body.candidates[i], score=s) for i, s in ranked])

    return r
