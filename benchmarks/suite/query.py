"""Section ``query``: one query embedded + top-10 in process, against plain encode + ``IndexFlatIP``."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from benchmarks.suite.config import BenchConfig
from benchmarks.suite.corpus import Corpus, replicate, unique_queries
from benchmarks.suite.stats import percentile, ratio, summarize

log = logging.getLogger(__name__)


def bench_query(embedder: Any, corpus: Corpus, base: np.ndarray, cfg: BenchConfig) -> dict[str, Any]:
    """p50 of one query embedded + top-10 over ``index_size`` vectors, both pipelines, query by query."""
    import faiss
    import torch

    from indexer.stores.embedded.vectors import VectorIndex

    st = embedder.model
    matrix = replicate(base, cfg.index_size, seed=cfg.seed)
    flat = faiss.IndexFlatIP(matrix.shape[1])
    flat.add(matrix)
    ours = VectorIndex(matrix.shape[1], "flat")
    ours.add(np.arange(len(matrix), dtype=np.int64), matrix)
    stream = unique_queries(corpus.queries)

    def plain(q: str) -> float:
        t0 = time.perf_counter()
        with torch.inference_mode():
            v = st.encode([q], batch_size=32, convert_to_numpy=True, normalize_embeddings=True,
                          show_progress_bar=False)
        flat.search(np.asarray(v, dtype=np.float32), 10)
        return (time.perf_counter() - t0) * 1000

    def project(q: str) -> float:
        t0 = time.perf_counter()
        v = embedder.embed_queries([q])
        ours.search(v, 10)
        return (time.perf_counter() - t0) * 1000

    for q in corpus.queries[:5]:  # warm both
        plain(q)
        project(q)
    p50: dict[str, list[float]] = {"plain": [], "project": []}
    agree = []
    for r in range(cfg.repeats):
        embedder.clear_cache()
        lat: dict[str, list[float]] = {"plain": [], "project": []}
        for i in range(cfg.queries):
            q = next(stream)
            sides = [("plain", plain), ("project", project)]
            for name, fn in sides if (i + r) % 2 == 0 else sides[::-1]:
                lat[name].append(fn(q))
        for name in lat:
            p50[name].append(percentile(lat[name], 50))
    for q in corpus.queries[:20]:  # same top-10 ids as the plain pipeline
        a = flat.search(st.encode([q], normalize_embeddings=True, show_progress_bar=False), 10)[1][0]
        b = [i for i, _ in ours.search(embedder.embed_queries([q]), 10)[0]]
        agree.append(len(set(a.tolist()) & set(b)) / 10)
    embedder.clear_cache()
    return {"index_size": len(matrix), "queries_per_repeat": cfg.queries,
            "plain_p50_ms": summarize(p50["plain"]), "project_p50_ms": summarize(p50["project"]),
            "query_ratio": ratio(p50["project"], p50["plain"]), "top10_agreement": float(np.mean(agree))}
