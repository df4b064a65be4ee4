"""What acknowledging a write only once ``catalog.sqlite3`` holds it costs, per write, on this disk.

    python benchmarks/wal_checkpoint.py [--writes 200] [--dir DIR] [--upserts 30] [--json]

Times ``EmbeddedStore.write`` of one small document (one chunk, a 384-d vector; no model: the store
alone) in a fresh collection, two ways:

- ``checkpoint``: ``wal_checkpoint_seconds=0`` (the default): the WAL is checkpointed into
  ``catalog.sqlite3`` before the write returns (copy + fsync of the -wal and of the catalog file);
- ``delayed``: ``wal_checkpoint_seconds=1``: at most one checkpoint a second; each write records its
  number in ``catalog.sqlite3-acked`` (one pwrite) so that an open without the -wal is refused.

With ``--upserts N`` it also times N one-document ``Collection.upsert_documents`` calls each way with
the bundled model (embedding included): what a client of ``POST /collections/{name}/documents`` waits.

Each way runs twice, interleaved, on the disk of ``--dir`` (default: a temp folder beside this
checkout, i.e. the disk a data folder is usually on, not a tmpfs). Prints per-write median, p90 and
mean in ms, the CPU (model, flags) and the load average: 2 shared cores here, so the figures that
matter are the ratio and the absolute fsync-bound cost, not the last digit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def run(base: Path, period: float, writes: int) -> list[float]:
    import numpy as np

    from indexer.chunking import Chunk
    from indexer.stores.base import SourceWrite
    from indexer.stores.embedded.store import EmbeddedStore

    folder = Path(tempfile.mkdtemp(prefix="walbench", dir=base))
    try:
        store = EmbeddedStore(folder / "collections" / "c", model="m", dimension=384, wal_checkpoint_seconds=period)
        store.load()
        rng = np.random.default_rng(0)
        took = []
        for i in range(writes):
            vec = rng.standard_normal((1, 384)).astype(np.float32)
            vec /= np.linalg.norm(vec)
            text = f"document {i}: " + "a few words of text " * 10
            w = SourceWrite("doc", f"d{i}", f"{i:064x}", [Chunk(0, 0, len(text), text, 40)], vec, text=text)
            t = time.perf_counter()
            store.write([w])
            took.append((time.perf_counter() - t) * 1000)
        store.close()
        return took
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_upserts(base: Path, period: float, upserts: int, embedder: object) -> list[float]:
    from indexer.collection import Collection, Limits
    from indexer.stores.embedded import EmbeddedBackend

    folder = Path(tempfile.mkdtemp(prefix="walbench", dir=base))
    try:
        coll = Collection.create(EmbeddedBackend(folder), "c", embedder,  # type: ignore[arg-type]
                                 limits=Limits(wal_checkpoint_seconds=period))
        took = []
        for i in range(upserts):
            t = time.perf_counter()
            coll.upsert_documents([{"id": f"d{i}", "text": f"Note {i}: the ferry leaves at dawn, weather allowing."}])
            took.append((time.perf_counter() - t) * 1000)
        coll.close()
        return took
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _summary(t: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(t), 3), "p90": round(sorted(t)[int(0.9 * len(t))], 3),
            "mean": round(statistics.mean(t), 3), "n": len(t)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--writes", type=int, default=200)
    ap.add_argument("--dir", default=str(REPO.parent), help="where the temp data folders go (its disk is measured)")
    ap.add_argument("--upserts", type=int, default=0, help="also time N one-document upserts with the model")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from indexer.embedding.cpu import cpu_features

    base = Path(args.dir)
    ways = {"checkpoint": 0.0, "delayed": 1.0}
    times: dict[str, list[float]] = {w: [] for w in ways}
    for _ in range(2):
        for way, period in ways.items():
            times[way] += run(base, period, args.writes)
    result = {
        "cpu": cpu_features(), "dir": str(base),
        "per_write_ms": {way: _summary(t) for way, t in times.items()},
    }
    if args.upserts:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from indexer.embedding import load_embedder

        embedder = load_embedder()
        up: dict[str, list[float]] = {w: [] for w in ways}
        for _ in range(2):
            for way, period in ways.items():
                up[way] += run_upserts(base, period, args.upserts, embedder)
        result["per_upsert_ms"] = {way: _summary(t) for way, t in up.items()}
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(result))
        return
    cpu = result["cpu"]
    print(f"CPU: {cpu['model']} ({cpu['cores']} cores; flags {' '.join(cpu['flags']) or '-'}); "
          f"load average {' '.join(map(str, result['load_average']))}; disk of {base}")
    for what, key in (("store write", "per_write_ms"), ("1-doc upsert", "per_upsert_ms")):
        for way, t in result.get(key, {}).items():
            print(f"{what:>12} {way:>10}: median {t['median']:.2f} ms, p90 {t['p90']:.2f} ms, "
                  f"mean {t['mean']:.2f} ms ({t['n']} runs)")

if __name__ == "__main__":
    main()
