"""Repeated measurements: median/min/max, ratio of medians, A/B alternation, targets met."""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from benchmarks.suite.config import TARGETS

log = logging.getLogger(__name__)


def summarize(values: Sequence[float]) -> dict[str, float]:
    """median / min / max / n of repeated measurements (rounded for printing, not for comparing)."""
    vals = [float(v) for v in values]
    if not vals:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """Ratio of medians (each side summarized over the same repeats)."""
    den = statistics.median(denominator)
    return statistics.median(numerator) / den if den else float("inf")


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def alternate(sides: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Run every side ``repeats`` times, order rotated each repeat (A B, B A, ...). Returns name -> values."""
    names = list(sides)
    out: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        order = names if r % 2 == 0 else names[::-1]
        for n in order:
            out[n].append(sides[n]())
    return out


def check_targets(figures: dict[str, Any]) -> dict[str, bool]:
    """Which issue-6 targets the measured figures reach (only those measured)."""
    met: dict[str, bool] = {}
    for key, (op, bound) in TARGETS.items():
        v = figures.get(key)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        met[key] = v >= bound if op == ">=" else v <= bound if op == "<=" else v < bound
    return met
