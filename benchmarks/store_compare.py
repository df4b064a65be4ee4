"""Retrieval quality through each store, side by side: nDCG@10 per mode, embedded vs Qdrant (local mode).

    python benchmarks/store_compare.py                      # the shipped corpus (bench/corpus)
    python benchmarks/store_compare.py --dataset ../shared/data/scifact    # SciFact (opt-in)
    python benchmarks/store_compare.py --qdrant-url http://127.0.0.1:6333   # a real server instead

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
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


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
        idx, vals = query_vector(text)
        prefetch = [models.Prefetch(query=qvec, using=DENSE, limit=k)]
        if idx:
            prefetch.append(models.Prefetch(query=models.SparseVector(indices=idx, values=vals), using=KEYWORD,
                                            limit=k))
        got = store._call("query_points", store.phys, prefetch=prefetch,
                          query=models.FusionQuery(fusion=models.Fusion.RRF), limit=3 * k, with_payload=["key"],
                          what="hybrid")
        ranked: dict[str, float] = {}
        for p in got.points:  # best chunk per source, like indexer.search.rankings.group_by_source
            ranked.setdefault((p.payload or {})["key"], float(p.score))
        run[qid] = dict(list(ranked.items())[:k])
    return round(evaluate(run, dataset.qrels, ks=(10,))["ndcg@10"], 4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default=str(REPO / "bench" / "corpus"), help="a BEIR folder")
    ap.add_argument("--qdrant-url", default="", help="a Qdrant server (default: local mode in a temp folder)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from indexer.embedding import load_embedder
    from indexer.evaluation import load_beir, run_beir
    from indexer.stores.embedded import EmbeddedBackend
    from indexer.stores.qdrant import QdrantBackend

    embedder = load_embedder("sentence-transformers/all-MiniLM-L6-v2")
    dataset = load_beir(Path(args.dataset))
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="store-compare-") as tmp:
        t0 = time.perf_counter()
        emb = run_beir(args.dataset, backend=EmbeddedBackend(Path(tmp) / "data"), embedder=embedder, collection="cmp")
        out["embedded"] = {m: emb[m]["ndcg@10"] for m in ("dense", "keyword", "hybrid")}
        out["embedded"]["seconds"] = round(time.perf_counter() - t0, 1)
        qb = QdrantBackend(url=args.qdrant_url) if args.qdrant_url else QdrantBackend(path=Path(tmp) / "qdrant")
        t0 = time.perf_counter()
        name = f"cmp-{int(time.time())}"
        qd = run_beir(args.dataset, backend=qb, embedder=embedder, collection=name)
        out["qdrant"] = {m: qd[m]["ndcg@10"] for m in ("dense", "keyword", "hybrid")}
        out["qdrant"]["seconds"] = round(time.perf_counter() - t0, 1)
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
    print(f"{'store':<20}{'dense':>8}{'keyword':>9}{'hybrid':>8}{'seconds':>9}")
    for store, r in out.items():
        cells = "".join(f"{r[m]:>{w}.4f}" if m in r else f"{'-':>{w}}" for m, w in
                        (("dense", 8), ("keyword", 9), ("hybrid", 8)))
        print(f"{store:<20}{cells}{r.get('seconds', float('nan')):>9}")


if __name__ == "__main__":
    main()
