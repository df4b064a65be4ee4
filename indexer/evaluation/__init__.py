"""Retrieval quality on BEIR-format datasets: loading (:mod:`.beir`), IR metrics with pytrec_eval
semantics (:mod:`.metrics`) and the runner that sends a dataset through the normal indexing and query
paths (:mod:`.runner`, behind ``semsearch eval``)."""

from indexer.evaluation.beir import BeirDataset, load_beir
from indexer.evaluation.metrics import (
    DEFAULT_KS,
    Qrels,
    Run,
    evaluate,
    mrr_at_k,
    ndcg_at_k,
    per_query_metrics,
    rank_documents,
    recall_at_k,
)
from indexer.evaluation.runner import (
    EVAL_MODES,
    _percentile,
    default_collection_name,
    index_beir_corpus,
    run_beir,
)

__all__ = ["DEFAULT_KS", "EVAL_MODES", "BeirDataset", "Qrels", "Run", "_percentile", "default_collection_name",
           "evaluate", "index_beir_corpus", "load_beir", "mrr_at_k", "ndcg_at_k", "per_query_metrics",
           "rank_documents", "recall_at_k", "run_beir"]
