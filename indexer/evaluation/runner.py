"""The eval runner: a BEIR folder through the normal indexing and query paths (upsert_documents,
Collection.search), scored with :mod:`indexer.evaluation.metrics`."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexer.evaluation.beir import BeirDataset, load_beir
from indexer.evaluation.metrics import evaluate

if TYPE_CHECKING:
    from indexer.collection import Collection, Limits
    from indexer.embedding import Embedder
    from indexer.stores.base import StoreBackend


EVAL_MODES: tuple[str, ...] = ("dense", "keyword", "hybrid")


def default_collection_name(dataset_dir: Path | str) -> str:
    """``beir-<folder name>``, made a valid collection name, so repeated runs reuse one collection."""
    import re

    folder = Path(dataset_dir).expanduser().resolve().name or "dataset"
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", folder).strip("-._") or "dataset"
    return f"beir-{slug}"[:64]


def _percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default), 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _forget_cached_queries(embedder: Embedder) -> None:
    """Drop the embedder's query cache so every mode's latency includes embedding the query."""
    cache = getattr(embedder, "_cache", None)
    lock = getattr(embedder, "_cache_lock", None)
    if cache is not None and hasattr(cache, "clear"):
        if lock is not None:
            with lock:
                cache.clear()
        else:
            cache.clear()


def index_beir_corpus(coll: Collection, dataset: BeirDataset, *, batch_docs: int = 256,
                      progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Upsert the corpus as documents (id = BEIR ``_id``, text = title + " " + text) into ``coll``.

    Unchanged documents (same id and content hash) cost nothing, so a second run embeds nothing.
    Refuses a collection that holds other sources: they would be ranked too and skew the figures.
    """
    from indexer.collection import Document
    from indexer.errors import InvalidInput

    keys = coll.store.source_keys()
    foreign = [k for k, kind in keys.items() if kind != "doc" or k not in dataset.corpus]
    if foreign:
        raise InvalidInput(
            f"collection {coll.name!r} holds {len(foreign)} source(s) that are not in this dataset's corpus "
            f"(e.g. {foreign[0]!r}); evaluate into another collection (--collection NAME)", field="collection")
    started = time.monotonic()
    totals = {"added": 0, "updated": 0, "unchanged": 0, "chunks": 0}
    ids = [doc_id for doc_id in dataset.corpus if dataset.document_text(doc_id)]
    skipped = len(dataset.corpus) - len(ids)
    if progress is not None:
        progress(0, len(ids))
    for at in range(0, len(ids), max(1, batch_docs)):
        part = ids[at : at + batch_docs]
        counts = coll.upsert_documents(Document(doc_id, dataset.document_text(doc_id)) for doc_id in part)
        for key in totals:
            totals[key] += counts.get(key, 0)
        if progress is not None:
            progress(at + len(part), len(ids))
    coll.checkpoint()
    return {
        "seconds": round(time.monotonic() - started, 3),
        "documents": len(ids),
        "docs_embedded": totals["added"] + totals["updated"],
        "docs_unchanged": totals["unchanged"],
        "chunks_embedded": totals["chunks"],
        "chunks_total": coll.store.count_chunks(),
        "docs_empty_skipped": skipped,
    }


def run_beir(
    dataset_dir: Path | str,
    *,
    backend: StoreBackend,  # where the collection lives (the embedded store: ``EmbeddedBackend(data_dir)``)
    collection: str | None = None,
    embedder: Embedder,
    modes: Sequence[str] = EVAL_MODES,
    k: int = 100,
    split: str = "test",
    index_type: str = "flat",
    limits: Limits | None = None,
    batch_docs: int = 64,  # documents per upsert: small enough that progress moves every second or two
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Evaluate retrieval on a BEIR folder through the same code users index and query through.

    The corpus is upserted into collection ``collection`` (default ``beir-<folder name>``) under
    ``backend`` with :meth:`Collection.upsert_documents`; a collection that already holds the corpus
    is reused without re-embedding. Each test query then goes through :meth:`Collection.search` in
    every mode, one query at a time (so latency is what a user sees, query embedding included), and
    the document-level hits are scored with pytrec_eval semantics.

    Returns ``{mode: {"ndcg@10", "recall@100", "mrr@10", "p50_ms", "p95_ms", "queries"}, ...,
    "index": {"seconds", "documents", "docs_embedded", ...}}``.
    """
    from indexer.collection import Collection
    from indexer.errors import InvalidInput
    from indexer.search import MODES

    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise InvalidInput(f"modes must be among {', '.join(MODES)}, not {list(modes)!r}", field="mode")
    if k < 100:
        raise InvalidInput("k must be at least 100 (Recall@100 needs 100 hits)", field="k")
    dataset = load_beir(Path(dataset_dir), split=split)
    name = collection or default_collection_name(dataset_dir)
    result: dict[str, dict[str, Any]] = {}
    with Collection.open(backend, name, embedder, create=True, index_type=index_type, limits=limits) as coll:
        index_progress = None if progress is None else (lambda done, total: progress("index", done, total))
        index_stats = index_beir_corpus(coll, dataset, batch_docs=batch_docs, progress=index_progress)
        index_stats["collection"] = name
        query_ids = sorted(dataset.queries)
        for mode in dict.fromkeys(modes):
            _forget_cached_queries(embedder)
            run: dict[str, dict[str, float]] = {}
            latencies: list[float] = []
            for n, qid in enumerate(query_ids, start=1):
                t0 = time.perf_counter()
                hits = coll.search(dataset.queries[qid], k=k, mode=mode)
                latencies.append((time.perf_counter() - t0) * 1000)
                run[qid] = {h.id: h.score for h in hits}
                if progress is not None:  # every query: the caller decides how often to show it
                    progress(mode, n, len(query_ids))
            scores = evaluate(run, dataset.qrels, ks=(10, 100))
            result[mode] = {
                "ndcg@10": round(scores["ndcg@10"], 4),
                "recall@100": round(scores["recall@100"], 4),
                "mrr@10": round(scores["mrr@10"], 4),
                "p50_ms": round(_percentile(latencies, 50), 2),
                "p95_ms": round(_percentile(latencies, 95), 2),
                "queries": len(query_ids),
            }
    result["index"] = index_stats
    return result

