"""The embedder's fast paths against sentence-transformers, precision selection, and the micro-batcher."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from indexer.batching import MicroBatcher
from indexer.embedder import (
    Embedder,
    cpu_has_bf16,
    l2_normalize,
    load_embedder,
    resolve_engine,
    resolve_precision,
    token_budget_batches,
)
from indexer.errors import InvalidInput

SCIFACT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "scifact" / "corpus.jsonl"


def _texts() -> list[str]:
    texts = ["", "a", "semsearch", "What does vitamin D do for bone density?",
             "Ünïcödé naïve café — “quotes” and emoji 🙂", "tabs\tand\nnewlines  here", "x " * 600,
             "The quick brown fox jumps over the lazy dog. " * 40]
    if SCIFACT.exists():
        with open(SCIFACT, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                texts.append(f"{row['title']} {row['text']}")
                if len(texts) >= 30:
                    break
    else:
        texts += [f"sentence number {i} about proteins and cells " * (i + 1) for i in range(22)]
    return texts


@pytest.fixture(scope="module")
def reference(embedder) -> tuple[list[str], np.ndarray]:
    texts = _texts()
    return texts, l2_normalize(embedder.model.encode(texts, batch_size=32, show_progress_bar=False))


def test_fast_paths_match_sentence_transformers(embedder, reference):
    texts, ref = reference
    assert embedder.engine in ("openvino", "torch")
    tokens = embedder.count_tokens(texts)
    assert max(tokens) == embedder.max_seq_length  # long texts are in the set, truncated like encode() does
    bulk = embedder.embed(texts)
    assert bulk.shape == ref.shape and bulk.dtype == np.float32
    assert np.min(np.sum(bulk * ref, axis=1)) >= 0.9999
    embedder.clear_cache()
    queries = embedder.embed_queries(texts)
    assert np.min(np.sum(queries * ref, axis=1)) >= 0.99999  # the query path is fp32: exact
    np.testing.assert_allclose(np.linalg.norm(bulk, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("engine", ["torch", "encode"])
def test_other_engines_match(engine, reference):
    texts, ref = reference
    e = load_embedder(engine=engine, precision="fp32")
    assert e.engine == engine and e.precision == "fp32"
    assert np.min(np.sum(e.embed(texts[:12]) * ref[:12], axis=1)) >= 0.99999
    assert np.min(np.sum(e.embed_queries(texts[:12]) * ref[:12], axis=1)) >= 0.99999


def test_precision_selection(monkeypatch):
    monkeypatch.delenv("SEMSEARCH_PRECISION", raising=False)
    assert resolve_precision("fp32") == "fp32"
    assert resolve_precision("auto") == ("bf16" if cpu_has_bf16() else "fp32")
    monkeypatch.setenv("SEMSEARCH_PRECISION", "fp32")
    assert resolve_precision("auto") == "fp32"
    monkeypatch.setattr("indexer.embedder.cpu_has_bf16", lambda: False)
    monkeypatch.delenv("SEMSEARCH_PRECISION")
    assert resolve_precision("auto") == "fp32"  # the fallback where the CPU lacks bf16
    with pytest.raises(InvalidInput):
        resolve_precision("fp16")
    with pytest.raises(InvalidInput):
        resolve_engine("tensorrt")


def test_fp32_forced_bulk_is_exact(reference, monkeypatch):
    texts, ref = reference
    monkeypatch.setenv("SEMSEARCH_PRECISION", "fp32")
    e = load_embedder()
    assert e.precision == "fp32"
    assert np.min(np.sum(e.embed(texts) * ref, axis=1)) >= 0.99999


def test_token_budget_batches():
    lengths = [5, 256, 10, 256, 7, 100]
    batches = token_budget_batches(lengths, 512, max_rows=4)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert lengths[b[0]] == max(lengths[i] for i in b)  # the first row sets the padded width
        assert len(b) * lengths[b[0]] <= 512 or len(b) == 1
        assert len(b) <= 4
    assert token_budget_batches([1000], 512, max_rows=4) == [[0]]  # over budget still gets its batch


# -- micro-batcher ---------------------------------------------------------------------------------------
def _slow_rows(calls: list[list[int]], delay: float = 0.05):
    def fn(items: list[int]) -> np.ndarray:
        calls.append(list(items))
        time.sleep(delay)
        return np.asarray(items, dtype=np.float32).reshape(-1, 1) * 2
    return fn


def test_microbatcher_lone_call_runs_at_once():
    calls: list[list[int]] = []
    b = MicroBatcher(_slow_rows(calls, delay=0.0))
    t0 = time.perf_counter()
    out = b([3, 4])
    assert time.perf_counter() - t0 < 0.02  # no waiting for company
    assert out.ravel().tolist() == [6, 8] and calls == [[3, 4]]


def test_microbatcher_coalesces_concurrent_calls():
    calls: list[list[int]] = []
    b = MicroBatcher(_slow_rows(calls), max_items=64)
    results: dict[int, list[float]] = {}

    def worker(i: int) -> None:
        results[i] = b([i, 100 + i]).ravel().tolist()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
        time.sleep(0.002)
    for t in threads:
        t.join()
    assert results == {i: [2 * i, 2 * (100 + i)] for i in range(12)}  # each caller gets its own rows
    assert len(calls) < 12  # some forward passes were shared
    assert b.stats.calls == 12 and b.stats.largest > 1


def test_microbatcher_errors_reach_every_caller_and_it_recovers():
    def fn(items: list[int]) -> np.ndarray:
        time.sleep(0.03)
        if -1 in items:
            raise ValueError("bad item")
        return np.asarray(items, dtype=np.float32).reshape(-1, 1)

    b = MicroBatcher(fn)
    errors: list[BaseException] = []

    def call(x: int) -> None:
        try:
            b([x])
        except ValueError as e:
            errors.append(e)

    threads = [threading.Thread(target=call, args=(x,)) for x in (-1, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors  # the failing batch raised in its callers
    assert b([5]).ravel().tolist() == [5]  # and the batcher is usable afterwards


def test_embed_queries_concurrent_equals_single(embedder):
    texts = [f"query number {i} about protein folding" for i in range(16)]
    embedder.clear_cache()
    single = np.vstack([embedder.embed_queries([t]) for t in texts])
    embedder.clear_cache()
    got: dict[int, np.ndarray] = {}

    def worker(i: int) -> None:
        got[i] = embedder.embed_queries([texts[i]])[0]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    together = np.vstack([got[i] for i in range(len(texts))])
    assert np.min(np.sum(single * together, axis=1)) >= 0.99999
    embedder.clear_cache()


def test_public_api_kept(embedder):
    assert isinstance(embedder, Embedder)
    assert embedder.name and embedder.dimension == 384 and embedder.max_seq_length == 256
    assert embedder.backend == "sentence-transformers" and embedder.precision in ("fp32", "bf16")
    assert embedder.token_offsets("hello world")[0] == (0, 5)
    assert embedder.count_tokens(["hello world"]) == [4]
