"""What committing a folder run by time as well as by size costs (``SEMSEARCH_COMMIT_SECONDS``).

    python benchmarks/commit_by_time.py [--files 200] [--rounds 2] [--seconds 5] [--json]

Indexes the same folder (the shipped corpus's passages, one file each: 1-3 chunks per file) into a
fresh collection with ``commit_seconds=0`` (by size alone: batches of ``batch_chunks``=256, the old
behaviour) and with ``commit_seconds=--seconds``, alternating, ``--rounds`` times each, in one
process with the model loaded once. Prints per setting the wall time, the commits, the seconds spent
inside ``Collection.commit`` (the SQLite transaction, its fsyncs and the FAISS update) and chunks/s,
with the CPU and the load average: the machine is shared, so the figures that matter are the commit
count and the seconds inside commits, which the load moves least.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def make_folder(root: Path, files: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = (REPO / "tests" / "corpus" / "corpus.jsonl").read_text().splitlines()
    for i, line in enumerate(lines[:files]):
        doc = json.loads(line)
        (root / f"{i:04d}-{doc['_id']}.txt").write_text(f"{doc['title']}\n\n{doc['text']}\n")
    return root


def one_run(base: Path, folder: Path, embedder: Any, seconds: float) -> dict[str, float]:
    from indexer.collection import Collection, Limits
    from indexer.stores.embedded import EmbeddedBackend

    data = base / f"data-{time.monotonic_ns()}"
    inside: list[float] = []
    with Collection.open(EmbeddedBackend(data), "bench", embedder, limits=Limits(commit_seconds=seconds)) as coll:
        real = coll.commit

        def commit(*a: Any, **kw: Any) -> tuple[int, int]:
            t0 = time.perf_counter()
            try:
                return real(*a, **kw)
            finally:
                inside.append(time.perf_counter() - t0)

        coll.commit = commit  # type: ignore[method-assign]
        t0 = time.perf_counter()
        report = coll.index_folder(folder)
        wall = time.perf_counter() - t0
    shutil.rmtree(data)
    return {"wall_s": wall, "commits": len(inside), "commit_s": sum(inside), "chunks": report.chunks_embedded,
            "chunks_per_s": report.chunks_embedded / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from indexer.embedding import load_embedder
    from indexer.embedding.cpu import cpu_features

    embedder = load_embedder()
    base = Path(tempfile.mkdtemp(prefix="commit-bench-", dir=REPO.parent))
    try:
        folder = make_folder(base / "docs", args.files)
        runs: dict[str, list[dict[str, float]]] = {"by size (0)": [], f"by time ({args.seconds:g} s)": []}
        for _ in range(args.rounds):
            for label, seconds in zip(runs, (0.0, args.seconds), strict=True):
                runs[label].append(one_run(base, folder, embedder, seconds))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    medians = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in runs.items()}
    result: dict[str, Any] = {"cpu": cpu_features(), "files": args.files,
                              "load_average": [round(x, 2) for x in os.getloadavg()], "runs": medians}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    cpu = result["cpu"]
    print(f"CPU: {cpu['model']} ({cpu['cores']} cores; flags {' '.join(cpu['flags']) or '-'}); "
          f"load average {' '.join(map(str, result['load_average']))}; {args.files} files, medians of {args.rounds}")
    for label, r in result["runs"].items():
        print(f"{label:>16}: {r['wall_s']:6.1f} s wall, {r['chunks']:.0f} chunks, {r['commits']:.0f} commits, "
              f"{r['commit_s']:.2f} s inside commits, {r['chunks_per_s']:.1f} chunks/s")


if __name__ == "__main__":
    main()
