"""HNSW collections: filtered queries still return k hits inside the filter; tombstones are skipped."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.embedding import l2_normalize
from indexer.stores.embedded.vectors import VectorIndex

DIM = 32


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    centers = rng.standard_normal((20, DIM))
    x = centers[rng.integers(0, 20, 3000)] + 0.5 * rng.standard_normal((3000, DIM))
    q = centers[rng.integers(0, 20, 20)] + 0.5 * rng.standard_normal((20, DIM))
    return l2_normalize(x), l2_normalize(q)


def _exact(x: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    scores = x[ids] @ q
    return [int(ids[j]) for j in np.argsort(-scores)[:k]]


def _index(x: np.ndarray, **kw) -> VectorIndex:
    idx = VectorIndex(DIM, "hnsw", hnsw_m=8, ef_search=16, **kw)
    idx.add(np.arange(len(x), dtype=np.int64), x)
    return idx


@pytest.mark.parametrize("share", [0.003, 0.02, 0.3, 0.9])
def test_filtered_queries_return_k_hits_inside_the_filter(data, share):
    x, queries = data
    idx = _index(x)
    rng = np.random.default_rng(1)
    allowed = np.sort(rng.choice(len(x), max(10, int(len(x) * share)), replace=False)).astype(np.int64)
    allowed_set = set(allowed.tolist())
    recalls = []
    for hits, q in zip(idx.search(queries, 10, allowed), queries, strict=True):
        assert len(hits) == 10
        assert {i for i, _ in hits} <= allowed_set
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
        recalls.append(len({i for i, _ in hits} & set(_exact(x, allowed, q, 10))) / 10)
    assert np.mean(recalls) >= 0.9


def test_small_filter_is_exact(data):
    x, queries = data
    idx = _index(x)
    allowed = np.arange(0, len(x), 97, dtype=np.int64)  # 31 ids, far below the exact threshold
    for hits, q in zip(idx.search(queries, 10, allowed), queries, strict=True):
        assert [i for i, _ in hits] == _exact(x, allowed, q, 10)


def test_filter_with_fewer_allowed_than_k_and_unknown_ids(data):
    x, queries = data
    idx = _index(x)
    hits = idx.search(queries[:1], 10, np.array([5, 17, 10**9], dtype=np.int64))[0]
    assert sorted(i for i, _ in hits) == [5, 17]


def test_tombstones_are_skipped_and_k_still_filled(data):
    x, queries = data
    idx = _index(x)
    top = [i for i, _ in idx.search(queries[:1], 50)[0]]
    idx.remove(np.asarray(top[:40], dtype=np.int64))  # the best 40 are gone
    hits = idx.search(queries[:1], 10)[0]
    assert len(hits) == 10 and not ({i for i, _ in hits} & set(top[:40]))
    allowed = np.asarray(top[:45], dtype=np.int64)  # the filter mostly names deleted ids
    hits = idx.search(queries[:1], 10, allowed)[0]
    assert sorted(i for i, _ in hits) == sorted(top[40:45])


def test_large_filter_widens_until_k(data, monkeypatch):
    x, queries = data
    idx = _index(x)
    monkeypatch.setattr(VectorIndex, "EXACT_FILTER_MAX", 0)  # force the graph walk with a selector
    allowed = np.arange(0, len(x), 50, dtype=np.int64)  # 2% allowed: a narrow walk would find few
    for hits in idx.search(queries, 10, allowed):
        assert len(hits) == 10 and all(i % 50 == 0 for i, _ in hits)


def test_tombstones_survive_a_save_and_load(data, tmp_path):
    x, queries = data
    idx = _index(x)
    gone = np.arange(0, 100, dtype=np.int64)
    idx.remove(gone)
    idx.save(tmp_path / "v.faiss", seq=7)
    back = VectorIndex.load(tmp_path / "v.faiss", DIM, "hnsw")
    assert back.seq == 7 and back.tombstones == set(range(100)) and back.ntotal == len(x) - 100
    hits = back.search(queries[:3], 20)
    assert all(i >= 100 for row in hits for i, _ in row)


def test_removing_unknown_ids_tombstones_nothing(data):
    x, _ = data
    idx = _index(x)
    idx.remove(np.array([10**9, 10**9 + 1], dtype=np.int64))
    assert idx.tombstones == set() and idx.ntotal == len(x)


def test_compaction_past_the_threshold_drops_tombstones_and_keeps_results(data, tmp_path):
    x, queries = data
    idx = _index(x)
    gone = np.arange(0, len(x), 2, dtype=np.int64)  # half of the index
    idx.remove(gone)
    assert idx.needs_rebuild
    live = np.arange(1, len(x), 2, dtype=np.int64)
    idx.save(tmp_path / "v.faiss", seq=3)  # compacts before writing
    assert idx.tombstones == set() and int(idx.index.ntotal) == len(live)
    back = VectorIndex.load(tmp_path / "v.faiss", DIM, "hnsw")
    assert back.tombstones == set() and back.ntotal == len(live)
    recalls = []
    for hits, q in zip(back.search(queries, 10), queries, strict=True):
        assert all(i % 2 == 1 for i, _ in hits)
        recalls.append(len({i for i, _ in hits} & set(_exact(x, live, q, 10))) / 10)
    assert np.mean(recalls) >= 0.9


def test_a_flat_file_is_not_taken_for_an_hnsw_index(data, tmp_path):
    from indexer.stores.embedded.vectors import IndexFileError

    x, _ = data
    flat = VectorIndex(DIM, "flat")
    flat.add(np.arange(10, dtype=np.int64), x[:10])
    flat.save(tmp_path / "v.faiss", seq=1)
    with pytest.raises(IndexFileError, match="another index type"):
        VectorIndex.load(tmp_path / "v.faiss", DIM, "hnsw")
