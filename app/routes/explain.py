"""Look inside the model: the bundled NumPy transformer traces one text step by step.

The NumPy model loads once per process: in the background right after start-up
(``SEMSEARCH_EXPLAIN_PRELOAD``, the default), or on the first call - or it is the embedder itself when
the server runs the ``minimal`` backend. /readyz says which (``"explain"``).

Why the preload: a first call used to take ~20 s. Timed (2026-12-07, loaded 2-core EPYC): 11.5 s of it
was the check "is the embedder already a NumPy model?" reading ``embedder.model``, which for the
sentence-transformers backend imports torch and loads a second copy of the model; 0.25 s is the
NumPy model's load and ~1.5 s the first trace (NumPy's first matmuls); a warm trace takes ~0.5 s.
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
from indexer.embedding.minimal import MinimalEmbedder
from indexer.transformer import MiniLM, architecture, token_similarity, trace

log = logging.getLogger(__name__)


class LazyMiniLM:
    """The NumPy model for the served checkpoint, loaded once: by :meth:`preload` in the background, or
    on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: MiniLM | None = None
        self.state: str = "on first use"  # what /readyz shows: loading, ready, on first use, unavailable

    def get(self, embedder: Any) -> MiniLM:
        with self._lock:
            return self._load(embedder)

    def _load(self, embedder: Any) -> MiniLM:  # the caller holds the lock
        if self._model is None:
            # Only the minimal backend holds a MiniLM: don't touch another backend's ``model``
            # (sentence-transformers imports torch and loads a second copy for it: 11 s).
            if isinstance(embedder, MinimalEmbedder):
                self._model = embedder.model
            else:
                try:
                    self._model = MiniLM.from_pretrained(embedder.path)
                except Exception as e:
                    log.exception("cannot load %s into the NumPy transformer", embedder.path)
                    self.state = "unavailable"
                    raise ModelNotServed(f"The bundled transformer cannot load {embedder.name!r} (it reproduces "
                                         "BERT-style sentence-transformers models only).", field="model") from e
            self.state = "ready"
        return self._model

    def preload(self, embedder: Any) -> None:
        """Load the model and run one short trace (NumPy's first matmuls are the slow ones), so the first
        /explain costs what a warm one does. A call arriving meanwhile waits for the lock, then is warm."""
        with self._lock:
            if self._model is not None:
                return
            self.state = "loading"
            try:
                model = self._load(embedder)
            except ModelNotServed:  # logged; /explain answers 409 model_mismatch, as before
                return
            trace(model, "warm up")
        log.info("explain: the NumPy transformer is loaded and warm")


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
