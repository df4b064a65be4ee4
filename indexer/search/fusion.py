"""Fusion: one ranking out of the dense and keyword ones (relative score fusion or RRF)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from indexer.errors import InvalidInput

FUSIONS: tuple[str, ...] = ("relative", "rrf")


def min_max(scores: Sequence[float]) -> list[float]:
    """Scores mapped linearly to [0, 1]: the best -> 1, the worst -> 0; all equal -> all 1."""
    if not scores:
        return []
    lo, hi = min(scores), max(scores)
    if hi <= lo:
        return [1.0] * len(scores)
    return [(s - lo) / (hi - lo) for s in scores]


def fuse(rankings: dict[str, list[tuple[int, float, int]]], weights: dict[str, float], rrf_k: int = 60, *,
         method: str = "relative") -> list[tuple[int, float, int, dict[str, Any]]]:
    """Fuse per-mode rankings of sources (best first) into one.

    ``relative``: ``sum_m w_m * minmax_m(score) / sum_m w_m``, a source absent from a ranking counting 0
    there. ``rrf``: ``sum_m w_m / (rrf_k + rank_m)``. Returns (source_id, fused score, best chunk,
    per-mode detail ``{mode: {"rank", "score"[, "normalized"]}}``), best first, ties by source id.
    """
    if method not in FUSIONS:
        raise InvalidInput(f"fusion must be one of {', '.join(FUSIONS)}, not {method!r}", field="fusion")
    for mode, w in weights.items():
        if mode in rankings and not (w >= 0 and np.isfinite(w)):
            raise InvalidInput(f"{mode}_weight must be a finite number >= 0, not {w!r}", field=f"{mode}_weight")
    total_weight = sum(weights[mode] for mode in rankings) or 1.0
    fused: dict[int, float] = {}
    detail: dict[int, dict[str, Any]] = {}
    chunk_of: dict[int, int] = {}
    for mode, ranking in rankings.items():
        norm = min_max([score for _, score, _ in ranking]) if method == "relative" else []
        for rank, (sid, score, cid) in enumerate(ranking, start=1):
            if method == "relative":
                part = weights[mode] * norm[rank - 1] / total_weight
                detail.setdefault(sid, {})[mode] = {"rank": rank, "score": score, "normalized": norm[rank - 1]}
            else:
                part = weights[mode] / (rrf_k + rank)
                detail.setdefault(sid, {})[mode] = {"rank": rank, "score": score}
            fused[sid] = fused.get(sid, 0.0) + part
            chunk_of.setdefault(sid, cid)  # dense is fused first: its best chunk wins ties of passage
    return sorted(((sid, sc, chunk_of[sid], detail[sid]) for sid, sc in fused.items()),
                  key=lambda t: (-t[1], t[0]))

