"""The int8 graph: static post-training quantization of the fp32 OpenVINO graph with NNCF, calibrated
on :data:`CALIBRATION` - text this package ships (never an evaluation set).

Static quantization fixes each activation's int8 scale from the ranges seen on the calibration text,
so a forward pass runs its matmuls as int8 dot products: on a CPU with VNNI (AVX512-VNNI, AVX-VNNI)
or AMX int8 that is where the next 2x is. On a CPU without them (AVX2 only) OpenVINO emulates the dot
products and int8 is slower than fp32, which is why ``auto`` never picks it there
(:func:`~indexer.embedding.cpu.resolve_precision`). NNCF is the library made for this (OpenVINO's own
quantizer); it is the optional extra ``semsearch[int8]``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

CALIBRATION = Path(__file__).with_name("calibration.txt")
#: passages NNCF sees (the file holds 200; more changes nothing measurable, fewer than ~100 loosens the ranges)
SUBSET = 200


def calibration_texts(path: Path = CALIBRATION) -> list[str]:
    """The calibration passages: one a line, ``#`` lines are comments."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [ln for ln in lines if ln.strip() and not ln.startswith("#")]


def quantize_int8(graph: Any, tokenizer: Any, texts: Sequence[str], *, subset: int | None = None) -> Any:
    """The int8 ``ov.Model`` of fp32 ``graph``: NNCF's transformer preset calibrated on ``texts``, each
    fed alone (``tokenizer``: the embedder's, truncating at the window), so no range is set by padding.

    Raises :class:`ImportError` naming the extra when NNCF is missing."""
    try:
        import nncf
    except ImportError as e:
        raise ImportError("precision int8 needs NNCF: pip install 'semsearch[int8]' (or use "
                          "SEMSEARCH_PRECISION=auto)") from e
    subset = subset or SUBSET
    nncf_log = logging.getLogger("nncf")
    level = nncf_log.level
    nncf_log.setLevel(logging.ERROR)  # its progress bars and notes mean nothing to a user of ours
    try:
        def item(text: str) -> dict[str, np.ndarray]:
            ids = np.asarray([tokenizer.encode(text).ids], dtype=np.int64)  # (1, T)
            return {"input_ids": ids, "attention_mask": np.ones_like(ids)}

        data = nncf.Dataset(list(texts[:subset]), item)
        return nncf.quantize(graph, data, model_type=nncf.ModelType.TRANSFORMER,
                             subset_size=min(subset, len(texts)))
    finally:
        nncf_log.setLevel(level)
