"""The one L2 normalization of the tree: corpus vectors, query vectors and the teaching model's output
all go through it, so cosine similarity is an inner product everywhere."""

from __future__ import annotations

import numpy as np


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32). Zero rows stay zero instead of becoming NaN."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.divide(vectors, np.maximum(norms, 1e-12), dtype=np.float32)
