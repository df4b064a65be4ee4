"""int8: chosen by the CPU's features (int8 dot products), quantized with NNCF on the shipped calibration
text, cached like the fp32 graph, and close to fp32 - in cosine here, and on SciFact's ranking (opt-in)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from indexer.embedding import load_embedder
from indexer.embedding.cpu import resolve_precision
from indexer.errors import InvalidInput

AVX2 = ["avx2", "fma"]
CORPUS = Path(__file__).resolve().parents[3] / "tests" / "corpus" / "corpus.jsonl"


@pytest.mark.parametrize(("flags", "nncf", "expected"), [
    (AVX2, True, "fp32"),  # this machine: no int8 dot products, int8 would be emulated (slower than fp32)
    # int8 is asked for, never chosen, until SciFact shows it ranks like fp32 (test_int8_ranks_scifact_like_fp32)
    (AVX2 + ["avx_vnni"], True, "fp32"),  # Alder Lake and later, Zen 5
    (AVX2 + ["avx512f", "avx512_vnni"], True, "fp32"),  # Cascade Lake, Ice Lake, Zen 4
    (AVX2 + ["amx_tile", "amx_bf16", "amx_int8"], True, "bf16"),  # Sapphire Rapids
    (AVX2 + ["avx512f", "avx512_vnni", "avx512_bf16"], False, "bf16"),
    (AVX2 + ["avx512f", "avx512_bf16"], True, "bf16"),
])
def test_auto_precision_by_cpu_features(flags, nncf, expected):
    assert resolve_precision("auto", flags=flags, int8_ok=nncf) == expected


def test_explicit_precision_wins_over_the_features():
    vnni = AVX2 + ["avx512f", "avx512_vnni", "amx_int8"]
    assert resolve_precision("fp32", flags=vnni, int8_ok=True) == "fp32"  # exact stays exact
    assert resolve_precision("int8", flags=AVX2, int8_ok=True) == "int8"  # asked for: given (with a warning)
    with pytest.raises(InvalidInput, match=r"semsearch\[int8\]"):
        resolve_precision("int8", flags=vnni, int8_ok=False)  # says what to install
    with pytest.raises(InvalidInput, match="int8"):
        resolve_precision("int4", flags=vnni, int8_ok=True)


def _texts(n: int = 24) -> list[str]:
    texts = ["semsearch", "What does vitamin D do for bone density?"]
    with open(CORPUS, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            texts.append(f"{row['title']} {row['text']}")
            if len(texts) >= n:
                break
    return texts


def test_int8_quantizes_caches_and_stays_close_to_fp32(embedder, tmp_path, monkeypatch):
    pytest.importorskip("nncf")
    import indexer.embedding.quantize as quantize

    monkeypatch.setattr(quantize, "SUBSET", 16)  # a small calibration set keeps the test quick
    cache = tmp_path / "model-cache"
    shutil.copytree(os.environ["SEMSEARCH_MODEL_CACHE"], cache)  # the fp32 graph: no conversion here
    e = load_embedder(precision="int8", model_cache=cache)
    assert e.engine == "openvino" and e.precision == "int8"
    texts = _texts()
    ref = embedder.embed_queries(texts, exact=True)
    bulk = e.embed(texts)
    cos = np.sum(bulk * ref, axis=1)
    assert cos.min() >= 0.95 and cos.mean() >= 0.98, (cos.min(), cos.mean())
    # exact calls stay fp32 whatever the precision
    assert np.min(np.sum(e.embed_queries(texts, exact=True) * ref, axis=1)) >= 0.99999
    # a second load takes the quantized graph from the cache: NNCF is not run again
    monkeypatch.setattr(quantize, "quantize_int8", lambda *a, **k: pytest.fail("quantized again"))
    again = load_embedder(precision="int8", model_cache=cache)
    np.testing.assert_allclose(again.embed(texts), bulk, atol=1e-5)


@pytest.mark.scifact
@pytest.mark.timeout(5400)  # SciFact indexed twice (fp32, then int8): 5,183 abstracts each
def test_int8_ranks_scifact_like_fp32(scifact_dir, tmp_path):
    """nDCG@10 per mode within 0.005 of fp32 (the bar for int8 as a default), on the full SciFact test set."""
    pytest.importorskip("nncf")
    from indexer.evaluation.runner import run_beir
    from indexer.stores.embedded import EmbeddedBackend

    cache = os.environ["SEMSEARCH_MODEL_CACHE"]
    got = {}
    for precision in ("fp32", "int8"):
        e = load_embedder(precision=precision, model_cache=cache)
        assert e.precision == precision
        got[precision] = run_beir(scifact_dir, backend=EmbeddedBackend(tmp_path / precision), embedder=e)
    print(json.dumps({p: {m: r for m, r in v.items()} for p, v in got.items()}))
    for mode in ("dense", "keyword", "hybrid"):
        a, b = got["fp32"][mode]["ndcg@10"], got["int8"][mode]["ndcg@10"]
        assert abs(b - a) <= 0.005, f"{mode}: int8 nDCG@10 {b} vs fp32 {a}"

