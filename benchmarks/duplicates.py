"""What making a copy's path, extension and mtime filterable costs a filtered search in the embedded store.

    python benchmarks/duplicates.py [--files 5000] [--copy-every 10] [--repeat 20] [--json]

Builds an embedded collection (no model: 2 random 384-d chunks per file) of ``--files`` files where
every ``--copy-every``-th file has two copies (``SourceWrite.copy_of``: a row with no chunks), then
times the SQL that picks the chunks a filter allows (``Catalog.chunk_ids_where``) two ways:

- ``plain``: the filter on the source's own row only (what the store did before copies);
- ``copies``: the store's ``filter_sql``: the source's id among those whose row or one of whose copies'
  rows matches (one uncorrelated subquery; a correlated EXISTS per chunk cost 15-30x on "copy ext").

for a path glob, an extension and a modified-after filter, each matching canonical files or only
copies. Prints the median ms of each, the number of chunks each allows, the CPU (model, flags) and the
load average (2 shared cores here: read the ratio).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def build(base: Path, files: int, copy_every: int):  # type: ignore[no-untyped-def]
    import numpy as np

    from indexer.chunking import Chunk
    from indexer.stores.base import SourceWrite
    from indexer.stores.embedded.store import EmbeddedStore

    store = EmbeddedStore(base / "collections" / "dupes", model="bench", dimension=384)
    store.load()
    rng = np.random.default_rng(0)
    writes: list[SourceWrite] = []
    for i in range(files):
        key, sha = f"/root/docs/d{i % 50}/f{i}.txt", f"{i:064x}"
        vecs = rng.standard_normal((2, 384)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        chunks = [Chunk(ord=j, start=j * 10, end=j * 10 + 10, text=f"file {i} part {j}", tokens=5) for j in range(2)]
        writes.append(SourceWrite(kind="file", key=key, sha256=sha, chunks=chunks, vectors=vecs, ext=".txt",
                                  size=20, mtime=1e9, root="/root"))
        if i % copy_every == 0:
            for c in range(2):
                writes.append(SourceWrite(kind="file", key=f"/root/copies/c{c}/f{i}.md", sha256=sha, chunks=[],
                                          vectors=np.zeros((0, 0), np.float32), ext=".md", size=20, mtime=3e9,
                                          root="/root", copy_of=key))
        if len(writes) >= 500:
            store.write(writes)
            writes = []
    if writes:
        store.write(writes)
    return store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--copy-every", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from indexer.embedding.cpu import cpu_features
    from indexer.filters import Filters
    from indexer.stores.embedded.sql import SQL_FUNCTIONS, filter_sql

    # (name, filter, the clause before copies existed: the source's own row only, its parameters);
    # "copy ..." filters match only copies, the others canonical files.
    glob, ext, mtime = ("s.kind = 'file' AND path_glob(?, s.key, s.root)", "s.ext IN (?)",
                        "(CASE WHEN s.kind = 'file' THEN s.mtime ELSE s.indexed_at END) > ?")
    cases = [("path_glob", Filters(path_glob="docs/d1/*"), glob, ["docs/d1/*"]),
             ("copy path_glob", Filters(path_glob="copies/**"), glob, ["copies/**"]),
             ("ext", Filters(ext=[".txt"]), ext, [".txt"]),
             ("copy ext", Filters(ext=[".md"]), ext, [".md"]),
             ("modified_after", Filters(modified_after=5e8), mtime, [5e8]),
             ("copy modified", Filters(modified_after=2e9), mtime, [2e9])]
    result: dict = {"files": args.files, "copy_every": args.copy_every, "cpu": cpu_features(), "filters": {}}
    with tempfile.TemporaryDirectory(dir=REPO.parent) as tmp:
        store = build(Path(tmp), args.files, args.copy_every)
        result["chunks"] = store.count_chunks()
        result["sources"] = sum(store.count_sources().values())
        for name, flt, where0, params0 in cases:
            row = {}
            for way, (where, params) in (("plain", (where0, params0)), ("copies", filter_sql(flt))):
                times, n = [], 0
                for _ in range(args.repeat):
                    with store.catalog.snapshot(SQL_FUNCTIONS):
                        t0 = time.perf_counter()
                        n = len(store.catalog.chunk_ids_where(where, params))
                        times.append((time.perf_counter() - t0) * 1000)
                row[way] = {"median_ms": round(statistics.median(times), 2), "chunks_allowed": n}
            result["filters"][name] = row
        store.close()
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(result, indent=2))
        return
    cpu = result["cpu"]
    print(f"CPU: {cpu['model']} ({cpu['cores']} cores; flags {' '.join(cpu['flags']) or '-'}); "
          f"load average {' '.join(map(str, result['load_average']))}")
    print(f"{result['sources']} sources ({args.files} with chunks), {result['chunks']} chunks")
    for name, row in result["filters"].items():
        print(f"{name:15s} plain {row['plain']['median_ms']:8.2f} ms ({row['plain']['chunks_allowed']} chunks)   "
              f"copies {row['copies']['median_ms']:8.2f} ms ({row['copies']['chunks_allowed']} chunks)")


if __name__ == "__main__":
    main()
