"""The CPU's arithmetic limit and how much of it a forward pass uses: the FLOPs of the model's forward
pass from its shapes, the CPU's peak for a precision, and the fraction of it a run achieved.

FLOPs count a multiply-add as two. A BERT encoder layer over one sequence of ``T`` real tokens:

- Q, K, V and output projections: 4 matmuls of (T, H) x (H, H)   -> 8 T H^2
- feed-forward: (T, H) x (H, I) then (T, I) x (I, H)             -> 4 T H I
- attention scores Q K^T and the weighted sum of V, over every head -> 4 T^2 H (the quadratic term)

LayerNorm, softmax, GELU, the embeddings and the pooling are elementwise (a few FLOPs per value, not
H per value) and left out: for MiniLM-L6 at 89 tokens they are under 1% of the count.

The peak: a one-second fp32 matmul (NumPy's OpenBLAS sgemm, every core) measures what the CPU
achieves on the friendliest arithmetic there is, at its real clock and under the machine's real
load - a nominal clock from /proc/cpuinfo says neither (boost, throttling, other tenants). So the
fraction of peak is the forward pass against the best this CPU does at that moment. The figure from
the features (FLOPs per cycle per core x cores x the clock /proc/cpuinfo reports) is printed beside
it, as the ceiling no code reaches. bf16 is measured the same way with torch's bf16 matmul (oneDNN;
AMX or AVX512-BF16 where present); int8 has no portable one-second measurement here (torch's int8
matmul on CPU is a reference kernel), so its peak is the features' figure alone."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ModelShape:
    layers: int  # encoder layers (num_hidden_layers)
    hidden: int  # H, the width of every token's vector (hidden_size)
    heads: int  # attention heads (num_attention_heads); the FLOPs do not depend on it, the report names it
    intermediate: int  # I, the feed-forward's inner width (intermediate_size)

    @classmethod
    def from_config(cls, model_dir: Path) -> ModelShape:
        """The shapes from the model folder's ``config.json`` (BERT names; DistilBERT's as fallback)."""
        c = json.loads((Path(model_dir) / "config.json").read_text())
        return cls(layers=int(c.get("num_hidden_layers", c.get("n_layers", 0))),
                   hidden=int(c.get("hidden_size", c.get("dim", 0))),
                   heads=int(c.get("num_attention_heads", c.get("n_heads", 0))),
                   intermediate=int(c.get("intermediate_size", c.get("hidden_dim", 0))))


def forward_flops(shape: ModelShape, lengths: Iterable[int]) -> float:
    """FLOPs of the encoder over sequences of these real token counts (padding is not useful work)."""
    h, i = shape.hidden, shape.intermediate
    total = 0.0
    for t in lengths:
        total += t * (8 * h * h + 4 * h * i) + 4 * t * t * h
    return shape.layers * total


#: FLOPs per cycle per core by precision and the instruction that does the arithmetic: two FMA ports,
#: a fused multiply-add counting 2 (fp32 on AVX2: 2 ports x 8 lanes x 2). Order matters: the first
#: flag the CPU has wins.
PER_CYCLE: dict[str, tuple[tuple[str, int], ...]] = {
    "fp32": (("avx512f", 64), ("fma", 32), ("avx2", 16)),
    "bf16": (("amx_bf16", 1024), ("avx512_bf16", 128), ("avx512f", 64), ("fma", 32)),  # else emulated: fp32's
    "int8": (("amx_int8", 2048), ("avx512_vnni", 256), ("avx_vnni", 128), ("fma", 32)),  # else: fp32's, no gain
}


def cpu_mhz() -> float:
    """The clock /proc/cpuinfo reports for the first core (0 where it is missing)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("cpu MHz"):
                return float(line.split(":", 1)[1])
    except (OSError, ValueError):
        pass
    return 0.0


def theoretical_peak_gflops(precision: str, flags: Sequence[str], cores: int, mhz: float) -> tuple[float, str]:
    """(GFLOP/s, the flag it rests on) for ``precision`` from the CPU's features, cores and clock."""
    for flag, per_cycle in PER_CYCLE.get(precision, PER_CYCLE["fp32"]):
        if flag in flags:
            return per_cycle * cores * mhz / 1000.0, flag
    return 8.0 * cores * mhz / 1000.0, "sse"


def measure_peak_gflops(precision: str = "fp32", *, seconds: float = 1.0, n: int = 1024) -> float | None:
    """GFLOP/s of ``n x n`` matmuls on every core for about ``seconds`` (the best of them); None for int8."""
    if precision == "int8":
        return None
    if precision == "bf16":
        import torch

        ta = torch.randn(n, n).to(torch.bfloat16)

        def mm() -> None:
            torch.matmul(ta, ta)
    else:
        a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)

        def mm() -> None:
            np.matmul(a, a)
    mm()  # warm the threads and the caches
    best = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        mm()
        best = max(best, 2.0 * n**3 / (time.perf_counter() - t0) / 1e9)
    return best


def peak_report(precision: str, cpu: dict[str, Any], *, seconds: float = 1.0) -> dict[str, Any]:
    """The peak the fraction is taken against (measured where possible) and the features' ceiling."""
    mhz = cpu_mhz()
    cores = int(cpu.get("cores") or 1)
    ceiling, flag = theoretical_peak_gflops(precision, cpu.get("flags", []), cores, mhz)
    measured = measure_peak_gflops(precision, seconds=seconds)
    return {"precision": precision, "measured_gflops": round(measured, 1) if measured else None,
            "theoretical_gflops": round(ceiling, 1), "theoretical_from": f"{flag}, {cores} cores x {mhz:.0f} MHz",
            "peak_gflops": round(measured or ceiling, 1),
            "peak_source": "fp32 sgemm, every core, 1 s" if precision == "fp32" and measured
            else "bf16 matmul, every core, 1 s" if measured else "features x cores x clock"}


def achieved(shape: ModelShape, lengths: Sequence[int], seconds: float, peak_gflops: float) -> dict[str, float]:
    """GFLOP/s of the useful work (real tokens) done in ``seconds``, and its fraction of ``peak_gflops``."""
    flops = forward_flops(shape, lengths)
    gflops = flops / seconds / 1e9 if seconds > 0 else 0.0
    return {"gflop": round(flops / 1e9, 3), "gflops": round(gflops, 1),
            "fraction_of_peak": round(gflops / peak_gflops, 3) if peak_gflops else 0.0}
