"""Section ``hnsw``: recall@10 of the HNSW index against exact search, filtered queries included."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from benchmarks.suite.config import BenchConfig
from benchmarks.suite.corpus import clustered_vectors

log = logging.getLogger(__name__)


def bench_hnsw(cfg: BenchConfig, dim: int = 384) -> dict[str, Any]:
    import faiss

    from indexer.stores.embedded.vectors import VectorIndex

    out: dict[str, Any] = {}
    nq, k = 200, 10
    for n in cfg.hnsw_sizes:
        data = clustered_vectors(n + nq, dim, seed=cfg.seed)
        base, queries = data[:n], data[n:]
        exact = faiss.IndexFlatIP(dim)
        exact.add(base)
        t0 = time.perf_counter()
        _, truth = exact.search(queries, k)
        flat_ms = (time.perf_counter() - t0) * 1000 / nq
        index = VectorIndex(dim, "hnsw")
        t0 = time.perf_counter()
        for at in range(0, n, 50_000):
            index.add(np.arange(at, min(n, at + 50_000), dtype=np.int64), base[at : at + 50_000])
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        got = index.search(queries, k)
        hnsw_ms = (time.perf_counter() - t0) * 1000 / nq
        recall = float(np.mean([len(set(truth[i].tolist()) & {j for j, _ in got[i]}) / k for i in range(nq)]))
        # filtered: 1% and 30% of the ids allowed; every query must still get k hits inside the filter
        rng = np.random.default_rng(cfg.seed)
        filt: dict[str, Any] = {}
        for frac in (0.01, 0.3):
            allowed = np.sort(rng.choice(n, max(k, int(n * frac)), replace=False)).astype(np.int64)
            allowed_set = set(allowed.tolist())
            res = index.search(queries[:50], k, allowed)
            ok = all(len(r) == k and all(i in allowed_set for i, _ in r) for r in res)
            sub = faiss.IndexFlatIP(dim)
            sub.add(base[allowed])
            _, t_ids = sub.search(queries[:50], k)
            rec = float(np.mean([len({int(allowed[j]) for j in t_ids[i]} & {j for j, _ in res[i]}) / k
                                 for i in range(len(res))]))
            filt[f"{frac:.0%}"] = {"k_hits_inside_filter": ok, "recall@10": rec}
        out[str(n)] = {"recall@10": recall, "build_s": round(build, 1), "hnsw_ms_per_query": round(hnsw_ms, 3),
                       "flat_ms_per_query": round(flat_ms, 3), "ef_search": index.ef_search, "filtered": filt}
    return out
