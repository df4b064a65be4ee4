"""The embedder's fast paths against sentence-transformers, precision selection, and the micro-batcher."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from indexer.batching import MicroBatcher
from indexer.embedding import (
    Embedder,
    cpu_has_bf16,
    l2_normalize,
    load_embedder,
    resolve_engine,
    resolve_precision,
    token_budget_batches,
)
from indexer.errors import InvalidInput

CORPUS = Path(__file__).resolve().parents[2] / "bench" / "corpus" / "corpus.jsonl"  # shipped in the repository


def _texts() -> list[str]:
    texts = ["", "a", "semsearch", "What does vitamin D do for bone density?",
             "Ünïcödé naïve café — “quotes” and emoji 🙂", "tabs\tand\nnewlines  here", "x " * 600,
             "The quick brown fox jumps over the lazy dog. " * 40]
    with open(CORPUS, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            texts.append(f"{row['title']} {row['text']}")
            if len(texts) >= 30:
                break
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
    # queries run at the embedder's precision too: exact in fp32, within the fidelity bar in bf16
    assert np.min(np.sum(queries * ref, axis=1)) >= (0.99999 if embedder.precision == "fp32" else 0.9999)
    np.testing.assert_allclose(np.linalg.norm(bulk, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("engine", ["torch", "encode"])
def test_other_engines_match(engine, reference):
    texts, ref = reference
    e = load_embedder(engine=engine, precision="fp32")
    assert e.engine == engine and e.precision == "fp32"
    assert np.min(np.sum(e.embed(texts[:12]) * ref[:12], axis=1)) >= 0.99999
    assert np.min(np.sum(e.embed_queries(texts[:12]) * ref[:12], axis=1)) >= 0.99999


def test_precision_selection(monkeypatch):
    assert resolve_precision("fp32") == "fp32"
    assert resolve_precision("auto") == ("bf16" if cpu_has_bf16() else "fp32")
    monkeypatch.setenv("SEMSEARCH_PRECISION", "fp32")  # the library reads no environment: the argument wins
    assert resolve_precision("auto") == ("bf16" if cpu_has_bf16() else "fp32")
    monkeypatch.setattr("indexer.embedding.cpu.cpu_has_bf16", lambda: False)
    assert resolve_precision("auto") == "fp32"  # the fallback where the CPU lacks bf16
    with pytest.raises(InvalidInput):
        resolve_precision("fp16")
    with pytest.raises(InvalidInput):
        resolve_engine("tensorrt")


def test_fp32_forced_bulk_is_exact(reference, monkeypatch):
    texts, ref = reference
    e = load_embedder(precision="fp32")
    assert e.precision == "fp32"
    assert np.min(np.sum(e.embed(texts) * ref, axis=1)) >= 0.99999
    assert np.min(np.sum(e.embed_queries(texts) * ref, axis=1)) >= 0.99999
    shared = l2_normalize(e._encode(texts, batch_size=8, bulk=False, shared=True))  # the per-core model, fp32
    assert np.min(np.sum(shared * ref, axis=1)) >= 0.99999


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
    def fn(items: list[int], shared: bool = False) -> np.ndarray:
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
    def fn(items: list[int], shared: bool) -> np.ndarray:
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


def test_exact_queries_are_the_models_fp32_vectors(embedder, reference):
    texts, ref = reference
    exact = embedder.embed_queries(texts, exact=True)
    assert np.min(np.sum(exact * ref, axis=1)) >= 0.99999
    np.testing.assert_allclose(exact, ref, atol=2e-5)
    assert len(embedder.embed_queries([], exact=True)) == 0


class _Overlap:
    """A batch function that records how many batches ran at once and the ``shared`` flag of each."""

    def __init__(self, delay: float) -> None:
        self.delay, self.active, self.peak = delay, 0, 0
        self.flags: list[bool] = []
        self.guard = threading.Lock()

    def __call__(self, items: list[int], shared: bool) -> np.ndarray:
        with self.guard:
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.flags.append(shared)
        time.sleep(self.delay)
        with self.guard:
            self.active -= 1
        return np.asarray(items, dtype=np.float32).reshape(-1, 1) + 1


def _staggered_calls(b: MicroBatcher, n: int) -> dict[int, list[float]]:
    results: dict[int, list[float]] = {}

    def worker(i: int) -> None:
        results[i] = b([i]).ravel().tolist()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
        time.sleep(0.003)
    for t in threads:
        t.join()
    return results


def test_microbatcher_lanes_run_side_by_side_and_say_so():
    """With two lanes, two concurrent batches overlap in time and both are told they are shared; a
    lone call afterwards is not (no lane leaks), and every caller still gets its own rows."""
    fn = _Overlap(0.05)
    b = MicroBatcher(fn, lanes=2)
    assert _staggered_calls(b, 10) == {i: [i + 1.0] for i in range(10)}
    assert fn.peak == 2  # two batches at once, never more
    assert b.stats.batches < 10 and b.stats.shared >= 2
    fn.flags.clear()
    assert b([7]).ravel().tolist() == [8.0] and fn.flags == [False]  # alone again: both lanes were returned


def test_microbatcher_busy_caller_runs_on_one_core():
    """A lone call is spread over every core unless its caller says other work is in flight."""
    fn = _Overlap(0.0)
    b = MicroBatcher(fn, lanes=2)
    b([1])
    b([2], busy=True)
    assert fn.flags == [False, True]
    assert b.stats.shared == 1


def test_microbatcher_one_lane_never_overlaps():
    fn = _Overlap(0.02)
    b = MicroBatcher(fn, lanes=1)
    assert _staggered_calls(b, 8) == {i: [i + 1.0] for i in range(8)}
    assert fn.peak == 1 and b.stats.calls == 8


def test_embedder_uses_a_lane_per_core_for_shared_batches(embedder):
    import os

    from indexer.embedding import cpu_count

    if embedder.engine == "openvino":
        assert embedder._query_batcher.lanes == cpu_count() == len(os.sched_getaffinity(0))
    else:
        assert embedder._query_batcher.lanes == 1  # torch's threads are process-wide: one batch at a time


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
    # alone and shared passes may run on different compiled models: equal to the fidelity bar
    assert np.min(np.sum(single * together, axis=1)) >= (0.99999 if embedder.precision == "fp32" else 0.9999)
    embedder.clear_cache()


def test_public_api_kept(embedder):
    assert isinstance(embedder, Embedder)
    assert embedder.name and embedder.dimension == 384 and embedder.max_seq_length == 256
    assert embedder.backend == "sentence-transformers" and embedder.precision in ("fp32", "bf16")
    assert embedder.token_offsets("hello world")[0] == (0, 5)
    assert embedder.count_tokens(["hello world"]) == [4]
