"""Flat index search: exact top-k, and FAISS threads only where the search is big enough to gain."""

from __future__ import annotations

import numpy as np

from indexer.embedding import l2_normalize
from indexer.stores.embedded import vectors
from indexer.stores.embedded.vectors import VectorIndex, faiss


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
    faiss.omp_set_num_threads(vectors._max_threads())
    idx.search(x[:1], 5)
    assert faiss.omp_get_max_threads() == 1  # 500 vectors x 1 query: threads would only cost CPU
    monkeypatch.setattr(vectors, "PARALLEL_MIN_WORK", 100)
    idx.search(x[:1], 5)
    assert faiss.omp_get_max_threads() == vectors._max_threads()  # big enough: every core


def test_save_and_load_stream_instead_of_copying_the_index(tmp_path):
    """A checkpoint used to serialize the index in memory (two extra copies of every vector);
    now it streams to the file and back. Python-side allocations stay far below the index size."""
    import tracemalloc

    idx, x = _flat(20_000, dim=384)  # ~31 MB of vectors
    path = tmp_path / "v.faiss"
    tracemalloc.start()
    try:
        idx.save(path, seq=7)
        saved_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        back = VectorIndex.load(path, 384, "flat")
        loaded_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert saved_peak < 8e6 and loaded_peak < 8e6, (saved_peak, loaded_peak)
    assert back.seq == 7 and back.ntotal == 20_000
    assert [i for i, _ in back.search(x[5:6], 3)[0]] == [i for i, _ in idx.search(x[5:6], 3)[0]]
