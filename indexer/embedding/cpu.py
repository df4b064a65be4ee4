"""What the CPU offers (SIMD features, cores) and the precision it decides: bf16 where it is native."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from indexer.errors import InvalidInput

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16")

_ONE_CORE: ContextVar[bool] = ContextVar("semsearch_one_core", default=False)


@contextmanager
def one_core(on: bool = True) -> Iterator[None]:
    """Inside this block, forward passes of this thread stay on one core (``on=False``: every core).

    The caller runs other work beside them - a server's search lanes, each batch on a core of its own -
    and says so once, where it knows, instead of passing a flag down every embedding call. Engines
    that cannot pin a call to one core ignore it."""
    token = _ONE_CORE.set(on)
    try:
        yield
    finally:
        _ONE_CORE.reset(token)


def on_one_core() -> bool:
    """True inside :func:`one_core`."""
    return _ONE_CORE.get()

CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def cpu_features() -> dict[str, Any]:
    """The CPU model and the SIMD features that decide the fast paths (for logs and the benchmark)."""
    try:
        info = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        info = ""
    flags: set[str] = set()
    model = ""
    for line in info.splitlines():
        if line.startswith("flags") and not flags:
            flags = set(line.split(":", 1)[1].split())
        elif line.startswith("model name") and not model:
            model = line.split(":", 1)[1].strip()
    return {"model": model, "cores": os.cpu_count(), "flags": [f for f in CPU_FLAGS if f in flags]}


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX); emulated bf16 is slower than fp32."""
    return any(f in ("avx512_bf16", "amx_bf16") for f in cpu_features()["flags"])


def resolve_precision(precision: str = "auto", *, quiet: bool = False) -> str:
    """``auto`` -> ``bf16`` where the CPU has native bf16, else ``fp32`` (with a log line, unless ``quiet``:
    the embedding cache asks too, and the model's load says it once)."""
    precision = precision.strip().lower() or "auto"
    if precision not in PRECISIONS:
        raise InvalidInput(f"precision must be auto, fp32 or bf16, not {precision!r} (SEMSEARCH_PRECISION)",
                           field="precision")
    if precision == "auto":
        if cpu_has_bf16():
            return "bf16"
        if not quiet:
            log.info("CPU has no native bf16 (AVX512-BF16/AMX): bulk embedding runs in fp32")
        return "fp32"
    if precision == "bf16" and not cpu_has_bf16() and not quiet:
        log.warning("precision bf16 forced on a CPU without native bf16: it is emulated and likely slower than fp32")
    return precision


def cpu_count() -> int:
    """Cores this process may run on (its affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)
