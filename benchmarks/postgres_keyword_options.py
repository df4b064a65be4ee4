"""Which keyword ranking the Postgres store uses, and why: nDCG@10 of Postgres's own full-text ranking
against the project's BM25, on the same documents, in one run.

    python benchmarks/postgres_keyword_options.py                          # the shipped corpus
    python benchmarks/postgres_keyword_options.py --dataset ../shared/data/scifact   # SciFact (opt-in)

Each document (title + text) is one row, so the options differ only in how they rank:
- ``ts_rank_cd``: ``to_tsvector('english', text)`` with a GIN index, the query's words OR-ed in a
  ``tsquery``, ranked by cover density (Postgres's documented choice for relevance);
- ``ts_rank``: the same, ranked by term frequency;
- ``bm25-sparsevec``: what the store does (``indexer/stores/postgres/``): BM25 term weights per row in a
  ``sparsevec``, the query's IDF weights from document frequencies, ranked by inner product.
No embedding model is needed. It starts its own PostgreSQL (tests/postgres_server.py) and stops it by pid.
Prints the load average and the CPU (2 shared cores here: the figure that matters is nDCG, not time).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default=str(REPO / "tests" / "corpus"), help="a BEIR folder")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from pgvector import SparseVector
    from pgvector.psycopg import register_vector

    from indexer.analysis.languages import Analyzer
    from indexer.evaluation.beir import load_beir
    from indexer.evaluation.metrics import ndcg_at_k
    from indexer.stores.postgres.schema import TERM_SPACE
    from indexer.stores.postgres.sql import chunk_terms, query_terms
    from tests.postgres_server import PostgresServer

    data = load_beir(Path(args.dataset))
    english = Analyzer("en")  # what a new English collection analyses with
    docs = {i: f"{title}\n{text}".strip() for i, (title, text) in data.corpus.items()}
    started = time.monotonic()
    results: dict[str, float] = {}
    with PostgresServer.create() as server:
        with server.connect(server.create_database("kw").rsplit("/", 1)[1]) as con:
            register_vector(con)
            con.execute(f"CREATE TABLE d (id text PRIMARY KEY, tsv tsvector, kw sparsevec({TERM_SPACE}), "
                        "terms int[])")
            df: Counter[int] = Counter()
            for doc_id, text in docs.items():
                weights = chunk_terms(text, english)
                df.update(weights.keys())
                con.execute("INSERT INTO d VALUES (%s, to_tsvector('english', %s), %s, %s)",
                            (doc_id, text, SparseVector(weights, TERM_SPACE), list(weights)))
            con.execute("CREATE INDEX ON d USING gin (tsv)")
            con.execute("CREATE INDEX ON d USING gin (terms)")
            n = len(docs)
            runs: dict[str, dict[str, dict[str, float]]] = {"ts_rank_cd": {}, "ts_rank": {}, "bm25-sparsevec": {}}
            for qid, text in data.queries.items():
                words = [w for w in con.execute("SELECT lexeme FROM unnest(to_tsvector('english', %s))",
                                                (text,)).fetchall()]
                if words:
                    tsq = " | ".join("'" + w[0].replace("'", "''") + "'" for w in words)
                    for fn in ("ts_rank_cd", "ts_rank"):
                        rows = con.execute(f"SELECT id, {fn}(tsv, q) FROM d, to_tsquery('english', %s) q "
                                           f"WHERE tsv @@ q ORDER BY 2 DESC LIMIT 100", (tsq,)).fetchall()
                        runs[fn][qid] = {r[0]: float(r[1]) for r in rows}
                terms = [t for t in query_terms(text, english) if df.get(t)]
                if terms:
                    q = SparseVector({t: math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in terms}, TERM_SPACE)
                    rows = con.execute("SELECT id, -(kw <#> %s) FROM d WHERE terms && %s::int[] "
                                       "ORDER BY kw <#> %s LIMIT 100", (q, terms, q)).fetchall()
                    runs["bm25-sparsevec"][qid] = {r[0]: float(r[1]) for r in rows}
            for name, run in runs.items():
                results[name] = round(ndcg_at_k(run, data.qrels, 10), 4)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    out = {"dataset": args.dataset, "documents": len(docs), "queries": len(data.queries), "ndcg@10": results,
           "seconds": round(time.monotonic() - started, 1), "cpu": cpu, "load": [round(x, 2) for x in os.getloadavg()]}
    if args.json:
        print(json.dumps(out))
        return
    print(f"{len(docs)} documents, {len(data.queries)} queries ({args.dataset}); {cpu}; load {out['load']}")
    for name, v in results.items():
        print(f"  nDCG@10 {name:15s} {v:.4f}")


if __name__ == "__main__":
    main()
