"""Token-budget batching: texts sorted by length and packed so little padding is computed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

WIDTH_STEP = 16  # bulk batches pad their width to a multiple of this (fewer shapes to compile)


def token_budget_batches(lengths: Sequence[int], budget: int, *, max_rows: int) -> list[list[int]]:
    """Indices grouped into batches, longest first, each padded width x rows <= ``budget`` tokens
    (and <= ``max_rows`` rows; a text longer than the budget still gets a batch of its own)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    at = 0
    while at < len(order):
        width = max(1, lengths[order[at]])
        n = max(1, min(max_rows, budget // width))
        batches.append(order[at : at + n])
        at += n
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
