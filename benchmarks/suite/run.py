"""``run_bench``: the selected sections in order, in a temporary work folder."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.suite.config import BenchConfig
from benchmarks.suite.corpus import load_corpus
from benchmarks.suite.embed import bench_embed
from benchmarks.suite.hnsw import bench_hnsw
from benchmarks.suite.http import bench_http
from benchmarks.suite.index import bench_index
from benchmarks.suite.query import bench_query
from benchmarks.suite.report import BenchResult, environment

log = logging.getLogger(__name__)


def run_bench(cfg: BenchConfig, embedder: Any, *, progress: Callable[[str], None] | None = None,
              workdir: Path | None = None) -> BenchResult:
    """Run the selected sections; ``embedder`` is the project's (SentenceTransformerEmbedder)."""
    tell = progress or (lambda msg: None)
    result = BenchResult()
    work = Path(tempfile.mkdtemp(prefix="semsearch-bench-", dir=workdir))
    try:
        corpus = None
        need_corpus = any(s in cfg.sections for s in ("embed", "query", "http", "index"))
        if need_corpus:
            tell("corpus")
            corpus = load_corpus(embedder, cfg.corpus, max_chunks=max(cfg.embed_chunks, 256), seed=cfg.seed)
        base: np.ndarray | None = None
        if corpus is not None and any(s in cfg.sections for s in ("embed", "query", "http")):
            tell(f"embed: {min(len(corpus.chunks), cfg.embed_chunks)} chunks x {cfg.repeats} repeats, both pipelines")
            figures, base = bench_embed(embedder, corpus, cfg)
            result.sections["embed"] = figures
            result.figures.update({k: figures[k] for k in ("embed_ratio", "fidelity_min_cos",
                                                           "query_fidelity_min_cos")})
        if corpus is not None and base is not None and "query" in cfg.sections:
            tell(f"query: {cfg.queries} queries x {cfg.repeats} repeats over {cfg.index_size} vectors")
            q = bench_query(embedder, corpus, base, cfg)
            result.sections["query"] = q
            result.figures["query_ratio"] = q["query_ratio"]
        if corpus is not None and base is not None and "http" in cfg.sections:
            tell(f"http: server with {cfg.index_size} chunks, concurrency 1 vs {cfg.concurrency}")
            h = bench_http(embedder, corpus, base, cfg, work)
            result.sections["http"] = h
            result.figures["http_qps_ratio"] = h["http_qps_ratio"]
            result.figures["http_p50_excess_ms"] = h["http_p50_excess_ms"]
        if corpus is not None and "index" in cfg.sections:
            tell(f"index: {cfg.reindex_files} small files, first run vs unchanged (subprocess)")
            ix = bench_index(corpus, cfg, work)
            result.sections["index"] = ix
            result.figures["reindex_ratio"] = ix["reindex_ratio"]
            result.figures["memory_peak_gib"] = ix["memory_peak_gib"]
        if "hnsw" in cfg.sections:
            tell(f"hnsw: recall@10 vs flat at {', '.join(f'{n:,}' for n in cfg.hnsw_sizes)} vectors")
            hn = bench_hnsw(cfg, embedder.dimension)
            result.sections["hnsw"] = hn
            result.figures["recall@10"] = {n: v["recall@10"] for n, v in hn.items()}
        result.environment = environment(embedder, cfg, corpus)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
