"""Compare two ``semsearch eval --json`` results: nDCG@10 per mode, and fail when any moved too far.

    python benchmarks/compare_eval.py BASELINE.json CANDIDATE.json [--tolerance 0.002]

``make eval-precision`` runs it on fp32-everywhere (baseline) vs the default fast path.
"""

from __future__ import annotations

import argparse
import json
import sys


def compare(baseline: dict, candidate: dict, tolerance: float) -> tuple[list[str], bool]:
    lines, ok = [], True
    for mode in ("dense", "keyword", "hybrid"):
        if mode not in baseline or mode not in candidate:
            continue
        a, b = baseline[mode]["ndcg@10"], candidate[mode]["ndcg@10"]
        delta = b - a
        ok &= abs(delta) <= tolerance + 1e-12
        lines.append(f"{mode:8} nDCG@10 baseline {a:.4f}  candidate {b:.4f}  delta {delta:+.4f}")
    return lines, ok


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("baseline")
    p.add_argument("candidate")
    p.add_argument("--tolerance", type=float, default=0.002)
    args = p.parse_args(argv)
    with open(args.baseline) as f, open(args.candidate) as g:
        lines, ok = compare(json.load(f), json.load(g), args.tolerance)
    print("\n".join(lines))
    print(f"{'ok' if ok else 'FAILED'}: every mode within {args.tolerance}" if lines else "no common modes")
    return 0 if ok and lines else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
