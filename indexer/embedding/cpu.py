"""What the CPU offers (SIMD features, cores) and the precision it decides: int8 where it has int8 dot
products, else bf16 where that is native, else fp32."""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from indexer.errors import InvalidInput

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16", "int8")
#: the features that compute int8 dot products natively (without them int8 is emulated: slower than fp32)
INT8_DOT = ("avx512_vnni", "avx_vnni", "amx_int8")
BF16_NATIVE = ("avx512_bf16", "amx_bf16")

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

CPU_FLAGS = ("avx2", "fma", "avx512f", "avx_vnni", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


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


def cpu_has_bf16(flags: Iterable[str] | None = None) -> bool:
    """True when the CPU (or these ``flags``) computes bf16 natively (AVX512-BF16 or AMX); emulated bf16
    is slower than fp32."""
    have = set(cpu_features()["flags"] if flags is None else flags)
    return any(f in have for f in BF16_NATIVE)


def cpu_has_int8_dot(flags: Iterable[str] | None = None) -> bool:
    """True when the CPU (or these ``flags``) has int8 dot-product instructions (AVX512-VNNI, AVX-VNNI,
    AMX int8). Measured on an AMD EPYC with AVX2 only: static int8 runs at 0.84x of fp32 there."""
    have = set(cpu_features()["flags"] if flags is None else flags)
    return any(f in have for f in INT8_DOT)


def int8_available() -> bool:
    """True when NNCF (the ``int8`` extra), which quantizes the graph, is installed."""
    return importlib.util.find_spec("nncf") is not None


def resolve_precision(precision: str = "auto", *, flags: Iterable[str] | None = None,
                      int8_ok: bool | None = None, quiet: bool = False) -> str:
    """``auto`` -> ``bf16`` where the CPU has native bf16, else ``fp32`` (with a log line). ``int8`` is asked
    for, never chosen: it becomes ``auto``'s choice on CPUs with int8 dot products only once SciFact shows
    its nDCG@10 within 0.005 of fp32 in every mode (``test_int8_ranks_scifact_like_fp32``, opt-in; not
    yet run to the end on a machine here). ``flags``: the CPU features to decide by
    (default: this CPU's); ``int8_ok``: whether NNCF is there (default: looked up). ``quiet``: no log
    line (the embedding cache asks too, and the model's load says it once)."""
    precision = precision.strip().lower() or "auto"
    if precision not in PRECISIONS:
        raise InvalidInput(f"precision must be auto, fp32, bf16 or int8, not {precision!r} (SEMSEARCH_PRECISION)",
                           field="precision")
    flags = list(cpu_features()["flags"] if flags is None else flags)
    if precision == "auto":
        if cpu_has_bf16(flags):
            return "bf16"
        if not quiet:
            log.info("CPU has no native bf16 (AVX512-BF16/AMX): bulk embedding runs in fp32")
        return "fp32"
    if precision == "int8":
        if not (int8_available() if int8_ok is None else int8_ok):
            raise InvalidInput("precision int8 needs NNCF, which quantizes the model: pip install 'semsearch[int8]', "
                               "or set SEMSEARCH_PRECISION=auto", field="precision")
        if not cpu_has_int8_dot(flags):
            log.warning("precision int8 forced on a CPU without int8 dot products (VNNI/AMX): it is emulated "
                        "and likely slower than fp32")
    if precision == "bf16" and not cpu_has_bf16(flags):
        log.warning("precision bf16 forced on a CPU without native bf16: it is emulated and likely slower than fp32")
    return precision


def cpu_count() -> int:
    """Cores this process may run on (its affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)
