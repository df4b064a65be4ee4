"""The result of a run: figures, targets met, the environment, and the rows of the printed table."""

from __future__ import annotations

import logging
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.suite.config import TARGETS, BenchConfig
from benchmarks.suite.corpus import Corpus
from benchmarks.suite.stats import check_targets

log = logging.getLogger(__name__)


@dataclass
class BenchResult:
    figures: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.figures, "targets_met": check_targets(self.figures), **self.sections,
                "environment": self.environment}


def environment(embedder: Any, cfg: BenchConfig, corpus: Corpus | None) -> dict[str, Any]:
    import faiss
    import torch

    from indexer.embedding import cpu_features

    return {"cpu": cpu_features(), "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "faiss": faiss.__version__,
            "backend": embedder.backend, "precision": embedder.precision,
            "embed_path": getattr(embedder, "engine", "encode"), "model": embedder.name,
            "corpus": corpus.source if corpus else None, "load_average": list(os.getloadavg()),
            "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}}


def table_rows(result: BenchResult) -> list[tuple[str, str, str, str]]:
    """(figure, value, absolute numbers behind it, target) rows for the printed table."""
    s, f = result.sections, result.figures
    met = check_targets(f)
    rows: list[tuple[str, str, str, str]] = []

    def mark(key: str) -> str:
        op, bound = TARGETS[key]
        return f"{op} {bound} {'ok' if met.get(key) else 'MISSED'}"

    def mmm(d: dict[str, float], unit: str = "", fmt: str = ".1f") -> str:
        return f"{d['median']:{fmt}}{unit} [{d['min']:{fmt}}-{d['max']:{fmt}}]"

    if "embed" in s:
        e = s["embed"]
        rows.append(("bulk embedding", f"{f['embed_ratio']:.2f}x",
                     f"{mmm(e['project_chunks_per_s'], ' chunks/s')} vs plain "
                     f"{mmm(e['plain_chunks_per_s'], ' chunks/s')}"
                     f" ({e['chunks']} chunks, {e['mean_tokens']} tokens avg)", mark("embed_ratio")))
        rows.append(("embedding fidelity", f"{f['fidelity_min_cos']:.6f}",
                     f"min cosine bulk vs plain fp32 (mean {e['fidelity_mean_cos']:.6f}); query path "
                     f"{f['query_fidelity_min_cos']:.7f}", mark("fidelity_min_cos")))
        lim = e.get("limit")
        if lim and "gflops" in lim:
            ms = lim["model_shape"]
            rows.append((f"fraction of {lim['precision']} peak", f"{lim['fraction_of_peak']:.0%}",
                         f"{lim['gflops']} GFLOP/s ({lim['gflop_per_run']} GFLOP a run: {ms['layers']} layers, "
                         f"H {ms['hidden']}, {ms['heads']} heads, I {ms['intermediate']}, real tokens) vs peak "
                         f"{lim['peak_gflops']} GFLOP/s ({lim['peak_source']}; features say "
                         f"{lim['theoretical_gflops']}: {lim['theoretical_from']}); forward passes alone "
                         f"{lim['forward_gflops']} GFLOP/s = {lim['forward_fraction_of_peak']:.0%}", ""))
            rows.append(("  batch time: forward", f"{lim['forward_share']:.1%}",
                         f"tokenize {lim['tokenize_share']:.1%}, Python around the passes {lim['python_share']:.1%}, "
                         f"padding {lim['padding_share']:.1%} of real tokens ({lim['padded_tokens']:,} padded vs "
                         f"{lim['real_tokens']:,} real over {lim['batches']} batches, {lim['ms_per_batch']} ms each)",
                         "others < 5%"))
    if "query" in s:
        q = s["query"]
        rows.append(("single query p50", f"{f['query_ratio']:.2f}x",
                     f"{mmm(q['project_p50_ms'], ' ms', '.2f')} vs plain {mmm(q['plain_p50_ms'], ' ms', '.2f')} "
                     f"over {q['index_size']:,} vectors", mark("query_ratio")))
    if "http" in s:
        h = s["http"]
        c = h["concurrency"]
        rows.append((f"HTTP qps c{c} / c1", f"{f['http_qps_ratio']:.2f}x",
                     f"{mmm(h[f'qps_c{c}'], ' q/s')} vs {mmm(h['qps_c1'], ' q/s')}", mark("http_qps_ratio")))
        rows.append(("HTTP c1 p50 - in-process", f"{f['http_p50_excess_ms']:+.2f} ms",
                     f"{mmm(h['http_lone_p50_ms'], ' ms', '.2f')} vs {mmm(h['in_process_p50_ms'], ' ms', '.2f')}",
                     mark("http_p50_excess_ms")))
        switch = h["http_after_switch_p50_ms"]["median"] - h["in_process_after_switch_p50_ms"]["median"]
        rows.append(("  right after the other side", f"{switch:+.2f} ms",
                     f"{mmm(h['http_after_switch_p50_ms'], ' ms', '.2f')} vs "
                     f"{mmm(h['in_process_after_switch_p50_ms'], ' ms', '.2f')} (not a figure)", ""))
    if "index" in s:
        ix = s["index"]
        rows.append(("unchanged re-index", f"{f['reindex_ratio']:.4f}x",
                     f"{mmm(ix['unchanged_run_s'], ' s', '.2f')} vs first run {mmm(ix['first_run_s'], ' s', '.1f')} "
                     f"({ix['files']:,} files, {ix['chunks']:,} chunks)", mark("reindex_ratio")))
        if "copy_run_s" in ix:
            hit = ix["cache_hit_rate"]
            rows.append(("cache hit rate", "off" if hit is None else f"{hit:.1%}",
                         f"the same files into a second collection: {mmm(ix['copy_run_s'], ' s', '.2f')} vs first run "
                         f"{mmm(ix['first_run_s'], ' s', '.1f')} (first run's own hit rate: "
                         f"{ix['first_run_cache_hit_rate'] or 0:.1%})", ""))
        for name, st in (ix.get("end_to_end") or {}).items():
            if not st:
                continue
            secs = ", ".join(f"{k} {v:.2f}" for k, v in st["stages_s"].items())
            rows.append((f"index end to end ({name.replace('_', ' ')})", f"{st['end_to_end_ratio']:.2f}x",
                         f"{st['index_chunks_per_s']} vs {st['pure_embed_chunks_per_s']} chunks/s embedding the same "
                         f"{st['chunks']:,} chunks alone; seconds per stage: {secs} of {st['total_s']:.2f}",
                         ">= 0.9"))
        m = ix["memory"]
        rows.append(("peak RSS indexing", f"{f['memory_peak_gib']:.2f} GiB",
                     f"{m['peak_rss_gib'][0]:.2f} GiB at {m['files'][0]:,} files, {m['peak_rss_gib'][1]:.2f} GiB at "
                     f"{m['files'][1]:,} ({m['growth_mib_per_1k_files']} MiB per 1k files)", mark("memory_peak_gib")))
    if "hnsw" in s:
        for n, v in s["hnsw"].items():
            filt = ", ".join(f"{k} allowed: recall {x['recall@10']:.3f}{'' if x['k_hits_inside_filter'] else ' SHORT'}"
                             for k, x in v["filtered"].items())
            rows.append((f"HNSW recall@10 @ {int(n):,}", f"{v['recall@10']:.4f}",
                         f"{v['hnsw_ms_per_query']} ms vs flat {v['flat_ms_per_query']} ms/query, "
                         f"build {v['build_s']} s;"
                         f" filtered {filt}", ""))
    return rows
