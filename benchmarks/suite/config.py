"""The benchmark's settings: sections, sizes (full and ``--quick``), the targets and the default corpus."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "tests" / "corpus"  # shipped: World Factbook sections
SECTIONS = ("embed", "query", "http", "index", "hnsw")
#: texts per block of the lone-query comparison; the first of each block is not timed (see ``lone``)
LONE_BLOCK = 5
TARGETS = {"embed_ratio": (">=", 2.5), "fidelity_min_cos": (">=", 0.9999), "query_fidelity_min_cos": (">=", 0.9999),
           "query_ratio": ("<=", 0.7),
           "http_qps_ratio": (">=", 1.8), "http_p50_excess_ms": ("<=", 2.0), "reindex_ratio": ("<=", 0.05),
           "memory_peak_gib": ("<", 2.0)}


@dataclass
class BenchConfig:
    corpus: Path | None = None  # BEIR folder (corpus.jsonl [+ queries.jsonl]) or any folder of documents
    repeats: int = 3
    quick: bool = False
    embed_chunks: int = 512
    queries: int = 100  # timed queries per repeat and side
    index_size: int = 20_000
    http_requests: int = 160  # per repeat and concurrency level
    concurrency: int = 8
    reindex_files: int = 10_000
    hnsw_sizes: tuple[int, ...] = (100_000,)
    sections: tuple[str, ...] = SECTIONS
    seed: int = 0

    @classmethod
    def make(cls, *, quick: bool = False, hnsw_1m: bool = False, **kw: Any) -> BenchConfig:
        if quick:
            base = cls(quick=True, repeats=2, embed_chunks=48, queries=20, index_size=2_000, http_requests=40,
                       reindex_files=300, hnsw_sizes=(10_000,))
        else:
            base = cls()
        for k, v in kw.items():
            if v is not None:
                setattr(base, k, v)
        if hnsw_1m and 1_000_000 not in base.hnsw_sizes:
            base.hnsw_sizes = (*base.hnsw_sizes, 1_000_000)
        return base
