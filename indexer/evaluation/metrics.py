"""IR metrics with pytrec_eval (trec_eval 9.x) semantics.

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

import logging
import math
from collections.abc import Iterable, Mapping, Sequence

logger = logging.getLogger(__name__)

Run = Mapping[str, Mapping[str, float]]
Qrels = Mapping[str, Mapping[str, int]]

DEFAULT_KS: tuple[int, ...] = (1, 3, 5, 10, 100, 1000)


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

