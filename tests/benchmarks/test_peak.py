"""The bench's arithmetic: a forward pass's FLOPs from the model's shapes, the CPU's peak by precision
and features, and the report fields a run prints against them."""

from __future__ import annotations

import pytest

from benchmarks.suite import BenchConfig, run_bench, table_rows
from benchmarks.suite.peak import ModelShape, achieved, forward_flops, peak_report, theoretical_peak_gflops


def test_forward_flops_match_a_hand_count():
    # 2 layers, H 4, 2 heads, I 8, one sequence of 3 tokens; a multiply-add counts 2
    shape = ModelShape(layers=2, hidden=4, heads=2, intermediate=8)
    t, h, i = 3, 4, 8
    projections = 4 * (2 * t * h * h)  # Q, K, V, output: (3, 4) x (4, 4) each = 384
    feed_forward = 2 * t * h * i + 2 * t * i * h  # (3, 4) x (4, 8), then (3, 8) x (8, 4) = 384
    scores = 2 * (2 * t * t * (h // 2))  # per head (3, 2) x (2, 3), 2 heads = 72
    mix = 2 * (2 * t * t * (h // 2))  # per head (3, 3) x (3, 2) = 72
    assert forward_flops(shape, [t]) == 2 * (projections + feed_forward + scores + mix) == 1824
    assert forward_flops(shape, [3, 3]) == 2 * 1824  # sequences add up
    assert forward_flops(shape, []) == 0


def test_the_bundled_models_shape_and_flops_per_token(embedder):
    shape = ModelShape.from_config(embedder.path)
    assert shape == ModelShape(layers=6, hidden=384, heads=12, intermediate=1536)
    per_token = forward_flops(shape, [89]) / 89  # the shipped corpus's mean chunk: ~22 MFLOP a token
    assert 21e6 < per_token < 23e6


@pytest.mark.parametrize(("precision", "flags", "expected", "flag"), [
    ("fp32", ["avx2", "fma"], 2 * 32 * 2.0, "fma"),  # this machine: 2 FMA ports x 8 fp32 lanes x 2
    ("fp32", ["avx2", "fma", "avx512f"], 2 * 64 * 2.0, "avx512f"),
    ("int8", ["avx2", "fma"], 2 * 32 * 2.0, "fma"),  # no int8 dot products: no more than fp32
    ("int8", ["avx2", "fma", "avx_vnni"], 2 * 128 * 2.0, "avx_vnni"),
    ("int8", ["avx512f", "avx512_vnni", "amx_int8"], 2 * 2048 * 2.0, "amx_int8"),
    ("bf16", ["avx2", "fma"], 2 * 32 * 2.0, "fma"),  # emulated
    ("bf16", ["avx512f", "avx512_bf16"], 2 * 128 * 2.0, "avx512_bf16"),
])
def test_theoretical_peak_by_features(precision, flags, expected, flag):
    assert theoretical_peak_gflops(precision, flags, 2, 2000.0) == (pytest.approx(expected), flag)


def test_peak_report_and_fraction():
    rep = peak_report("fp32", {"cores": 2, "flags": ["avx2", "fma"]}, seconds=0.05)
    assert rep["measured_gflops"] > 0 and rep["peak_gflops"] == rep["measured_gflops"]
    assert "sgemm" in rep["peak_source"] and "fma" in rep["theoretical_from"]
    int8 = peak_report("int8", {"cores": 2, "flags": ["avx2", "fma", "avx_vnni"]}, seconds=0.05)
    assert int8["measured_gflops"] is None and int8["peak_gflops"] == int8["theoretical_gflops"]
    a = achieved(ModelShape(2, 4, 2, 8), [3] * 100_000, 0.5, peak_gflops=0.729)  # 0.1824 GFLOP in 0.5 s
    assert a == {"gflop": 0.182, "gflops": 0.4, "fraction_of_peak": 0.5}


def test_a_run_reports_its_fraction_of_peak_and_batch_profile(embedder):
    cfg = BenchConfig.make(quick=True, embed_chunks=8, repeats=1, sections=("embed",))
    result = run_bench(cfg, embedder)
    lim = result.sections["embed"]["limit"]
    assert lim["precision"] == embedder.precision and lim["model_shape"]["layers"] == 6
    assert lim["gflops"] > 0 and 0 < lim["fraction_of_peak"] and lim["peak_gflops"] > 0
    assert lim["real_tokens"] > 0 and lim["padded_tokens"] >= lim["real_tokens"] and lim["batches"] >= 1
    for key in ("padding_share", "tokenize_share", "python_share", "forward_share"):
        assert 0 <= lim[key] <= 1, key
    assert 0.9 < lim["forward_share"] + lim["tokenize_share"] + lim["python_share"] < 1.0001
    assert any(r[0].startswith("fraction of") for r in table_rows(result))
