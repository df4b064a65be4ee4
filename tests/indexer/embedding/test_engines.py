"""The embedder's fast paths against sentence-transformers, precision selection, and the micro-batcher."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from indexer.embedding import (
    Embedder,
    cpu_has_bf16,
    l2_normalize,
    load_embedder,
    one_core,
    resolve_engine,
    resolve_precision,
    token_budget_batches,
)
from indexer.errors import InvalidInput
from tests.cores import ALL_CORES, every_core

CORPUS = Path(__file__).resolve().parents[3] / "tests" / "corpus" / "corpus.jsonl"  # shipped in the repository


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
    monkeypatch.setattr("indexer.embedding.cpu.cpu_has_bf16", lambda flags=None: False)
    assert resolve_precision("auto") == "fp32"  # the fallback where the CPU lacks bf16
    with pytest.raises(InvalidInput):
        resolve_precision("fp16")
    with pytest.raises(InvalidInput):
        resolve_engine("tensorrt")


def test_fp32_forced_bulk_is_exact(embedder, reference, monkeypatch):
    # The first 12 texts hold every edge case (empty, one letter, Unicode, two cut at 256 tokens) and
    # four passages; the graph comes from the run's cache (the converted graph is precision-free). On a
    # CPU without bf16 the session's model is that fp32 model already: no second load.
    texts, ref = reference[0][:12], reference[1][:12]
    e = embedder if embedder.precision == "fp32" else load_embedder(precision="fp32",
                                                                    model_cache=os.environ["SEMSEARCH_MODEL_CACHE"])
    assert e.precision == "fp32"
    assert np.min(np.sum(e.embed(texts) * ref, axis=1)) >= 0.99999
    assert np.min(np.sum(e.embed_queries(texts) * ref, axis=1)) >= 0.99999
    with one_core():
        lane = l2_normalize(e._encode(texts, batch_size=8, bulk=False))  # the per-core model, fp32
    assert np.min(np.sum(lane * ref, axis=1)) >= 0.99999


def test_token_budget_batches():
    lengths = [5, 256, 10, 256, 7, 100]
    batches = token_budget_batches(lengths, 512, max_rows=4)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert lengths[b[0]] == max(lengths[i] for i in b)  # the first row sets the padded width
        assert len(b) * lengths[b[0]] <= 512 or len(b) == 1
        assert len(b) <= 4
    assert token_budget_batches([1000], 512, max_rows=4) == [[0]]  # over budget still gets its batch


def test_token_budget_batches_keep_padding_low():
    """A text much shorter than its batch's width starts a new batch (padding is arithmetic for nothing),
    unless the batch is still too small to run at full speed."""
    lengths = [200, 190, 100, 95, 20, 19, 18]
    batches = token_budget_batches(lengths, 8192, max_rows=64)
    # 20 joins 100 and 95 (two rows of 100 are under 256 tokens: too small a pass to split off)
    assert batches == [[0, 1], [2, 3, 4], [5, 6]]
    real = sum(lengths)
    padded = sum(len(b) * lengths[b[0]] for b in batches)
    assert padded / real - 1 < 0.25  # packing by budget alone: one batch of 7 x 200, 120% padding


# -- micro-batcher ---------------------------------------------------------------------------------------
def test_exact_queries_are_the_models_fp32_vectors(embedder, reference):
    texts, ref = reference
    exact = embedder.embed_queries(texts, exact=True)
    assert np.min(np.sum(exact * ref, axis=1)) >= 0.99999
    np.testing.assert_allclose(exact, ref, atol=2e-5)
    assert len(embedder.embed_queries([], exact=True)) == 0


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


def test_one_core_is_scoped_to_its_block_and_thread():
    from indexer.embedding.cpu import on_one_core

    seen: list[bool] = []
    with one_core():
        assert on_one_core()
        with one_core(False):
            assert not on_one_core()
        assert on_one_core()
        t = threading.Thread(target=lambda: seen.append(on_one_core()))  # another thread: its own setting
        t.start()
        t.join()
    assert not on_one_core() and seen == [False]


def test_one_core_runs_on_the_per_core_model():
    """Inside ``one_core`` the OpenVINO engine uses its one-stream-per-core model; outside, the latency one."""
    if len(ALL_CORES) < 2:
        pytest.skip("needs more than one core")
    with every_core():  # a test worker runs on one core; this engine is built for the whole machine
        embedder = load_embedder(model_cache=os.environ["SEMSEARCH_MODEL_CACHE"])
        model = getattr(embedder, "engine_model", None)
        if embedder.engine != "openvino" or model is None or model.shared is None:
            pytest.skip("needs the OpenVINO engine")  # the engine CI and this machine run
        before = model._requests["shared"].qsize()
        embedder.embed_queries(["a query that runs on every core"])
        assert model._requests["shared"].qsize() == before
        with one_core():
            embedder.embed_queries(["a query that keeps to one core"])
        assert model._requests["shared"].qsize() == before + (1 if before == 0 else 0)
