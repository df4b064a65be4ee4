"""Indexing on Ray vs in process, side by side on the same folder (issue 20's figure: chunks/s ratio
>= 0.85x, identical vectors), with what the scaling argument in the README needs.

    python benchmarks/ray_index.py [--copies 3] [--rounds 2] [--actors 0] [--cpus N]

Builds a folder of ``--copies`` copies of the shipped corpus (bench/corpus/docs, ~330 KB each), then
alternates in-process and Ray runs (A B A B ..., each into a fresh collection, the Ray pool started
once and warm) and prints for each run the wall time, chunks/s and the load average. Then:

- the ratio of the medians (Ray / in process) and the check that both gave the same chunks and
  vectors (exact, or the largest difference);
- start-up: joining/starting the cluster and the actors' model loads (paid once per run of the CLI,
  not included in the chunks/s above, as the in-process model load is not either);
- per-actor throughput (one actor alone) and the store's write rate (commits of ready-made vectors),
  the two figures the N-machine estimate is made from.

Needs ``pip install 'semsearch[ray]'``. Figures from a shared 2-core machine are noisy: compare the
ratios, printed with the load average."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexer.chunking import Chunk  # noqa: E402
from indexer.collection import Collection, Limits  # noqa: E402
from indexer.distributed import ray_index  # noqa: E402
from indexer.embedding import load_embedder  # noqa: E402
from indexer.stores.base import SourceWrite  # noqa: E402
from indexer.stores.embedded import EmbeddedBackend  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1] / "bench" / "corpus" / "docs"


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def make_folder(root: Path, copies: int) -> Path:
    for i in range(copies):
        shutil.copytree(CORPUS, root / f"copy{i}")
    return root


def contents(coll: Collection) -> tuple[list[tuple], np.ndarray]:
    """(key, ord, start, end, text) of every chunk by key and ord, and their vectors (the Store interface)."""
    rows = []
    for key in sorted(coll.store.source_keys()):
        src = coll.store.stored_source(key, ("file", "doc"))
        assert src is not None
        rows += [(key, ord_, start, end, text, cid) for ord_, (cid, start, end, text) in enumerate(src.chunks)]
    vecs = coll.store.vectors_for([r[5] for r in rows])
    return [r[:5] for r in rows], np.stack([vecs[r[5]] for r in rows])


def timed_run(label: str, data: Path, root: Path, embedder, limits: Limits, pool=None) -> tuple[float, int]:
    busy0 = pool.busy_seconds() if pool else []
    cpu0 = time.process_time()
    with Collection.open(EmbeddedBackend(data), label, embedder, limits=limits) as coll:
        t0 = time.perf_counter()
        report = ray_index.index_folder(coll, root, pool) if pool else coll.index_folder(root)
        wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    # Where a Ray run's time goes: the share of the wall time each actor spent on tasks (1.0: never
    # waiting for the driver), and the driver's own CPU (walk, hashing, pickles, commits).
    busy = ("; actors busy " + " ".join(f"{(b - a) / wall:.0%}" for a, b in zip(busy0, pool.busy_seconds(),
                                                                           strict=True))) if pool else ""
    print(f"  {label:<12} {report.chunks_embedded:5d} chunks in {wall:6.1f} s = {report.chunks_embedded / wall:6.1f} "
          f"chunks/s; this process's CPU {cpu:.1f} s{busy}   ({load()})", flush=True)
    return report.chunks_embedded / wall, report.chunks_embedded


def write_rate(data: Path, embedder, limits: Limits, batches: int = 20) -> float:
    """Chunks/s the embedded store commits when the vectors are ready (what the driver's writes cost)."""
    rng = np.random.default_rng(0)
    text = "lorem ipsum dolor sit amet " * 40
    with Collection.open(EmbeddedBackend(data), "writes", embedder, limits=limits) as coll:
        t0 = time.perf_counter()
        for b in range(batches):
            n = limits.batch_chunks
            vecs = rng.standard_normal((n, embedder.dimension)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            chunks = [Chunk(i, i * len(text), (i + 1) * len(text), text, 200) for i in range(n)]
            coll.commit([SourceWrite(kind="file", key=f"/bench/w{b}.txt", sha256=str(b), chunks=chunks, vectors=vecs,
                                     ext=".txt", size=n * len(text), root="/bench")])
        coll.checkpoint()
        return batches * limits.batch_chunks / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=3, help="copies of the shipped corpus in the folder")
    ap.add_argument("--rounds", type=int, default=2, help="A/B pairs (in process, then Ray)")
    ap.add_argument("--actors", type=int, default=0, help="Ray actors (0: one per CPU of the cluster)")
    ap.add_argument("--cpus", type=int, default=None, help="CPUs of the local Ray cluster (default: all)")
    ap.add_argument("--address", default=None, help="join this Ray cluster instead of starting a local one")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="semsearch-ray-bench-"))
    try:
        root = make_folder(tmp / "docs", args.copies)
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        print(f"folder: {args.copies} copies of bench/corpus/docs, {size / 1e6:.2f} MB; {os.cpu_count()} cores; "
              f"{load()}", flush=True)
        limits = Limits()
        cache = os.environ.get("SEMSEARCH_MODEL_CACHE") or str(Path.home() / ".cache" / "semsearch")
        embedder = load_embedder(model_cache=cache)
        print(f"model: {embedder.describe()}", flush=True)

        t0 = time.perf_counter()
        ray = ray_index.connect(args.address, num_cpus=args.cpus)
        connected = time.perf_counter() - t0
        spec = ray_index.ModelSpec("default", model_cache=cache)
        pool = ray_index.RayPool(spec, limits, actors=args.actors)
        startup = pool.wait_ready()
        print(f"ray: cluster {'joined' if args.address else 'started'} in {connected:.1f} s, {len(pool)} actors "
              f"ready (model loaded) in {startup:.1f} s; cluster CPUs {ray.cluster_resources().get('CPU')}",
              flush=True)

        warm = make_folder(tmp / "warm", 1)  # first forward passes of each process: not measured
        timed_run("warm-local", tmp / "data", warm, embedder, limits)
        timed_run("warm-ray", tmp / "data", warm, embedder, limits, pool)

        print("A/B runs (fresh collection each):", flush=True)
        local_rates, ray_rates = [], []
        for i in range(args.rounds):
            local_rates.append(timed_run(f"local-{i}", tmp / "data", root, embedder, limits)[0])
            ray_rates.append(timed_run(f"ray-{i}", tmp / "data", root, embedder, limits, pool)[0])
        with Collection.open(EmbeddedBackend(tmp / "data"), f"local-{args.rounds - 1}", embedder, limits=limits) as a, \
                Collection.open(EmbeddedBackend(tmp / "data"), f"ray-{args.rounds - 1}", embedder, limits=limits) as b:
            (ca, va), (cb, vb) = contents(a), contents(b)
        diff = float(np.abs(va - vb).max()) if va.shape == vb.shape else float("nan")
        ratio = statistics.median(ray_rates) / statistics.median(local_rates)
        print(f"chunks/s: in process {statistics.median(local_rates):.1f}, Ray {statistics.median(ray_rates):.1f} "
              f"(medians of {args.rounds}); ratio Ray / in process = {ratio:.2f}x (goal >= 0.85x)   ({load()})")
        print(f"same chunks: {ca == cb} ({len(ca)}); vectors "
              + ("identical (bitwise)" if diff == 0 else f"differ by at most {diff:.2e} (min cosine "
                 f"{float((va * vb).sum(1).min()):.8f})"))

        pool.close()
        one = ray_index.RayPool(spec, limits, actors=1)
        one.wait_ready()
        per_actor, _ = timed_run("ray-1-actor", tmp / "data", root, embedder, limits, one)
        one.close()
        writes = write_rate(tmp / "data", embedder, limits)
        print(f"per actor: {per_actor:.1f} chunks/s (one actor, one core); store writes: {writes:.0f} chunks/s "
              f"(batches of {limits.batch_chunks}, ready-made vectors); one driver feeds about "
              f"{writes / per_actor:.0f} actors before its writes are the limit   ({load()})")
        ray.shutdown()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
