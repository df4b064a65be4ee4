"""Tests for indexer.evaluation: BEIR loading and pytrec_eval-compatible metrics.

Expected values are computed by hand in the comments. log2 values used:
log2(2) = 1, log2(3) = 1.5849625, log2(4) = 2, log2(5) = 2.3219281.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from indexer.evaluation import (
    BeirDataset,
    evaluate,
    load_beir,
    mrr_at_k,
    ndcg_at_k,
    per_query_metrics,
    rank_documents,
    recall_at_k,
)

INV_LOG2_3 = 1 / math.log2(3)  # 0.6309298


# --- ranking ----------------------------------------------------------------------------------


def test_rank_documents_score_descending_then_doc_id_descending() -> None:
    # trec_eval comp_sim_docno: ties broken by strcmp(p2, p1), i.e. doc id descending.
    scores = {"d1": 1.0, "d3": 1.0, "d2": 1.0, "top": 2.0, "low": 0.5}
    assert rank_documents(scores) == ["top", "d3", "d2", "d1", "low"]
    # Insertion order does not matter.
    assert rank_documents(dict(reversed(list(scores.items())))) == ["top", "d3", "d2", "d1", "low"]
    # Doc ids compare as strings (strcmp), not numbers: "9" > "10".
    assert rank_documents({"10": 0.3, "9": 0.3, "100": 0.3}) == ["9", "100", "10"]


# --- hand-computed metrics --------------------------------------------------------------------


def test_binary_relevance_single_query() -> None:
    qrels = {"q1": {"d1": 1, "d3": 1}}
    run = {"q1": {"d1": 0.9, "d2": 0.8, "d3": 0.7, "d4": 0.6}}
    # Ranking d1 d2 d3 d4; relevant at ranks 1 and 3.
    # DCG@10 = 1/log2(2) + 1/log2(4) = 1 + 0.5 = 1.5
    # IDCG@10 = 1/log2(2) + 1/log2(3) = 1 + 0.6309298 = 1.6309298
    # nDCG@10 = 1.5 / 1.6309298 = 0.9197208
    assert ndcg_at_k(run, qrels, 10) == pytest.approx(1.5 / (1 + INV_LOG2_3))
    assert ndcg_at_k(run, qrels, 10) == pytest.approx(0.9197208, abs=1e-7)
    # nDCG@1 = 1 / 1 = 1;  nDCG@2 = 1 / 1.6309298 = 0.6131472
    assert ndcg_at_k(run, qrels, 1) == pytest.approx(1.0)
    assert ndcg_at_k(run, qrels, 2) == pytest.approx(0.6131472, abs=1e-7)
    # recall@2 = 1/2, recall@3 = 2/2
    assert recall_at_k(run, qrels, 2) == pytest.approx(0.5)
    assert recall_at_k(run, qrels, 3) == pytest.approx(1.0)
    # First relevant at rank 1
    assert mrr_at_k(run, qrels, 10) == pytest.approx(1.0)


def test_graded_relevance_uses_linear_gain() -> None:
    qrels = {"q": {"a": 2, "b": 1, "c": 0}}
    run = {"q": {"b": 3.0, "c": 2.0, "a": 1.0}}
    # Ranking b(1) c(0) a(2).
    # DCG@3  = 1/log2(2) + 0 + 2/log2(4) = 1 + 1 = 2
    # IDCG@3 = 2/log2(2) + 1/log2(3) = 2 + 0.6309298 = 2.6309298   (c has rel 0: no gain)
    # nDCG@3 = 2 / 2.6309298 = 0.7601875
    # (with exponential gain 2^rel-1 it would be (1 + 3/2) / (3 + 1/log2(3)) = 2.5 / 3.6309298 = 0.6885289)
    assert ndcg_at_k(run, qrels, 3) == pytest.approx(2 / (2 + INV_LOG2_3))
    assert ndcg_at_k(run, qrels, 3) == pytest.approx(0.7601875, abs=1e-7)
    # nDCG@1 = 1 / 2 (ideal first document has gain 2)
    assert ndcg_at_k(run, qrels, 1) == pytest.approx(0.5)
    # recall counts rel > 0 only: relevant {a, b}; recall@1 = 1/2, recall@2 = 1/2, recall@3 = 1
    assert recall_at_k(run, qrels, 1) == pytest.approx(0.5)
    assert recall_at_k(run, qrels, 2) == pytest.approx(0.5)
    assert recall_at_k(run, qrels, 3) == pytest.approx(1.0)
    # b (rel 1) is relevant: MRR = 1
    assert mrr_at_k(run, qrels, 10) == pytest.approx(1.0)


def test_ties_broken_by_doc_id_descending() -> None:
    qrels = {"q": {"d1": 1}}
    run = {"q": {"d1": 1.0, "d2": 1.0, "d3": 1.0}}
    # All tied -> ranking d3 d2 d1; the relevant d1 is at rank 3.
    # nDCG@10 = (1/log2(4)) / 1 = 0.5;  MRR@10 = 1/3;  MRR@2 = 0;  recall@2 = 0, recall@3 = 1
    assert ndcg_at_k(run, qrels, 10) == pytest.approx(0.5)
    assert mrr_at_k(run, qrels, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(run, qrels, 2) == 0.0
    assert recall_at_k(run, qrels, 2) == 0.0
    assert recall_at_k(run, qrels, 3) == pytest.approx(1.0)
    # Reversing the tie-break target: relevant d3 is ranked first.
    qrels_d3 = {"q": {"d3": 1}}
    assert ndcg_at_k(run, qrels_d3, 10) == pytest.approx(1.0)
    assert mrr_at_k(run, qrels_d3, 10) == pytest.approx(1.0)


def test_missing_and_empty_run_queries_count_as_zero_and_extra_run_queries_are_ignored() -> None:
    qrels = {
        "q1": {"a": 1},
        "q2": {"b": 1},
        "q3": {"c": 1},
        "q4": {"d": 0},  # no relevant document: not averaged
    }
    run = {
        "q1": {"a": 1.0, "x": 0.5},  # perfect: 1 for every metric
        "q2": {},  # empty run: 0
        # q3 missing: 0
        "q4": {"d": 1.0},
        "unjudged": {"a": 1.0},  # not in qrels: ignored
    }
    # Mean over q1, q2, q3 = (1 + 0 + 0) / 3
    for metric in (ndcg_at_k, recall_at_k, mrr_at_k):
        assert metric(run, qrels, 10) == pytest.approx(1 / 3)
    assert set(per_query_metrics(run, qrels, ks=[10])) == {"q1", "q2", "q3"}


def test_k_larger_than_run() -> None:
    qrels = {"q": {"a": 1, "b": 1, "c": 1}}
    run = {"q": {"a": 2.0, "x": 1.0}}
    # Only 2 documents retrieved; a at rank 1.
    # DCG = 1;  IDCG@10 = 1 + 1/log2(3) + 1/log2(4) = 1 + 0.6309298 + 0.5 = 2.1309298
    # nDCG@10 = 1 / 2.1309298 = 0.4692787;  nDCG@1000 is the same (ideal has only 3 docs)
    assert ndcg_at_k(run, qrels, 10) == pytest.approx(1 / (1.5 + INV_LOG2_3))
    assert ndcg_at_k(run, qrels, 10) == pytest.approx(0.4692787, abs=1e-7)
    assert ndcg_at_k(run, qrels, 1000) == pytest.approx(ndcg_at_k(run, qrels, 10))
    # IDCG@2 = 1 + 0.6309298 -> nDCG@2 = 0.6131472 (ideal is cut at k too)
    assert ndcg_at_k(run, qrels, 2) == pytest.approx(0.6131472, abs=1e-7)
    # recall@10 = recall@1000 = 1/3;  MRR = 1
    assert recall_at_k(run, qrels, 10) == pytest.approx(1 / 3)
    assert recall_at_k(run, qrels, 1000) == pytest.approx(1 / 3)
    assert mrr_at_k(run, qrels, 10) == pytest.approx(1.0)


def test_negative_and_zero_relevance_are_non_relevant() -> None:
    qrels = {"q": {"a": -1, "z": 0, "b": 1}}
    run = {"q": {"a": 0.9, "z": 0.8, "b": 0.7}}
    # Ranking a(-1) z(0) b(1): first relevant at rank 3.
    # DCG = 1/log2(4) = 0.5 ; IDCG = 1 -> nDCG = 0.5 ; MRR = 1/3 ; recall@2 = 0
    assert ndcg_at_k(run, qrels, 10) == pytest.approx(0.5)
    assert mrr_at_k(run, qrels, 10) == pytest.approx(1 / 3)
    assert recall_at_k(run, qrels, 2) == 0.0
    assert recall_at_k(run, qrels, 3) == pytest.approx(1.0)


def test_mean_over_several_queries() -> None:
    qrels = {
        "q1": {"a": 1, "b": 1},
        "q2": {"c": 2, "d": 1},
    }
    run = {
        "q1": {"x": 3.0, "a": 2.0, "y": 1.0},  # a at rank 2, b not retrieved
        "q2": {"d": 3.0, "c": 2.0},  # d(1) at rank 1, c(2) at rank 2
    }
    # q1: DCG@10 = 1/log2(3) = 0.6309298; IDCG = 1 + 0.6309298 = 1.6309298 -> 0.3868528
    #     recall@10 = 1/2 ; MRR = 1/2
    # q2: DCG@10 = 1 + 2/log2(3) = 2.2618595; IDCG = 2 + 1/log2(3) = 2.6309298 -> 0.8597186
    #     recall@10 = 1 ; MRR = 1
    # means: nDCG = (0.3868528 + 0.8597186) / 2 = 0.6232857 ; recall = 0.75 ; MRR = 0.75
    q1 = INV_LOG2_3 / (1 + INV_LOG2_3)
    q2 = (1 + 2 * INV_LOG2_3) / (2 + INV_LOG2_3)
    assert ndcg_at_k(run, qrels, 10) == pytest.approx((q1 + q2) / 2)
    assert ndcg_at_k(run, qrels, 10) == pytest.approx(0.6232857, abs=1e-7)
    assert recall_at_k(run, qrels, 10) == pytest.approx(0.75)
    assert mrr_at_k(run, qrels, 10) == pytest.approx(0.75)
    # MRR@1: q1 has no relevant doc at rank 1 -> (0 + 1) / 2
    assert mrr_at_k(run, qrels, 1) == pytest.approx(0.5)


def test_evaluate_reports_required_keys_consistently() -> None:
    qrels = {"q1": {"a": 1, "b": 2}, "q2": {"c": 1}}
    run = {"q1": {"b": 0.4, "z": 0.9, "a": 0.1}, "q2": {"c": 0.3}}
    scores = evaluate(run, qrels)
    assert {"ndcg@10", "recall@100", "mrr@10"} <= set(scores)
    for k in (1, 3, 5, 10, 100, 1000):
        assert scores[f"ndcg@{k}"] == pytest.approx(ndcg_at_k(run, qrels, k))
        assert scores[f"recall@{k}"] == pytest.approx(recall_at_k(run, qrels, k))
        assert scores[f"mrr@{k}"] == pytest.approx(mrr_at_k(run, qrels, k))
    # Custom ks still include the headline cut-offs.
    assert set(evaluate(run, qrels, ks=[2])) == {
        "ndcg@2", "ndcg@10", "ndcg@100", "recall@2", "recall@10", "recall@100",
        "mrr@2", "mrr@10", "mrr@100",
    }  # fmt: skip


def test_evaluate_without_relevant_queries_is_all_zero() -> None:
    scores = evaluate({"q": {"a": 1.0}}, {"q": {"a": 0}}, ks=[10])
    assert scores == {"ndcg@10": 0.0, "ndcg@100": 0.0, "recall@10": 0.0, "recall@100": 0.0,
                      "mrr@10": 0.0, "mrr@100": 0.0}  # fmt: skip
    assert ndcg_at_k({}, {}, 10) == 0.0


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ndcg_at_k({}, {"q": {"a": 1}}, 0)
    with pytest.raises(ValueError):
        evaluate({}, {"q": {"a": 1}}, ks=[0])


# --- loading ----------------------------------------------------------------------------------


def write_dataset(root: Path, *, header: bool = True, split: str = "test") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    corpus = [
        {"_id": "d1", "title": "Title One", "text": "Text one.", "metadata": {}},
        {"_id": "d2", "title": "", "text": "  Text two only.  "},
        {"_id": "d3", "text": "No title key."},
        {"_id": 4, "title": None, "text": "Numeric id."},
    ]
    queries = [
        {"_id": "q1", "text": "first query"},
        {"_id": "q2", "text": "second query"},
        {"_id": "q3", "text": "not in this split"},
    ]
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in corpus) + "\n\n", encoding="utf-8")
    (root / "queries.jsonl").write_text("\n".join(json.dumps(r) for r in queries) + "\n", encoding="utf-8")
    (root / "qrels").mkdir(exist_ok=True)
    rows = ["q1\td1\t1", "q1\td2\t2", "q2\t4\t0"]
    if header:
        rows.insert(0, "query-id\tcorpus-id\tscore")
    (root / "qrels" / f"{split}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


@pytest.mark.parametrize("header", [True, False])
def test_load_beir(tmp_path: Path, header: bool) -> None:
    dataset = load_beir(write_dataset(tmp_path / "ds", header=header))
    assert isinstance(dataset, BeirDataset)
    assert dataset.corpus == {
        "d1": ("Title One", "Text one."),
        "d2": ("", "  Text two only.  "),
        "d3": ("", "No title key."),
        "4": ("", "Numeric id."),
    }
    assert dataset.queries == {"q1": "first query", "q2": "second query"}  # q3 is not in the qrels
    assert dataset.qrels == {"q1": {"d1": 1, "d2": 2}, "q2": {"4": 0}}
    assert dataset.num_qrels == 3
    assert dataset.document_text("d1") == "Title One Text one."
    assert dataset.document_text("d2") == "Text two only."
    assert dataset.document_text("d3") == "No title key."


def test_load_beir_other_split(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "ds", split="dev")
    assert load_beir(root, split="dev").qrels["q1"] == {"d1": 1, "d2": 2}
    with pytest.raises(FileNotFoundError, match=r"split 'test'.*test\.tsv.*available splits: dev"):
        load_beir(root)


@pytest.mark.parametrize("missing", ["corpus.jsonl", "queries.jsonl", "qrels/test.tsv"])
def test_load_beir_missing_file_is_named(tmp_path: Path, missing: str) -> None:
    root = write_dataset(tmp_path / "ds")
    (root / missing).unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_beir(root)
    assert str(root / missing) in str(info.value)


def test_load_beir_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="directory not found"):
        load_beir(tmp_path / "nope")


def test_load_beir_bad_inputs(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "ds")
    with open(root / "qrels" / "test.tsv", "a", encoding="utf-8") as fh:
        fh.write("q9\td1\t1\n")
    with pytest.raises(ValueError, match="not in queries.jsonl"):
        load_beir(root)

    root = write_dataset(tmp_path / "ds2")
    with open(root / "corpus.jsonl", "a", encoding="utf-8") as fh:
        fh.write("{not json\n")
    with pytest.raises(ValueError, match=r"corpus\.jsonl:6: invalid JSON"):
        load_beir(root)

    root = write_dataset(tmp_path / "ds3")
    with open(root / "qrels" / "test.tsv", "a", encoding="utf-8") as fh:
        fh.write("q1\td3\thigh\n")
    with pytest.raises(ValueError, match="'high' is not a number"):
        load_beir(root)


def _assert_loads_whole(root: Path, corpus: int, queries: int, qrels: int) -> None:
    dataset = load_beir(root)
    assert len(dataset.corpus) == corpus
    assert len(dataset.queries) == queries
    assert dataset.num_qrels == qrels
    assert all(rel > 0 for docs in dataset.qrels.values() for rel in docs.values())
    assert all(doc in dataset.corpus for docs in dataset.qrels.values() for doc in docs)
    # A perfect run (the judged documents themselves) scores 1 on every metric.
    run = {qid: {doc: float(rel) for doc, rel in docs.items()} for qid, docs in dataset.qrels.items()}
    assert evaluate(run, dataset.qrels, ks=[10]) == pytest.approx(
        {f"{m}@{k}": 1.0 for m in ("ndcg", "recall", "mrr") for k in (10, 100)}
    )


def test_load_the_shipped_corpus(corpus_dir) -> None:
    _assert_loads_whole(corpus_dir, 346, 346, 346)


@pytest.mark.scifact
def test_load_scifact(scifact_dir) -> None:
    _assert_loads_whole(scifact_dir, 5183, 300, 339)


def test_compare_eval_fails_when_ndcg_moves_past_the_tolerance(tmp_path):
    """benchmarks/compare_eval.py, which `make eval-precision` runs on fp32 vs the fast path."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "compare_eval.py"
    spec = importlib.util.spec_from_file_location("compare_eval", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    base = {m: {"ndcg@10": v} for m, v in (("dense", 0.6557), ("keyword", 0.6856), ("hybrid", 0.7294))}
    near = {m: {"ndcg@10": v} for m, v in (("dense", 0.6573), ("keyword", 0.6856), ("hybrid", 0.7305))}
    far = {**near, "dense": {"ndcg@10": 0.6583}}
    a, b, c = (tmp_path / f"{n}.json" for n in "abc")
    for p, d in ((a, base), (b, near), (c, far)):
        p.write_text(json.dumps(d))
    assert mod.main([str(a), str(b)]) == 0
    assert mod.main([str(a), str(c)]) == 1  # dense moved by +0.0026
    lines, ok = mod.compare(base, far, 0.002)
    assert not ok and "delta +0.0026" in lines[0]
