"""The ``minimal`` backend: the bundled NumPy transformer (:mod:`indexer.transformer`), same checkpoint
and same vectors as sentence-transformers, no torch in the embedding path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from indexer.embedding.base import Embedder


class MinimalEmbedder(Embedder):
    """The bundled NumPy transformer as a backend: same checkpoint, no torch."""

    backend = "minimal"

    def __init__(self, name: str, path: Path, **kw: Any) -> None:
        super().__init__(name, path, **kw)
        from indexer.transformer import MiniLM

        self.model = MiniLM.from_pretrained(path)
        self.dimension = int(self.model.config.hidden_size)

    def _encode(self, texts: list[str], *, batch_size: int, bulk: bool, exact: bool = False) -> np.ndarray:
        # pooled only: Embedder normalizes once, as for every backend
        return np.asarray(self.model.encode(texts, batch_size=batch_size, normalize=False), dtype=np.float32)
