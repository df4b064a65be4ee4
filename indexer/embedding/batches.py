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
