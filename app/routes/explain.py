"""Look inside the model: the bundled NumPy transformer traces one text step by step.

The NumPy model loads on first use (once per process) - or is the embedder itself when the server
runs the ``minimal`` backend - so servers that never explain pay nothing for it.
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from app.deps import EmbedderDep, bind
from app.errors import ModelNotServed
from app.routes import errors
from app.schemas import (
    ApiModels,
    ExplainRequest,
    ExplainTokensRequest,
    ExplainTrace,
    ModelInfo,
    TokenSimilarity,
)
from indexer.transformer import MiniLM, architecture, token_similarity, trace

log = logging.getLogger(__name__)


class LazyMiniLM:
    """The NumPy model for the served checkpoint, loaded once on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: MiniLM | None = None

    def get(self, embedder: Any) -> MiniLM:
        with self._lock:
            if self._model is None:
                own = getattr(embedder, "model", None)
                if isinstance(own, MiniLM):  # the minimal backend already holds one
                    self._model = own
                else:
                    try:
                        self._model = MiniLM.from_pretrained(embedder.path)
                    except Exception as e:
                        log.exception("cannot load %s into the NumPy transformer", embedder.path)
                        raise ModelNotServed(f"The bundled transformer cannot load {embedder.name!r} (it reproduces "
                                             "BERT-style sentence-transformers models only).", field="model") from e
            return self._model


def get_minilm(request: Request, embedder: EmbedderDep) -> MiniLM:
    return request.app.state.minilm.get(embedder)


MiniLMDep = Annotated[MiniLM, Depends(get_minilm)]


def router(models: ApiModels) -> APIRouter:
    r = APIRouter(tags=["explain"])

    @r.post("/explain", operation_id="explain_text", response_model=ExplainTrace, responses=errors(409))
    @bind(body=models.explain)
    def explain(body: ExplainRequest, model: MiniLMDep) -> dict[str, Any]:
        """Trace one text through the model: tokens, input matrix, attention per layer, pooling, vector."""
        return trace(model, body.text)

    @r.post("/explain/tokens", operation_id="explain_tokens", response_model=TokenSimilarity, responses=errors(409))
    @bind(body=models.explain_tokens)
    def explain_tokens(body: ExplainTokensRequest, model: MiniLMDep) -> dict[str, Any]:
        """Cosine similarity of every final token vector of text a with every one of text b."""
        return token_similarity(model, body.a, body.b)

    @r.get("/model", operation_id="get_model_info", response_model=ModelInfo, responses=errors(409))
    def model_info(model: MiniLMDep, embedder: EmbedderDep) -> dict[str, Any]:
        """The model's architecture and parameter table."""
        return {**architecture(model), "name": embedder.name, "served_model": embedder.name,
                "backend": embedder.backend}

    return r
