"""benchmarks/bf16_spread.py: its torch emulation is the model in fp32, and its draws are bf16-sized
roundings that fall elsewhere (the spread it reports depends on both)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from indexer.embedding import l2_normalize

torch = pytest.importorskip("torch")

TEXTS = ["Vitamin D deficiency is linked to lower bone density in older adults.",
         "The spike protein binds the ACE2 receptor.", "semsearch", "x " * 300]


@pytest.fixture(scope="module")
def spread():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bf16_spread.py"
    spec = importlib.util.spec_from_file_location("bf16_spread", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_rounder_rounds_to_bf16_at_a_scale_drawn_per_tensor(spread):
    t = torch.randn(4096) * 3
    plain = spread.rounder(0)("w", t)
    assert torch.equal(plain, t.to(torch.bfloat16).to(torch.float32))
    draw = spread.rounder(1)
    a, again, other = draw("w", t), draw("w", t), draw("x", t)
    assert torch.equal(a, again)  # one scale per name
    assert not torch.equal(a, plain) and not torch.equal(a, other)
    rel = [float(((r - t).abs() / t.abs()).mean()) for r in (plain, a, other)]
    assert max(rel) < 2 * min(rel)  # errors of bf16's size, not larger


def _vectors(spread, emulated, batches, rnd, n):
    layers = emulated.weights(rnd)
    out = np.empty((n, 384), dtype=np.float32)
    with torch.inference_mode():
        for rows, ids, mask in batches:
            out[rows] = emulated(torch.from_numpy(ids), torch.from_numpy(mask), layers, rnd).numpy()
    return l2_normalize(out)


def test_emulation_is_the_model_and_draws_err_like_bf16(spread, embedder):
    emulated = spread.EmulatedBert(embedder.model[0].auto_model.eval())
    batches = spread._batches([e.ids for e in embedder._embed_tokenizer.encode_batch(TEXTS)],
                              embedder.max_seq_length)
    ref = embedder.embed_queries(TEXTS, exact=True)
    fp32 = _vectors(spread, emulated, batches, None, len(TEXTS))
    assert np.min(np.sum(fp32 * ref, axis=1)) > 0.99999
    errors = []
    for seed in (0, 1, 2):
        got = _vectors(spread, emulated, batches, spread.rounder(seed), len(TEXTS))
        errors.append(float(np.mean(1 - np.sum(got * ref, axis=1))))
    assert all(1e-7 < e < 1e-4 for e in errors), errors  # rounded, and by bf16's amount
    assert len(set(errors)) == 3  # each draw rounds differently
