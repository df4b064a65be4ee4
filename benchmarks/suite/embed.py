"""Section ``embed``: bulk embedding throughput and fidelity against plain sentence-transformers, and the
project's throughput against the CPU's own limit (:mod:`benchmarks.suite.peak`): FLOPs of the forward
passes, GFLOP/s, the fraction of peak, and where the rest of each batch's time goes."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import Any

import numpy as np

from benchmarks.suite.config import BenchConfig
from benchmarks.suite.corpus import Corpus
from benchmarks.suite.peak import ModelShape, achieved, peak_report
from benchmarks.suite.stats import alternate, ratio, summarize

log = logging.getLogger(__name__)


def bench_embed(embedder: Any, corpus: Corpus, cfg: BenchConfig) -> tuple[dict[str, Any], np.ndarray]:
    """Bulk embedding throughput and fidelity. Returns (figures, plain fp32 vectors)."""
    import torch

    from indexer.embedding import l2_normalize
    from indexer.embedding.batches import BatchProfile
    from indexer.embedding.cpu import one_core

    st = embedder.model
    chunks = corpus.chunks[: cfg.embed_chunks]
    seen: dict[str, np.ndarray] = {}

    def plain() -> float:
        t0 = time.perf_counter()
        with torch.inference_mode():
            v = st.encode(chunks, batch_size=32, convert_to_numpy=True, show_progress_bar=False)
        dt = time.perf_counter() - t0
        seen.setdefault("plain", np.asarray(v, dtype=np.float32))
        return len(chunks) / dt

    def project() -> float:
        t0 = time.perf_counter()
        v = embedder.embed(chunks, batch_size=32)
        dt = time.perf_counter() - t0
        seen.setdefault("project", v)
        return len(chunks) / dt

    profile = embedder.profile = BatchProfile()  # the project's runs record where their time goes
    try:
        rates = alternate({"plain": plain, "project": project}, cfg.repeats)
    finally:
        embedder.profile = None
    ref = l2_normalize(seen["plain"])
    cos_bulk = np.sum(ref * seen["project"], axis=1)
    nq = min(len(chunks), 64)
    cos_query = np.sum(ref[:nq] * embedder.embed_queries(chunks[:nq]), axis=1)
    embedder.clear_cache()
    # the path concurrent queries take (one core per batch, its own compiled model) must be as faithful
    with one_core():
        lane = embedder.embed_queries(chunks[:nq])
    embedder.clear_cache()
    cos_query = np.minimum(cos_query, np.sum(ref[:nq] * lane, axis=1))
    tokens = embedder.count_tokens(chunks)
    figures = {
        "chunks": len(chunks),
        "mean_tokens": round(float(np.mean(tokens)), 1),
        "plain_chunks_per_s": summarize(rates["plain"]),
        "project_chunks_per_s": summarize(rates["project"]),
        "embed_ratio": ratio(rates["project"], rates["plain"]),
        "fidelity_min_cos": float(cos_bulk.min()),
        "fidelity_mean_cos": float(cos_bulk.mean()),
        "query_fidelity_min_cos": float(cos_query.min()),
        "limit": against_peak(embedder, profile),
    }
    return figures, ref


def against_peak(embedder: Any, profile: Any) -> dict[str, Any]:
    """The project's runs against the CPU's peak for the embedder's precision, and the batch profile."""
    from indexer.embedding.cpu import cpu_features

    peak = peak_report(embedder.precision, cpu_features())
    shape = ModelShape.from_config(embedder.path)
    out: dict[str, Any] = {"model_shape": asdict(shape), **peak,
                           "batches": profile.batches, "real_tokens": sum(profile.lengths),
                           "padded_tokens": profile.padded, **profile.shares()}
    if profile.total_s > 0:
        whole = achieved(shape, profile.lengths, profile.total_s, peak["peak_gflops"])
        fwd = achieved(shape, profile.lengths, profile.forward_s, peak["peak_gflops"])
        out.update({"gflop_per_run": round(whole["gflop"] / max(1, profile.runs), 3),
                    "gflops": whole["gflops"], "fraction_of_peak": whole["fraction_of_peak"],
                    "forward_gflops": fwd["gflops"], "forward_fraction_of_peak": fwd["fraction_of_peak"],
                    "ms_per_batch": round(1000 * profile.total_s / max(1, profile.batches), 2)})
    return out
