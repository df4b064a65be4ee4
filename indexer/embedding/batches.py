"""Token-budget batching: texts sorted by length and packed so little padding is computed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

WIDTH_STEP = 8  # bulk batches pad their width to a multiple of this (fewer shapes to compile)
#: a text under this share of its batch's width starts a new batch (once the batch holds MIN_TOKENS)
FILL = 0.9
#: a batch smaller than this many padded tokens takes the next text whatever its length: below it a
#: forward pass's matmuls are too small to run at full speed
MIN_TOKENS = 256


def token_budget_batches(lengths: Sequence[int], budget: int, *, max_rows: int, fill: float = FILL
                         ) -> list[list[int]]:
    """Indices grouped into batches, longest first, each padded width x rows <= ``budget`` tokens
    (and <= ``max_rows`` rows; a text longer than the budget still gets a batch of its own). A text
    shorter than ``fill`` x the batch's width starts a new one, once the batch holds
    :data:`MIN_TOKENS`: padding is arithmetic done for nothing. Measured on the bench's 512 chunks
    (5-256 tokens): padded tokens 40% over the real ones with packing by budget alone, 9% with
    ``fill`` 0.9 and a width step of 8 (16 gave 14%)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    at = 0
    while at < len(order):
        width = max(1, lengths[order[at]])
        n = max(1, min(max_rows, budget // width))
        end = at + 1
        while end < len(order) and end - at < n and (
                lengths[order[end]] >= fill * width or (end - at) * width < MIN_TOKENS):
            end += 1
        batches.append(order[at:end])
        at = end
    return batches


def padded_batches(ids_list: Sequence[Sequence[int]], budget: int, *, max_rows: int, window: int | None = None
                   ) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
    """The :func:`token_budget_batches` of ``ids_list`` as (rows, token ids, attention mask), zero-padded
    to the batch's longest text. With ``window`` (bulk), the width is rounded up to a multiple of
    :data:`WIDTH_STEP`, at most ``window``: few distinct shapes, so compiled kernels are reused."""
    for rows in token_budget_batches([len(i) for i in ids_list], budget, max_rows=max_rows):
        width = len(ids_list[rows[0]])
        if window is not None:
            width = min(window, -(-width // WIDTH_STEP) * WIDTH_STEP)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for r, i in enumerate(rows):
            ids[r, : len(ids_list[i])] = ids_list[i]
            mask[r, : len(ids_list[i])] = 1
        yield rows, ids, mask


@dataclass
class BatchProfile:
    """Where the time of :meth:`Embedder.embed` calls goes, batch by batch, filled while an embedder's
    ``profile`` is set (the benchmark sets it; two clock reads per batch cost nothing measurable).

    ``lengths``: the real token count of every row; ``padded``: rows x width summed over the batches;
    ``forward_s``: the forward passes alone; ``tokenize_s``: the tokenizer; ``total_s``: the whole calls,
    so what is in neither - batching, copies, normalization, Python - is ``total_s - forward_s - tokenize_s``."""

    lengths: list[int] = field(default_factory=list)
    runs: int = 0  # embed calls
    padded: int = 0
    batches: int = 0
    forward_s: float = 0.0
    tokenize_s: float = 0.0
    total_s: float = 0.0

    def shares(self) -> dict[str, float]:
        """Padding (padded tokens / real tokens - 1), and tokenization, forward and the rest as shares of the time."""
        real = sum(self.lengths)
        other = max(0.0, self.total_s - self.forward_s - self.tokenize_s)
        t = self.total_s or 1.0
        return {"padding_share": round(self.padded / real - 1, 4) if real else 0.0,
                "tokenize_share": round(self.tokenize_s / t, 4), "forward_share": round(self.forward_s / t, 4),
                "python_share": round(other / t, 4)}


def forward_passes(lengths: Sequence[int], size: int) -> list[list[int]]:
    """Indices of a batch's chunks (by token count) grouped into forward passes: longest first, at most
    ``size`` per pass, and a new pass once a chunk is under half the pass's longest, so no row is padded
    to more than twice its length. Without that last rule a small batch (a few seconds of work when
    committing by time) is one pass padded to its longest chunk: measured on the shipped corpus's
    passages (5-502 tokens) in batches of 30, 2.2x the time of batches of 256; with it, the same time
    (``benchmarks/commit_by_time.py``)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    passes: list[list[int]] = []
    for i in order:
        if passes and len(passes[-1]) < size and 2 * lengths[i] >= lengths[passes[-1][0]]:
            passes[-1].append(i)
        else:
            passes.append([i])
    return passes
