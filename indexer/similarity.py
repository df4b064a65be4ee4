"""Comparing texts by meaning: cosine similarity of their unit vectors (a plain inner product).

The vectors are the model's exact fp32 ones (``embed_queries(exact=True)``), so scores match
sentence-transformers' ``util.cos_sim`` whatever the search precision.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from indexer.embedding import Embedder


def similarity_matrix(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """(n, n) cosine similarities; the diagonal is 1 (up to float rounding)."""
    vecs = embedder.embed_queries(texts, exact=True)
    return np.clip(vecs @ vecs.T, -1.0, 1.0)


def rank_candidates(embedder: Embedder, query: str, candidates: Sequence[str]) -> list[tuple[int, float]]:
    """Candidates as (index, cosine to ``query``), most similar first; ties keep input order."""
    vecs = embedder.embed_queries([query, *candidates], exact=True)
    scores = np.clip(vecs[1:] @ vecs[0], -1.0, 1.0)
    order = sorted(range(len(candidates)), key=lambda i: (-scores[i], i))
    return [(i, float(scores[i])) for i in order]
