"""Field boosts (issue 27): nDCG@10 of keyword and hybrid search with title and file-name matches weighted
more (``SearchOptions.field_boost``) against without, on the shipped corpus and on SciFact.

    python benchmarks/field_boost.py                                         # tests/corpus
    python benchmarks/field_boost.py --dataset /work/shared/data/scifact     # SciFact (opt-in)
    python benchmarks/field_boost.py --weights 0,0.25,0.5,1,2 --modes keyword,hybrid

The corpus is upserted as documents with their BEIR title both in the text (BEIR's convention, as
``semsearch eval`` does) and as the ``title`` metadata the boost reads, into an embedded collection
under ``.bench/field-boost/`` (kept: a second run embeds nothing). Every weight is evaluated on the same
collection, all queries in one batch per weight and mode. Prints the CPU, its flags and the load average.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # tests/ and benchmarks/ live in the clone, neither is installed
    sys.path.insert(0, str(REPO))

from benchmarks.postgres_store import cpu, load  # noqa: E402
from indexer.collection import Collection, Document  # noqa: E402
from indexer.embedding import load_embedder  # noqa: E402
from indexer.evaluation import evaluate  # noqa: E402
from indexer.evaluation.beir import load_beir  # noqa: E402
from indexer.search import SearchOptions  # noqa: E402
from indexer.stores.embedded import EmbeddedBackend  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default=str(REPO / "tests" / "corpus"))
    ap.add_argument("--weights", default="0,0.5,1,2")
    ap.add_argument("--modes", default="keyword,hybrid")
    ap.add_argument("--data", default=str(REPO / ".bench" / "field-boost"))
    ap.add_argument("--keyword-only", action="store_true",
                    help="documents get random unit vectors instead of the model's (no model time): only the "
                         "keyword figures mean anything (for SciFact on a busy machine)")
    args = ap.parse_args()
    dataset = load_beir(Path(args.dataset))
    embedder = load_embedder("sentence-transformers/all-MiniLM-L6-v2")
    name = "fb-" + Path(args.dataset).resolve().name.lower()
    if args.keyword_only:
        rng = np.random.default_rng(27)

        def random_unit(texts: Any, **_: Any) -> np.ndarray:
            v = rng.standard_normal((len(texts), embedder.dimension)).astype(np.float32)
            return v / np.linalg.norm(v, axis=1, keepdims=True)

        embedder.embed = random_unit  # type: ignore[method-assign]
        embedder.embed_queries = random_unit  # type: ignore[method-assign]
        name += "-random-vectors"
        args.modes = "keyword"
    started = time.monotonic()
    with Collection.open(EmbeddedBackend(args.data), name, embedder) as coll:
        ids = [i for i in dataset.corpus if dataset.document_text(i)]
        for at in range(0, len(ids), 64):
            coll.upsert_documents(
                Document(i, dataset.document_text(i), {"title": dataset.corpus[i][0]} if dataset.corpus[i][0] else {})
                for i in ids[at : at + 64])
            print(f"\rindexed {min(at + 64, len(ids))}/{len(ids)}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        coll.checkpoint()
        indexed = round(time.monotonic() - started, 1)
        qids = sorted(dataset.queries)
        vectors = coll.embed_queries([dataset.queries[q] for q in qids])
        rows = []
        for mode in args.modes.split(","):
            for w in (float(x) for x in args.weights.split(",")):
                opts = SearchOptions(k=100, mode=mode, field_boost=w)
                got = coll.search_batch([dataset.queries[q] for q in qids], options=opts, vectors=vectors)
                run = {q: {h.id: h.score for h in hits} for q, hits in zip(qids, got, strict=True)}
                rows.append((mode, w, round(evaluate(run, dataset.qrels, ks=(10,))["ndcg@10"], 4), load()))
    c = cpu()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  {c['model']}, {c['cores']} cores, flags "
          f"{' '.join(c['flags']) or '-'}  dataset {args.dataset}: {len(ids)} documents, {len(qids)} queries "
          f"(indexing {indexed} s)")
    print(f"{'mode':<9}{'field_boost':>12}{'nDCG@10':>9}  load average")
    for mode, w, ndcg, la in rows:
        print(f"{mode:<9}{w:>12}{ndcg:>9}  {la}")


if __name__ == "__main__":
    main()
