"""Flat index search: exact top-k, and FAISS threads only where the search is big enough to gain."""

from __future__ import annotations

import numpy as np

from indexer import vectors
from indexer.embedder import l2_normalize
from indexer.vectors import VectorIndex, faiss


def _flat(n: int, dim: int = 16) -> tuple[VectorIndex, np.ndarray]:
    x = l2_normalize(np.random.default_rng(3).standard_normal((n, dim)))
    idx = VectorIndex(dim, "flat")
    idx.add(np.arange(n, dtype=np.int64), x)
    return idx, x


def test_flat_search_is_exact():
    idx, x = _flat(500)
    q = x[:3] + 0.01
    for row, got in zip(q, idx.search(q, 7), strict=True):
        want = np.argsort(-(x @ row))[:7]
        assert [i for i, _ in got] == want.tolist()


def test_small_searches_run_on_the_calling_thread_alone(monkeypatch):
    idx, x = _flat(500)
    faiss.omp_set_num_threads(vectors._MAX_THREADS)
    idx.search(x[:1], 5)
    assert faiss.omp_get_max_threads() == 1  # 500 vectors x 1 query: threads would only cost CPU
    monkeypatch.setattr(vectors, "PARALLEL_MIN_WORK", 100)
    idx.search(x[:1], 5)
    assert faiss.omp_get_max_threads() == vectors._MAX_THREADS  # big enough: every core
