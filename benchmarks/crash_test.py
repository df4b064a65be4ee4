"""SIGKILL a real ``semsearch index`` at random instants, then check nothing committed was lost.

    python benchmarks/crash_test.py [--files 1000] [--kills 20] [--seed 1] [--batch-chunks 16] [--json]

Generates a varied corpus deterministically (nested folders, short notes to multi-batch files),
indexes it once without interruption (the reference), then starts ``semsearch index`` on a second
data folder again and again, killing it with SIGKILL each time: kill n waits until about n/(N+1) of
the chunks are committed, then up to 3 s more (a random instant), so every kill interrupts real work.
After every kill it checks the catalog (``PRAGMA integrity_check``), that no committed chunk
disappeared, and that the collection opens and its vector index matches the catalog.
A last run finishes the job; then chunk counts, chunk spans, vectors and top-10 results are compared
with the reference. Prints kills survived / lost committed chunks / corrupt collections; exits 1 if
anything was lost, corrupt or different. ``make crash-test`` runs it (N=20 over 1,000 files).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WORDS = ("river mountain engine protein galaxy violin harvest circuit glacier lantern orchard compiler volcano "
         "theorem falcon copper meadow satellite enzyme harbor quartz tundra beacon canyon archive ballad cobalt "
         "delta ember fjord granite horizon island jasmine kernel lagoon mosaic nebula oasis prism quiver "
         "reef saffron timber umbra vortex willow yarrow zephyr").split()
QUERIES = ["glacier and tundra in winter", "protein enzyme kinetics", "violin ballad in the orchard",
           "copper and cobalt mining", "a lagoon by the reef", "satellite orbit over the horizon",
           "granite canyon walls", "the compiler kernel", "saffron and jasmine", "nebula and galaxy"]


def make_corpus(root: Path, files: int, seed: int) -> None:
    """``files`` text files of varied size and shape (a few long enough to span several batches)."""
    rng = random.Random(seed)
    for i in range(files):
        sentences = rng.choice([2, 5, 12, 30]) if i % 97 else 400  # every 97th file is long
        body = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 18))).capitalize() + "."
                for _ in range(sentences)]
        paragraphs = ["\n\n".join(" ".join(body[j : j + 4]) for j in range(0, len(body), 4))]
        ext = ".md" if i % 3 == 0 else ".txt"
        heading = f"# Note {i}\n\n" if ext == ".md" else f"Note {i}. "
        path = root / f"area{i % 7}" / f"topic{i % 13}" / f"note{i:05d}{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(heading + paragraphs[0] + "\n")


def env_for(data: Path, batch_chunks: int) -> dict[str, str]:
    return {**os.environ, "SEMSEARCH_DATA_DIR": str(data), "SEMSEARCH_BATCH_CHUNKS": str(batch_chunks),
            "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}


def index_cmd(corpus: Path) -> list[str]:
    return [sys.executable, "-m", "app.cli", "index", str(corpus), "--json"]


def catalog_path(data: Path) -> Path:
    return data / "collections" / "default" / "catalog.sqlite3"


def committed(data: Path) -> tuple[int, str]:
    """(chunks in the catalog, integrity_check result), read-only; (0, "missing") before it exists."""
    db = catalog_path(data)
    if not db.exists():
        return 0, "missing"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        check = con.execute("PRAGMA integrity_check").fetchone()[0]
        return int(con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]), check
    except sqlite3.DatabaseError as e:
        return 0, f"error: {e}"
    finally:
        con.close()


def snapshot(data: Path, embedder: Any) -> dict[str, Any]:
    """Chunks by (file, ord) with spans and vectors, and the top-10 of QUERIES; repairs the index on open."""
    from indexer.collection import Collection
    from indexer.search import Filters
    from indexer.stores.embedded import EmbeddedBackend

    with Collection.open(EmbeddedBackend(data), "default", embedder, create=False) as coll:
        store = coll.store  # the Store interface: what any store answers
        spans = {}
        for key in store.source_keys():
            src = store.stored_source(key, ("file", "doc"))
            assert src is not None
            spans.update({(key, o): (cid, s, e) for o, (cid, s, e, _) in enumerate(src.chunks)})
        vecs = store.vectors_for([cid for cid, _, _ in spans.values()])
        chunks = {ko: (s, e, vecs[cid]) for ko, (cid, s, e) in spans.items()}
        top = [[h.id for h in coll.search(q, k=10, mode="hybrid")] for q in QUERIES]
        # every committed chunk is in the vector index, and nothing else: an exact search for more
        # than there are returns each of them once
        n = store.count_chunks()
        with store.reading():
            found = store.dense_chunks(coll.embed_queries(["x"])[0], n + 10, Filters()) if n else []
        consistent = sorted(cid for cid, _ in found) == sorted(cid for cid, _, _ in spans.values())
    return {"chunks": chunks, "top": top, "consistent": consistent}


def run(files: int, kills: int, seed: int, batch_chunks: int, work: Path, say: Any) -> dict[str, Any]:
    from indexer.embedding import load_embedder

    load_before = [round(x, 2) for x in os.getloadavg()]
    corpus, clean, crashed = work / "corpus", work / "clean", work / "crashed"
    make_corpus(corpus, files, seed)
    say(f"corpus: {files} files in {corpus}")
    t0 = time.monotonic()
    ref = subprocess.run(index_cmd(corpus), env=env_for(clean, batch_chunks), capture_output=True, text=True)
    if ref.returncode != 0:
        raise RuntimeError(f"the reference run failed: {ref.stderr[-2000:]}")
    clean_seconds = time.monotonic() - t0
    total = json.loads(ref.stdout)["chunks"]["total"]
    say(f"reference: {total} chunks in {clean_seconds:.0f}s")
    embedder = load_embedder()
    rng = random.Random(seed)
    survived = lost = corrupt = 0
    seen = 0
    for n in range(1, kills + 1):
        proc = subprocess.Popen(index_cmd(corpus), env=env_for(crashed, batch_chunks),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Kill n lands after about n/(N+1) of the chunks are committed, at a random moment up to a few
        # seconds later: inside a model load, a walk, an embedding pass or a commit, never after the end.
        target = max(seen + 1, total * n // (kills + 1) + rng.randint(-batch_chunks, batch_chunks))
        started = time.monotonic()
        while proc.poll() is None and committed(crashed)[0] < target and time.monotonic() - started < 1800:
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 3.0))
        at = time.monotonic() - started
        finished = proc.poll() is not None
        before, _ = committed(crashed)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now, check = committed(crashed)
        gone = max(0, max(before, seen) - now)
        ok = check in ("ok", "missing") and gone == 0
        if check not in ("ok", "missing"):
            corrupt += 1
        if now and ok:
            try:
                ok = snapshot(crashed, embedder)["consistent"]
            except Exception as e:  # a collection that cannot be opened after a kill is the failure we count
                say(f"kill {n}: cannot open the collection: {e}")
                ok = False
                corrupt += 1
        lost += gone
        survived += ok
        seen = max(seen, now)
        say(f"kill {n}/{kills} at {at:.1f}s{' (had finished)' if finished else ''}: {now} chunks committed, "
            f"integrity {check}, lost {gone}")
    final = subprocess.run(index_cmd(corpus), env=env_for(crashed, batch_chunks), capture_output=True, text=True)
    if final.returncode != 0:
        raise RuntimeError(f"the final run failed: {final.stderr[-2000:]}")
    report = json.loads(final.stdout)
    a, b = snapshot(clean, embedder), snapshot(crashed, embedder)
    same_spans = {k: v[:2] for k, v in a["chunks"].items()} == {k: v[:2] for k, v in b["chunks"].items()}
    cosines = [float(a["chunks"][k][2] @ b["chunks"][k][2]) for k in a["chunks"] if k in b["chunks"]]
    return {
        "files": files, "kills": kills, "kills_survived": survived, "lost_committed_chunks": lost,
        "corrupt_collections": corrupt, "chunks_reference": total, "chunks_after": report["chunks"]["total"],
        "committed_before_final_run": seen, "embedded_by_final_run": report["chunks"]["embedded"],
        "same_chunk_spans": same_spans, "min_vector_cosine": round(min(cosines), 6) if cosines else None,
        "top10_identical": sum(x == y for x, y in zip(a["top"], b["top"], strict=True)), "queries": len(QUERIES),
        "reference_seconds": round(clean_seconds, 1), "batch_chunks": batch_chunks,
        "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }


def passed(r: dict[str, Any]) -> bool:
    return (r["kills_survived"] == r["kills"] and r["lost_committed_chunks"] == 0 and r["corrupt_collections"] == 0
            and r["chunks_after"] == r["chunks_reference"] and r["same_chunk_spans"]
            and (r["min_vector_cosine"] or 0) > 0.999 and r["top10_identical"] == r["queries"]
            # nothing committed was embedded again (a kill loses at most the batch in flight)
            and r["embedded_by_final_run"] <= r["chunks_reference"] - r["committed_before_final_run"]
            + r["batch_chunks"])


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=1000)
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--batch-chunks", type=int, default=16)
    p.add_argument("--workdir", type=Path, default=None, help="keep the corpus and data folders here")
    p.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    args = p.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="semsearch-crash-"))

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    r = run(args.files, args.kills, args.seed, args.batch_chunks, work, say)
    ok = passed(r)
    if args.json:
        print(json.dumps({**r, "passed": ok}))
    else:
        print(f"kills survived: {r['kills_survived']}/{r['kills']}; lost committed chunks: "
              f"{r['lost_committed_chunks']}; corrupt collections: {r['corrupt_collections']}")
        print(f"chunks: {r['chunks_after']} after the kills vs {r['chunks_reference']} uninterrupted "
              f"(same spans: {r['same_chunk_spans']}, min vector cosine {r['min_vector_cosine']}); top-10 identical "
              f"for {r['top10_identical']}/{r['queries']} queries; the last run embedded "
              f"{r['embedded_by_final_run']} of the {r['chunks_reference'] - r['committed_before_final_run']} "
              f"chunks left; {'PASSED' if ok else 'FAILED'}")
        print(f"load average {r['load_average_before']} before, {r['load_average_after']} after "
              f"({r['cpus']} CPUs); reference run {r['reference_seconds']}s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
