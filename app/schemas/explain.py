"""``/explain``: the bundled NumPy transformer, step by step (app/routes/explain.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.common import (
    RequestModel,
    default_limit,
)

MAX_EXPLAIN_CHARS = default_limit("max_explain_chars")


class ExplainRequest(RequestModel):
    text: str = Field(min_length=1, max_length=MAX_EXPLAIN_CHARS,
                      description="One short text to trace (SEMSEARCH_MAX_EXPLAIN_CHARS)",
                      examples=["The cat sat on the mat."])


class ExplainTokensRequest(RequestModel):
    a: str = Field(min_length=1, max_length=MAX_EXPLAIN_CHARS, examples=["The cat sat on the mat."])
    b: str = Field(min_length=1, max_length=MAX_EXPLAIN_CHARS, examples=["A feline rested on the rug."])


class ExplainTrace(BaseModel):
    """Every intermediate state of one text (see indexer/transformer/trace.py for the shapes)."""

    model_config = ConfigDict(extra="allow")

    text: str
    tokens: list[str]
    ids: list[int]
    truncated: bool
    shapes: dict[str, list[int]]
    embeddings: dict[str, list[list[float]]] = Field(description="word, position, token_type, sum, layernorm: T x C")
    layers: list[dict[str, Any]] = Field(description="Per layer: attention (H x T x T) and per-token summaries")
    pooled: list[float]
    normalized: list[float] = Field(description="The embedding: equals /embed's vector for this text")


class TokenSimilarity(BaseModel):
    tokens_a: list[str]
    tokens_b: list[str]
    similarity: list[list[float]] = Field(description="Cosine of every final token vector of a with every one of b")


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    served_model: str = Field(description="The embedding model this server runs")
    backend: str = Field(description="The backend /embed uses: sentence-transformers or minimal")
    embedding_dim: int
    num_layers: int
    num_heads: int
    parameters: dict[str, Any] = Field(description="Parameter counts per component and in total")
