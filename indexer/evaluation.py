"""BEIR-format datasets and IR metrics with pytrec_eval (trec_eval 9.x) semantics.

A *run* maps query id -> {doc id: score}; *qrels* map query id -> {doc id: relevance}.

Semantics, checked against the trec_eval source that pytrec_eval bundles (usnistgov/trec_eval):

* Ranking: ``form_res_rels.c`` sorts a query's results with ``comp_sim_docno``: score descending,
  ties broken by ``strcmp(p2->docno, p1->docno)``, i.e. doc id *descending* (byte order; for
  Python ``str`` this is code point order, which is the same as UTF-8 byte order). Input order
  and the run's own ranks are ignored.
* nDCG@k (``m_ndcg_cut.c``): gain is the relevance value itself (not 2^rel - 1), only for rel > 0;
  the document at 1-based rank r is discounted by log2(r + 1) ("i+2 since doc i has rank i+1").
  The ideal DCG ranks the query's judged relevance levels (rel > 0) in decreasing order, also cut
  at k. Old trec_eval 8.x used a different discount (no discount at ranks 1 and 2); not this one.
* recall@k (``m_recall.c``): relevant documents (rel >= 1) in the top k / all relevant documents.
* MRR@k: 1 / rank of the first relevant document within the top k, else 0 (BEIR's MRR@k; plain
  trec_eval ``recip_rank`` has no cut-off). Same ranking rule as above.

Averaging (BEIR/MTEB convention): the mean over the queries of the qrels that have at least one
relevant document. Such a query missing from the run, or with an empty run, scores 0. Run
queries absent from the qrels are ignored. Documents with relevance <= 0 are non-relevant.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from indexer.collection import Collection, Limits
    from indexer.embedding import Embedder

logger = logging.getLogger(__name__)

Run = Mapping[str, Mapping[str, float]]
Qrels = Mapping[str, Mapping[str, int]]

DEFAULT_KS: tuple[int, ...] = (1, 3, 5, 10, 100, 1000)


@dataclass
class BeirDataset:
    """A BEIR dataset split: documents, the split's queries and their relevance judgements."""

    corpus: dict[str, tuple[str, str]]  # doc_id -> (title, text)
    queries: dict[str, str]  # only the queries that appear in the qrels split
    qrels: dict[str, dict[str, int]]  # query_id -> {doc_id: relevance}

    def document_text(self, doc_id: str) -> str:
        """Title + " " + text, stripped (BEIR convention); just the text when there is no title."""
        title, text = self.corpus[doc_id]
        return f"{title} {text}".strip()

    @property
    def num_qrels(self) -> int:
        """Number of (query, document) judgements."""
        return sum(len(docs) for docs in self.qrels.values())


# --- loading ----------------------------------------------------------------------------------


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"BEIR {what} file not found: {path}")


def _iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{line_no}: invalid JSON ({exc.msg})") from exc
            if not isinstance(record, dict) or "_id" not in record:
                raise ValueError(f"{path}:{line_no}: expected a JSON object with an '_id' field")
            yield line_no, record


def _text_field(record: Mapping[str, object], key: str) -> str:
    value = record.get(key)
    return "" if value is None else str(value)


def _load_corpus(path: Path) -> dict[str, tuple[str, str]]:
    corpus: dict[str, tuple[str, str]] = {}
    for line_no, record in _iter_jsonl(path):
        doc_id = str(record["_id"])
        if doc_id in corpus:
            logger.warning("%s:%d: duplicate document id %r; keeping the last one", path, line_no, doc_id)
        corpus[doc_id] = (_text_field(record, "title"), _text_field(record, "text"))
    return corpus


def _load_queries(path: Path) -> dict[str, str]:
    return {str(record["_id"]): _text_field(record, "text") for _, record in _iter_jsonl(path)}


