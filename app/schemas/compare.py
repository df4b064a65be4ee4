"""``/compare``: a pair, a matrix, or candidates ranked (app/routes/compare.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from app.schemas.common import (
    MAX_TEXT_CHARS,
    MAX_TEXTS,
    RequestModel,
)


class CompareRequest(RequestModel):
    """Either ``texts`` (2 -> one similarity, N -> an N x N matrix) or ``query`` with ``candidates`` (ranked)."""

    texts: list[Annotated[str, Field(max_length=MAX_TEXT_CHARS)]] | None = Field(
        None, min_length=2, max_length=MAX_TEXTS, description="Two or more texts to compare pairwise",
        examples=[["How do I bake bread?", "Instructions for making a loaf"]])
    query: Annotated[str, Field(max_length=MAX_TEXT_CHARS)] | None = Field(
        None, description="Rank the candidates by similarity to this text")
    candidates: list[Annotated[str, Field(max_length=MAX_TEXT_CHARS)]] | None = Field(
        None, min_length=1, max_length=MAX_TEXTS, description="Texts to rank against the query")

    @model_validator(mode="after")
    def _one_form(self) -> CompareRequest:
        if self.texts is not None and (self.query is not None or self.candidates is not None):
            raise ValueError("send either texts, or query with candidates, not both")
        if self.texts is None and (self.query is None or self.candidates is None):
            raise ValueError("send texts (two or more), or query with candidates")
        return self


class RankedCandidate(BaseModel):
    index: int = Field(description="Position of the candidate in the request")
    text: str
    score: float = Field(description="Cosine similarity to the query, -1..1")


class CompareResponse(BaseModel):
    model: str
    similarity: float | None = Field(None, description="Cosine of the two texts (when exactly two were sent)")
    matrix: list[list[float]] | None = Field(None, description="Pairwise cosines of the texts")
    ranked: list[RankedCandidate] | None = Field(None, description="Candidates, most similar first")
