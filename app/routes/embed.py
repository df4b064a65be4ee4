"""Embeddings: the native ``/embed`` and the OpenAI-compatible ``/v1/embeddings``."""

from __future__ import annotations

import base64

import numpy as np
from fastapi import APIRouter

from app.deps import EmbedderDep, ServiceDep, bind
from app.routes import errors
from app.schemas import (
    ApiModels,
    EmbedRequest,
    EmbedResponse,
    OpenAIEmbedding,
    OpenAIEmbeddingsRequest,
    OpenAIEmbeddingsResponse,
    OpenAIModel,
    OpenAIModelList,
    OpenAIUsage,
)
from indexer.errors import InvalidInput


def _as_base64(vector: np.ndarray) -> str:
    # What OpenAI sends for encoding_format=base64: the raw little-endian float32 bytes.
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def router(models: ApiModels) -> APIRouter:
    r = APIRouter(tags=["embed"])

    @r.post("/embed", operation_id="embed_texts", response_model=EmbedResponse, responses=errors())
    @bind(body=models.embed)
    def embed(body: EmbedRequest, service: ServiceDep) -> EmbedResponse:
        """Embed texts into L2-normalized vectors (cosine = dot product)."""
        return service.embed(body.texts)

    @r.post("/v1/embeddings", operation_id="openai_create_embeddings",
            response_model=OpenAIEmbeddingsResponse, responses=errors())
    @bind(body=models.openai_embeddings)
    def openai_embeddings(body: OpenAIEmbeddingsRequest, embedder: EmbedderDep) -> OpenAIEmbeddingsResponse:
        """OpenAI-compatible embeddings (works with the official openai client, LangChain, LlamaIndex)."""
        if body.dimensions is not None and body.dimensions != embedder.dimension:
            # 422 like other invalid fields (OpenAI answers an unsupported dimensions with a 400 client error)
            raise InvalidInput(f"dimensions={body.dimensions} is not available: {embedder.name} makes "
                               f"{embedder.dimension}-dimensional vectors (omit dimensions).", field="dimensions")
        texts = [body.input] if isinstance(body.input, str) else list(body.input)
        vecs = embedder.embed_queries(texts, exact=True)
        tokens = sum(embedder.count_tokens(texts))
        data = [OpenAIEmbedding(index=i, embedding=_as_base64(v) if body.encoding_format == "base64" else v.tolist())
                for i, v in enumerate(vecs)]
        return OpenAIEmbeddingsResponse(data=data, model=embedder.name,
                                        usage=OpenAIUsage(prompt_tokens=tokens, total_tokens=tokens))

    @r.get("/v1/models", operation_id="openai_list_models", response_model=OpenAIModelList, responses=errors())
    def openai_models(embedder: EmbedderDep) -> OpenAIModelList:
        """The served model, OpenAI style."""
        return OpenAIModelList(data=[OpenAIModel(id=embedder.name)])

    return r