def _load_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for line_no, row in enumerate(csv.reader(fh, delimiter="\t"), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 3:
                expected = "'query-id<TAB>corpus-id<TAB>score'"
                raise ValueError(f"{path}:{line_no}: expected {expected}, got {row!r}")
            query_id, doc_id, score_text = row[0].strip(), row[1].strip(), row[2].strip()
            try:
                score = int(score_text)
            except ValueError:
                try:
                    score = int(float(score_text))
                except ValueError:
                    if line_no == 1:  # header row, e.g. "query-id corpus-id score"
                        continue
                    raise ValueError(f"{path}:{line_no}: relevance {score_text!r} is not a number") from None
            qrels.setdefault(query_id, {})[doc_id] = score
    return qrels


def load_beir(path: Path, *, split: str = "test") -> BeirDataset:
    """Load ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/{split}.tsv`` from a BEIR directory."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"BEIR dataset directory not found: {path}")
    corpus_path = path / "corpus.jsonl"
    queries_path = path / "queries.jsonl"
    qrels_path = path / "qrels" / f"{split}.tsv"
    _require_file(corpus_path, "corpus")
    _require_file(queries_path, "queries")
    if not qrels_path.is_file():
        available = sorted(p.stem for p in (path / "qrels").glob("*.tsv"))
        hint = f" (available splits: {', '.join(available)})" if available else ""
        raise FileNotFoundError(f"BEIR qrels file for split {split!r} not found: {qrels_path}{hint}")

    corpus = _load_corpus(corpus_path)
    all_queries = _load_queries(queries_path)
    qrels = _load_qrels(qrels_path)

    missing = [qid for qid in qrels if qid not in all_queries]
    if missing:
        raise ValueError(
            f"{qrels_path}: {len(missing)} query id(s) are not in {queries_path.name}, e.g. {missing[:5]}"
        )
    unknown_docs = {doc for docs in qrels.values() for doc in docs if doc not in corpus}
    if unknown_docs:
        logger.warning(
            "%s: %d judged document id(s) are not in the corpus, e.g. %s",
            qrels_path,
            len(unknown_docs),
            sorted(unknown_docs)[:5],
        )
    queries = {qid: all_queries[qid] for qid in qrels}
    logger.info(
        "loaded BEIR %s (%s): %d documents, %d queries, %d judgements",
        path.name,
        split,
        len(corpus),
        len(queries),
        sum(len(d) for d in qrels.values()),
    )
    return BeirDataset(corpus=corpus, queries=queries, qrels=qrels)


# --- metrics ----------------------------------------------------------------------------------


def rank_documents(scores: Mapping[str, float]) -> list[str]:
    """Doc ids in trec_eval order: score descending, ties by doc id descending."""
    return [doc for doc, _ in sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)]


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def _evaluated_queries(qrels: Qrels) -> list[str]:
    """Queries that count: those of the qrels with at least one relevant (rel > 0) document."""
    return [qid for qid, docs in qrels.items() if any(rel > 0 for rel in docs.values())]


def _ndcg(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    dcg = 0.0
    for index, doc in enumerate(ranked[:k]):
        gain = judged.get(doc, 0)
        if gain > 0:
            dcg += gain / math.log2(index + 2)
    ideal = sorted((rel for rel in judged.values() if rel > 0), reverse=True)[:k]
    idcg = sum(gain / math.log2(index + 2) for index, gain in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def _recall(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    relevant = sum(1 for rel in judged.values() if rel > 0)
    if relevant == 0:
        return 0.0
    return sum(1 for doc in ranked[:k] if judged.get(doc, 0) > 0) / relevant


def _mrr(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    for index, doc in enumerate(ranked[:k]):
        if judged.get(doc, 0) > 0:
            return 1.0 / (index + 1)
    return 0.0


def _mean_over_queries(run: Run, qrels: Qrels, k: int, metric: str) -> float:
    _check_k(k)
    function = {"ndcg": _ndcg, "recall": _recall, "mrr": _mrr}[metric]
    queries = _evaluated_queries(qrels)
    if not queries:
        return 0.0
    total = sum(function(rank_documents(run.get(qid, {})), qrels[qid], k) for qid in queries)
    return total / len(queries)


def ndcg_at_k(run: Run, qrels: Qrels, k: int) -> float:
    """Mean nDCG@k (linear gain, log2(rank + 1) discount) over the qrels' queries."""
    return _mean_over_queries(run, qrels, k, "ndcg")


def recall_at_k(run: Run, qrels: Qrels, k: int) -> float:
    """Mean recall@k over the qrels' queries."""
    return _mean_over_queries(run, qrels, k, "recall")


def mrr_at_k(run: Run, qrels: Qrels, k: int) -> float:
    """Mean reciprocal rank of the first relevant document within the top k."""
    return _mean_over_queries(run, qrels, k, "mrr")


def per_query_metrics(
    run: Run, qrels: Qrels, *, ks: Iterable[int] = DEFAULT_KS
) -> dict[str, dict[str, float]]:
    """Per-query ``{"ndcg@k", "recall@k", "mrr@k"}`` for the queries that count (see module doc)."""
    cutoffs = sorted(set(ks))
    if not cutoffs:
        raise ValueError("ks must name at least one cut-off")
    for k in cutoffs:
        _check_k(k)
    results: dict[str, dict[str, float]] = {}
    for qid in _evaluated_queries(qrels):
        ranked = rank_documents(run.get(qid, {}))[: cutoffs[-1]]
        judged = qrels[qid]
        scores: dict[str, float] = {}
        for k in cutoffs:
            scores[f"ndcg@{k}"] = _ndcg(ranked, judged, k)
            scores[f"recall@{k}"] = _recall(ranked, judged, k)
            scores[f"mrr@{k}"] = _mrr(ranked, judged, k)
        results[qid] = scores
    return results


def evaluate(run: Run, qrels: Qrels, *, ks: Iterable[int] = DEFAULT_KS) -> dict[str, float]:
    """Mean ``ndcg@k``, ``recall@k`` and ``mrr@k`` for every k in ``ks`` (always incl. 10 and 100)."""
    cutoffs = sorted(set(ks) | {10, 100})
    per_query = per_query_metrics(run, qrels, ks=cutoffs)
    names = [f"{metric}@{k}" for metric in ("ndcg", "recall", "mrr") for k in cutoffs]
    if not per_query:
        logger.warning("no query in the qrels has a relevant document; all metrics are 0")
        return dict.fromkeys(names, 0.0)
    return {name: sum(scores[name] for scores in per_query.values()) / len(per_query) for name in names}


# --- the eval runner: a BEIR folder through the normal indexing and query paths ---------------------

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
    data_dir: Path | str,
    collection: str | None = None,
    embedder: Embedder,
    modes: Sequence[str] = EVAL_MODES,
    k: int = 100,
    split: str = "test",
    index_type: str = "flat",
    limits: Limits | None = None,
    batch_docs: int = 64,  # documents per upsert: small enough that progress moves every second or two
    progress: Callable[[str, int, int], None] | None = None,
    backend: Any = None,  # a store backend (indexer.stores); default: the embedded store under data_dir
) -> dict[str, dict[str, Any]]:
    """Evaluate retrieval on a BEIR folder through the same code users index and query through.

    The corpus is upserted into collection ``collection`` (default ``beir-<folder name>``) under
    ``data_dir`` with :meth:`Collection.upsert_documents`; a collection that already holds the corpus
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
    with Collection.open(data_dir, name, embedder, create=True, index_type=index_type, limits=limits,
                         backend=backend) as coll:
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
