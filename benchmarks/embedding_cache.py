"""What the embedding cache saves: the shipped corpus indexed into a new collection with the cache
cold, again into a second collection with it warm (a copy, a rename, a second collection over the same
files), re-chunked (another chunk overlap: new chunks, misses but for each file's first window), and
with the cache off (what writing it costs a cold run). Then, for deciding whether queries should go
through it: one lookup that misses, one that hits, one row written, against one query's embedding.

Each run is a fresh ``Service`` over one data folder, as a new CLI process would be; the model is
loaded before the clock starts. Prints the CPU's features and the load average before and after.

    .venv/bin/python benchmarks/embedding_cache.py [--corpus tests/corpus/docs] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a clone: the app next to this folder


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def index(data: Path, name: str, folder: Path, model: Any, **settings: Any) -> tuple[float, dict[str, Any]]:
    """Seconds to index ``folder`` into a new collection ``name``, and the run's report."""
    from app.service import Service
    from app.settings import Settings

    service = Service.from_settings(Settings(_env_file=None, data_dir=data, **settings), embedder=model)
    try:
        t0 = time.perf_counter()
        report = service.index_folder(name, folder)
        return time.perf_counter() - t0, report.to_dict()
    finally:
        service.close()


def per_call_us(fn: Any, n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=REPO / "tests" / "corpus" / "docs")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()

    import numpy as np

    from app.service import load_model
    from app.settings import Settings
    from indexer.embedding import cpu_features
    from indexer.embedding.cache import CACHE_FILE, EmbeddingCache

    cpu = cpu_features()
    print(f"CPU: {cpu['model']}, {cpu['cores']} cores, features {', '.join(cpu['flags']) or 'none'}")
    print(f"load average before: {load()}")
    model = load_model(Settings(_env_file=None))
    print(f"model: {model.name}, {model.describe()}; corpus {args.corpus}")
    rows: dict[str, list[float]] = {}
    reports: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="embcache-bench-") as tmp:
        for r in range(args.repeats):
            data = Path(tmp) / f"data{r}"
            copy = Path(tmp) / f"copy{r}"
            shutil.copytree(args.corpus, copy)
            runs = [("cache off (cold)", "off", args.corpus, {"embedding_cache_mb": 0}),
                    ("cache cold", "cold", args.corpus, {}),
                    ("cache warm (a copy, another collection)", "warm", copy, {}),
                    ("re-chunked (overlap 32 -> 0)", "rechunk", args.corpus, {"chunk_overlap": 0})]
            for label, name, folder, settings in runs:
                seconds, report = index(data, name, folder, model, **settings)
                rows.setdefault(label, []).append(seconds)
                reports[label] = report
        print(f"\n{'run':<42} {'seconds':>9} {'chunks':>7} {'hit rate':>9}")
        for label, times in rows.items():
            rep = reports[label]
            cache = rep["embedding_cache"]
            rate = "-" if cache is None or cache["hit_rate"] is None else f"{cache['hit_rate']:.1%}"
            print(f"{label:<42} {statistics.median(times):9.2f} {rep['chunks']['embedded']:7d} {rate:>9}")
        cold = statistics.median(rows["cache cold"])
        warm = statistics.median(rows["cache warm (a copy, another collection)"])
        print(f"warm / cold: {warm / cold:.3f}x; cold with cache / cache off: "
              f"{cold / statistics.median(rows['cache off (cold)']):.3f}x")
        size = (Path(tmp) / "data0" / CACHE_FILE).stat().st_size
        print(f"cache file: {size / 1e6:.2f} MB for {reports['cache cold']['chunks']['embedded']} + re-chunked vectors")

        # Should queries go through the cache? One lookup (miss, hit) and one write, against a query's embedding.
        cache = EmbeddingCache(Path(tmp) / "lookup.sqlite3", max_bytes=64 * 2**20)
        vec = model.embed(["warm-up"])
        hit_key = cache.keys("id", ["an indexed passage"])
        cache.put(hit_key, vec)
        texts = iter(f"query number {i} about rivers" for i in range(10**6))
        miss = per_call_us(lambda: cache.get(cache.keys("id", [next(texts)]), model.dimension), 300)
        hit = per_call_us(lambda: cache.get(hit_key, model.dimension), 300)
        write = per_call_us(lambda: cache.put(cache.keys("id", [next(texts)]), vec), 300)

        def one_query() -> None:
            model.clear_cache()
            model.embed_queries([next(texts)])

        query = per_call_us(one_query, 50)
        cache.close()
        print(f"\nquery embed p50 {query / 1000:.2f} ms; cache lookup miss {miss:.0f} us, hit {hit:.0f} us, "
              f"one row written {write:.0f} us (a new query would pay miss + write: "
              f"{(miss + write) / query:.1%} of its embedding)")
        assert np.isfinite(query)
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
