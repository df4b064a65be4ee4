"""``semsearch bench``: the project against the plain pipeline, side by side in one process run.

The plain pipeline is what any user writes in ten lines: ``SentenceTransformer.encode`` (fp32,
batch 32) and a FAISS ``IndexFlatIP``. Every ratio compares the two on the same texts in the same
run, alternating A/B then B/A between repeats (and query by query for latencies), so drifting load
on a shared machine hits both sides alike. Each figure is reported as median/min/max over repeats.

Sections (each can be skipped):

- ``embed``: chunks/s of ``Embedder.embed`` (the indexing path) vs plain encode, and the fidelity
  (minimum cosine over every chunk) of both the bulk and the query path vs plain fp32.
- ``query``: p50 latency of embed + top-10 over ``index_size`` vectors in process, vs plain encode +
  ``IndexFlatIP``. The vectors are the corpus chunks' own vectors, replicated with small Gaussian
  perturbations (renormalized) up to ``index_size`` when the corpus has fewer chunks.
- ``http``: a real server (uvicorn, ``app.main:create_app``) in a subprocess over a temp data folder
  holding a collection of ``index_size`` chunks; ``GET /collections/bench/query?q=..&k=10&mode=dense``
  at concurrency 8 vs 1 (queries/s), and the concurrency-1 p50 vs the in-process p50 of the same search
  over the same texts (each repeat's concurrency-1 texts are searched again in process, in a block of
  their own between the HTTP runs).
  The client is the standard library's ``http.client`` on keep-alive connections, one per client
  thread: it costs about 0.4 ms of CPU per request (httpx about 1.1 ms), so the figures measure the
  server, not the client sharing its cores.
- ``index``: a folder of ``reindex_files`` small files indexed by a subprocess (``python -m
  indexer.bench --child-index``): first run vs unchanged re-run (``Collection.index_folder``, what
  ``semsearch index`` runs, model load excluded), and peak RSS, also for a folder 4x smaller to show
  that memory stays flat as the folder grows.
- ``hnsw``: recall@10 of the HNSW index vs exact flat search at 100k (and 1M, opt-in) synthetic
  clustered vectors, plus filtered HNSW queries returning k hits that satisfy the filter.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / "bench" / "corpus"  # shipped: World Factbook sections
SECTIONS = ("embed", "query", "http", "index", "hnsw")
#: texts per block of the lone-query comparison; the first of each block is not timed (see ``lone``)
LONE_BLOCK = 5
TARGETS = {"embed_ratio": (">=", 2.5), "fidelity_min_cos": (">=", 0.9999), "query_fidelity_min_cos": (">=", 0.9999),
           "query_ratio": ("<=", 0.7),
           "http_qps_ratio": (">=", 1.8), "http_p50_excess_ms": ("<=", 2.0), "reindex_ratio": ("<=", 0.05),
           "memory_peak_gib": ("<", 2.0)}


@dataclass
class BenchConfig:
    corpus: Path | None = None  # BEIR folder (corpus.jsonl [+ queries.jsonl]) or any folder of documents
    repeats: int = 3
    quick: bool = False
    embed_chunks: int = 512
    queries: int = 100  # timed queries per repeat and side
    index_size: int = 20_000
    http_requests: int = 160  # per repeat and concurrency level
    concurrency: int = 8
    reindex_files: int = 10_000
    hnsw_sizes: tuple[int, ...] = (100_000,)
    sections: tuple[str, ...] = SECTIONS
    seed: int = 0

    @classmethod
    def make(cls, *, quick: bool = False, hnsw_1m: bool = False, **kw: Any) -> BenchConfig:
        if quick:
            base = cls(quick=True, repeats=2, embed_chunks=48, queries=20, index_size=2_000, http_requests=40,
                       reindex_files=300, hnsw_sizes=(10_000,))
        else:
            base = cls()
        for k, v in kw.items():
            if v is not None:
                setattr(base, k, v)
        if hnsw_1m and 1_000_000 not in base.hnsw_sizes:
            base.hnsw_sizes = (*base.hnsw_sizes, 1_000_000)
        return base


# -- statistics ----------------------------------------------------------------------------------------
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


# -- corpus --------------------------------------------------------------------------------------------
@dataclass
class Corpus:
    name: str
    chunks: list[str]
    queries: list[str]
    source: str = ""


def load_corpus(embedder: Any, path: Path | None, *, max_chunks: int, seed: int = 0) -> Corpus:
    """Chunks (by the indexing path's chunker) and queries from a BEIR folder or a folder of documents."""
    from indexer.chunking import chunk_text

    root = Path(path or DEFAULT_CORPUS).expanduser().resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder {root} does not exist (pass --corpus DIR)")
    texts: list[str] = []
    queries: list[str] = []
    if (root / "corpus.jsonl").exists():
        with open(root / "corpus.jsonl", encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                texts.append(f"{row.get('title', '')} {row.get('text', '')}".strip())
        if (root / "queries.jsonl").exists():
            with open(root / "queries.jsonl", encoding="utf-8") as f:
                queries = [json.loads(line)["text"] for line in f if line.strip()]
        source = f"BEIR corpus {root}"
    else:
        from indexer.readers import SkipFile, read_file
        from indexer.sync import Candidate, walk

        for item in walk(root, max_bytes=20 * 1024 * 1024):
            if isinstance(item, Candidate):
                try:
                    texts.append(read_file(item.path, max_bytes=20 * 1024 * 1024))
                except (SkipFile, OSError):
                    continue
            if len(texts) >= 4 * max_chunks:
                break
        source = f"folder {root}"
    chunks: list[str] = []
    for text in texts:
        if not text.strip():
            continue
        pieces = chunk_text(text, embedder.token_offsets(text), max_tokens=embedder.max_seq_length - 2, overlap=32)
        chunks.extend(p.text for p in pieces)
        if len(chunks) >= max_chunks:
            break
    chunks = chunks[:max_chunks]
    if not chunks:
        raise FileNotFoundError(f"no text found in {root}")
    if not queries:  # no query file: the first sentence (up to 20 words) of chunks
        rng = random.Random(seed)
        queries = [" ".join(c.split(".")[0].split()[:20]) for c in rng.sample(chunks, min(len(chunks), 2000))]
    return Corpus(root.name, chunks, queries, source)


def unique_queries(queries: Sequence[str]) -> Iterator[str]:
    """An endless stream of distinct query strings (so no cache ever answers a timed query)."""
    n = 0
    while True:
        for q in queries:
            yield q if n == 0 else f"{q} ({n})"
        n += 1


def replicate(vectors: np.ndarray, n: int, *, noise: float = 0.05, seed: int = 0) -> np.ndarray:
    """``n`` unit vectors: the given ones, then perturbed copies (Gaussian noise, renormalized)."""
    from indexer.embedder import l2_normalize

    rng = np.random.default_rng(seed)
    reps = math.ceil(n / len(vectors))
    out = np.concatenate([vectors] * reps)[:n].astype(np.float32)
    if n > len(vectors):
        out[len(vectors):] += rng.normal(0, noise / math.sqrt(vectors.shape[1]), out[len(vectors):].shape
                                         ).astype(np.float32)
    return l2_normalize(out)


def clustered_vectors(n: int, dim: int, *, clusters: int = 1000, spread: float = 0.6, seed: int = 0) -> np.ndarray:
    """Synthetic unit vectors in clusters (real embeddings are clustered; uniform noise is not a fair ANN test)."""
    from indexer.embedder import l2_normalize

    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for at in range(0, n, step):
        m = min(step, n - at)
        labels = rng.integers(0, clusters, m)
        out[at : at + m] = centers[labels] + spread * rng.standard_normal((m, dim)).astype(np.float32)
    return l2_normalize(out)


# -- sections ------------------------------------------------------------------------------------------
def bench_embed(embedder: Any, corpus: Corpus, cfg: BenchConfig) -> tuple[dict[str, Any], np.ndarray]:
    """Bulk embedding throughput and fidelity. Returns (figures, plain fp32 vectors)."""
    import torch

    from indexer.embedder import l2_normalize

    st = embedder.model
    chunks = corpus.chunks[: cfg.embed_chunks]
    seen: dict[str, np.ndarray] = {}

    def plain() -> float:
        t0 = time.perf_counter()
        with torch.inference_mode():
            v = st.encode(chunks, batch_size=32, convert_to_numpy=True, show_progress_bar=False)
        dt = time.perf_counter() - t0
        seen.setdefault("plain", np.asarray(v, dtype=np.float32))
        return len(chunks) / dt

    def project() -> float:
        t0 = time.perf_counter()
        v = embedder.embed(chunks, batch_size=32)
        dt = time.perf_counter() - t0
        seen.setdefault("project", v)
        return len(chunks) / dt

    rates = alternate({"plain": plain, "project": project}, cfg.repeats)
    ref = l2_normalize(seen["plain"])
    cos_bulk = np.sum(ref * seen["project"], axis=1)
    nq = min(len(chunks), 64)
    cos_query = np.sum(ref[:nq] * embedder.embed_queries(chunks[:nq]), axis=1)
    embedder.clear_cache()
    # the path concurrent queries take (one core per batch, its own compiled model) must be as faithful
    shared = embedder._embed_query_batch(chunks[:nq], True)
    cos_query = np.minimum(cos_query, np.sum(ref[:nq] * shared, axis=1))
    tokens = embedder.count_tokens(chunks)
    figures = {
        "chunks": len(chunks),
        "mean_tokens": round(float(np.mean(tokens)), 1),
        "plain_chunks_per_s": summarize(rates["plain"]),
        "project_chunks_per_s": summarize(rates["project"]),
        "embed_ratio": ratio(rates["project"], rates["plain"]),
        "fidelity_min_cos": float(cos_bulk.min()),
        "fidelity_mean_cos": float(cos_bulk.mean()),
        "query_fidelity_min_cos": float(cos_query.min()),
    }
    return figures, ref


def bench_query(embedder: Any, corpus: Corpus, base: np.ndarray, cfg: BenchConfig) -> dict[str, Any]:
    """p50 of one query embedded + top-10 over ``index_size`` vectors, both pipelines, query by query."""
    import faiss
    import torch

    from indexer.vectors import VectorIndex

    st = embedder.model
    matrix = replicate(base, cfg.index_size, seed=cfg.seed)
    flat = faiss.IndexFlatIP(matrix.shape[1])
    flat.add(matrix)
    ours = VectorIndex(matrix.shape[1], "flat")
    ours.add(np.arange(len(matrix), dtype=np.int64), matrix)
    stream = unique_queries(corpus.queries)

    def plain(q: str) -> float:
        t0 = time.perf_counter()
        with torch.inference_mode():
            v = st.encode([q], batch_size=32, convert_to_numpy=True, normalize_embeddings=True,
                          show_progress_bar=False)
        flat.search(np.asarray(v, dtype=np.float32), 10)
        return (time.perf_counter() - t0) * 1000

    def project(q: str) -> float:
        t0 = time.perf_counter()
        v = embedder.embed_queries([q])
        ours.search(v, 10)
        return (time.perf_counter() - t0) * 1000

    for q in corpus.queries[:5]:  # warm both
        plain(q)
        project(q)
    p50: dict[str, list[float]] = {"plain": [], "project": []}
    agree = []
    for r in range(cfg.repeats):
        embedder.clear_cache()
        lat: dict[str, list[float]] = {"plain": [], "project": []}
        for i in range(cfg.queries):
            q = next(stream)
            sides = [("plain", plain), ("project", project)]
            for name, fn in sides if (i + r) % 2 == 0 else sides[::-1]:
                lat[name].append(fn(q))
        for name in lat:
            p50[name].append(percentile(lat[name], 50))
    for q in corpus.queries[:20]:  # same top-10 ids as the plain pipeline
        a = flat.search(st.encode([q], normalize_embeddings=True, show_progress_bar=False), 10)[1][0]
        b = [i for i, _ in ours.search(embedder.embed_queries([q]), 10)[0]]
        agree.append(len(set(a.tolist()) & set(b)) / 10)
    embedder.clear_cache()
    return {"index_size": len(matrix), "queries_per_repeat": cfg.queries,
            "plain_p50_ms": summarize(p50["plain"]), "project_p50_ms": summarize(p50["project"]),
            "query_ratio": ratio(p50["project"], p50["plain"]), "top10_agreement": float(np.mean(agree))}


class _PoolEmbedder:
    """Stands in for the model while the benchmark fills a collection: the real tokenizer (for
    chunking), vectors from a pool (so 20k chunks need not be embedded twice)."""

    def __init__(self, real: Any, pool: np.ndarray) -> None:
        self.real, self.pool = real, pool
        self.name, self.dimension, self.max_seq_length = real.name, real.dimension, real.max_seq_length
        self.at = 0

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        return list(self.real.token_offsets(text))

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        idx = np.arange(self.at, self.at + len(texts)) % len(self.pool)
        self.at += len(texts)
        return self.pool[idx]


def build_collection(data_dir: Path, name: str, embedder: Any, corpus: Corpus, vectors: np.ndarray,
                     n: int) -> int:
    """A collection of about ``n`` one-chunk documents: corpus chunks replicated, replicated vectors."""
    from indexer.collection import Collection

    pool = replicate(vectors, n, seed=1)
    coll = Collection.open(data_dir, name, _PoolEmbedder(embedder, pool), create=True)  # type: ignore[arg-type]
    try:
        batch: list[dict[str, Any]] = []
        for i in range(n):
            text = corpus.chunks[i % len(corpus.chunks)]
            batch.append({"id": f"d{i}", "text": text, "metadata": {"copy": i // len(corpus.chunks)}})
            if len(batch) == 1000:
                coll.upsert_documents(batch)
                batch = []
        if batch:
            coll.upsert_documents(batch)
        return int(coll.catalog.count_chunks())
    finally:
        coll.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_http(embedder: Any, corpus: Corpus, base: np.ndarray, cfg: BenchConfig, work: Path) -> dict[str, Any]:
    """The real server in a subprocess: qps at concurrency N vs 1, and concurrency-1 p50 vs in process."""
    import http.client
    import urllib.parse

    from indexer.collection import Collection

    data_dir = work / "http-data"
    chunks = build_collection(data_dir, "bench", embedder, corpus, base, cfg.index_size)
    port = _free_port()
    env = {**os.environ, "SEMSEARCH_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "SEMSEARCH_API_KEYS": "", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning", "--no-access-log"]
    server_log = open(work / "server.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(cmd, env=env, stdout=server_log, stderr=subprocess.STDOUT,
                            cwd=Path(__file__).resolve().parents[1])
    url = f"http://127.0.0.1:{port}"
    coll = Collection.open(data_dir, "bench", embedder, create=False)
    try:
        _wait_ready(url, proc, timeout=180)
        stream = unique_queries(corpus.queries)
        path = "/collections/bench/query"

        def get(client: http.client.HTTPConnection, q: str) -> float:
            t0 = time.perf_counter()
            client.request("GET", f"{path}?{urllib.parse.urlencode({'q': q, 'k': 10, 'mode': 'dense'})}")
            r = client.getresponse()
            body = r.read()
            dt = (time.perf_counter() - t0) * 1000
            if r.status != 200:
                raise RuntimeError(f"GET {path} -> {r.status}: {body[:300]!r}")
            hits = json.loads(body).get("hits", [])
            if len(hits) != 10:
                raise RuntimeError(f"GET {path} returned {len(hits)} hits, not 10")
            return dt

        def connect() -> http.client.HTTPConnection:
            """A keep-alive client connection, opened (and checked) outside the timed part."""
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                client.request("GET", "/healthz")
                client.getresponse().read()
            except BaseException:
                client.close()
                raise
            return client

        lock = threading.Lock()

        def run(concurrency: int, qs: list[str]) -> tuple[float, list[float]]:
            n = len(qs)
            lat: list[float] = []
            errors: list[BaseException] = []

            def worker(part: list[str]) -> None:
                client = None
                try:
                    client = connect()
                    start.wait()
                    for q in part:
                        dt = get(client, q)
                        with lock:
                            lat.append(dt)
                except BaseException as e:  # noqa: B036 - re-raised below in the caller
                    errors.append(e)
                    start.abort()  # a client that failed to connect must not leave the others waiting
                finally:
                    if client is not None:
                        client.close()

            start = threading.Barrier(concurrency + 1)
            threads = [threading.Thread(target=worker, args=(qs[i::concurrency],)) for i in range(concurrency)]
            for t in threads:
                t.start()
            try:
                start.wait()
            except threading.BrokenBarrierError:
                pass  # a client failed: its error is raised below
            t0 = time.perf_counter()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
            if errors:
                raise errors[0]
            return n / wall, lat

        def in_process(q: str) -> float:
            t0 = time.perf_counter()
            hits = coll.search(q, k=10, mode="dense")
            dt = (time.perf_counter() - t0) * 1000
            assert len(hits) == 10
            return dt

        def lone(qs: list[str]) -> dict[str, list[float]]:
            """Concurrency-1 latency over HTTP and in process, in short blocks of the same texts.

            Each side runs a block of texts one after another, then the other side runs the same texts;
            which side goes first alternates block by block (ABBA), so a slow spell of this shared
            machine hits both sides alike. The first query of each block is not timed: when the other
            side ran just before, its forward pass has evicted this process's caches, which neither a
            client querying the server nor a program searching in process ever sees. Those switches
            are kept apart (``*_switch``). Each process sees each text once (two caches), so no cache
            answers either side."""
            client = connect()
            lat: dict[str, list[float]] = {"http": [], "local": [], "http_switch": [], "local_switch": []}
            last = "http"  # the run before this one was over HTTP
            try:
                for b, at in enumerate(range(0, len(qs), LONE_BLOCK)):
                    block = qs[at : at + LONE_BLOCK]
                    for side in ("http", "local") if b % 2 == 0 else ("local", "http"):
                        for i, q in enumerate(block):
                            dt = get(client, q) if side == "http" else in_process(q)
                            if i:
                                lat[side].append(dt)
                            elif last != side:
                                lat[f"{side}_switch"].append(dt)
                        last = side
            finally:
                client.close()
            return lat

        def texts(n: int) -> list[str]:
            return [next(stream) for _ in range(n)]

        lone(texts(10))  # warm up the server, the client path and the in-process search
        run(cfg.concurrency, texts(2 * cfg.concurrency))
        qps: dict[str, list[float]] = {"c1": [], "cN": []}
        p50: dict[str, list[float]] = {"http_c1": [], "http_lone": [], "in_process": [], "http_cN": [],
                                       "http_switch": [], "local_switch": []}
        for r in range(cfg.repeats):
            # Throughput: back-to-back runs at concurrency 1 and N. Overhead: lone queries over HTTP and
            # in-process searches of the same texts, in alternating blocks.
            for what in ("c1", "lone", "cN") if r % 2 == 0 else ("cN", "lone", "c1"):
                if what == "c1":
                    q1, lat1 = run(1, texts(cfg.http_requests // 2))
                    qps["c1"].append(q1)
                    p50["http_c1"].append(percentile(lat1, 50))
                elif what == "lone":
                    lat = lone(texts(cfg.http_requests // 2))
                    p50["http_lone"].append(percentile(lat["http"], 50))
                    p50["in_process"].append(percentile(lat["local"], 50))
                    for side in ("http_switch", "local_switch"):
                        if lat[side]:  # a run of one block has a switch on one side only
                            p50[side].append(percentile(lat[side], 50))
                else:
                    qn, latn = run(cfg.concurrency, texts(cfg.http_requests))
                    qps["cN"].append(qn)
                    p50["http_cN"].append(percentile(latn, 50))
        excess = [a - b for a, b in zip(p50["http_lone"], p50["in_process"], strict=True)]
        return {"chunks": chunks, "concurrency": cfg.concurrency, "mode": "dense",
                "qps_c1": summarize(qps["c1"]), f"qps_c{cfg.concurrency}": summarize(qps["cN"]),
                "http_qps_ratio": ratio(qps["cN"], qps["c1"]),
                "http_c1_p50_ms": summarize(p50["http_c1"]),
                f"http_c{cfg.concurrency}_p50_ms": summarize(p50["http_cN"]),
                "http_lone_p50_ms": summarize(p50["http_lone"]),
                "in_process_p50_ms": summarize(p50["in_process"]),
                "lone_block": LONE_BLOCK,
                "http_after_switch_p50_ms": summarize(p50["http_switch"]),
                "in_process_after_switch_p50_ms": summarize(p50["local_switch"]),
                "http_p50_excess_ms": statistics.median(excess)}
    finally:
        coll.close()
        stop_process(proc, timeout=20)
        server_log.close()


def stop_process(proc: subprocess.Popen[Any], *, timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds; reaps it either way."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], *, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode} before it was ready")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the server at {url} was not ready within {timeout:.0f}s")


# -- index / memory (in a child process, so peak RSS is the indexing run's own) -------------------------
def make_folder(root: Path, corpus: Corpus, n: int, *, seed: int = 0) -> Path:
    """``n`` small text files (one or two sentences of the corpus each) in 100-file subfolders."""
    rng = random.Random(seed)
    sentences = [s.strip() for c in corpus.chunks for s in c.split(". ") if len(s.split()) >= 4] or corpus.chunks
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sub = root / f"d{i // 100:04d}"
        sub.mkdir(exist_ok=True)
        text = ". ".join(rng.choice(sentences) for _ in range(rng.randint(1, 2)))
        (sub / f"f{i:06d}.txt").write_text(f"{text}. (file {i})\n", encoding="utf-8")
    return root


def peak_rss_bytes() -> int:
    """This process's peak resident set size (VmHWM; ru_maxrss where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def child_index(folder: Path, data_dir: Path, repeats: int) -> dict[str, Any]:
    """Run in a subprocess: index ``folder`` (first run) then again unchanged, ``repeats`` times alternating."""
    from indexer.collection import Collection
    from indexer.embedder import load_embedder

    embedder = load_embedder()
    rss_model = peak_rss_bytes()
    first: list[float] = []
    again: list[float] = []
    report: dict[str, Any] = {}
    for r in range(repeats):
        with Collection.open(data_dir, f"bench{r}", embedder, create=True) as coll:
            t0 = time.perf_counter()
            rep = coll.index_folder(folder)
            first.append(time.perf_counter() - t0)
            report = rep.to_dict()
            t0 = time.perf_counter()
            rep2 = coll.index_folder(folder)
            again.append(time.perf_counter() - t0)
            if rep2.chunks_embedded or rep2.unchanged != rep.added:
                raise RuntimeError(f"unchanged re-index did work: {rep2.to_dict()['files']}")
        shutil.rmtree(data_dir / "collections" / f"bench{r}", ignore_errors=True)
    return {"files": report["files"]["added"], "chunks": report["chunks"]["embedded"],
            "first_s": first, "unchanged_s": again, "peak_rss": peak_rss_bytes(), "rss_after_model_load": rss_model,
            "chunks_per_s": report["chunks_per_second"]}


def _run_child(folder: Path, data_dir: Path, repeats: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "indexer.bench", "--child-index", str(folder), str(data_dir), str(repeats)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1],
                         check=False)
    if res.returncode != 0:
        raise RuntimeError(f"indexing child failed ({res.returncode}): {res.stderr[-2000:]}")
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def bench_index(corpus: Corpus, cfg: BenchConfig, work: Path) -> dict[str, Any]:
    n = cfg.reindex_files
    small_n = max(1, n // 4)
    big = make_folder(work / f"files{n}", corpus, n, seed=cfg.seed)
    small = make_folder(work / f"files{small_n}", corpus, small_n, seed=cfg.seed + 1)
    res_small = _run_child(small, work / "index-small", 1)
    res_big = _run_child(big, work / "index-big", max(1, min(cfg.repeats, 2)))
    gib = 1024**3
    return {"files": res_big["files"], "chunks": res_big["chunks"], "first_run_s": summarize(res_big["first_s"]),
            "unchanged_run_s": summarize(res_big["unchanged_s"]),
            "reindex_ratio": ratio(res_big["unchanged_s"], res_big["first_s"]),
            "index_chunks_per_s": res_big["chunks_per_s"],
            "memory": {"files": [res_small["files"], res_big["files"]],
                       "peak_rss_gib": [round(res_small["peak_rss"] / gib, 3), round(res_big["peak_rss"] / gib, 3)],
                       "rss_after_model_load_gib": round(res_big["rss_after_model_load"] / gib, 3),
                       "growth_mib_per_1k_files": round((res_big["peak_rss"] - res_small["peak_rss"]) / 2**20
                                                        / max(1, (res_big["files"] - res_small["files"]) / 1000), 2)},
            "memory_peak_gib": res_big["peak_rss"] / gib}


# -- HNSW ----------------------------------------------------------------------------------------------
def bench_hnsw(cfg: BenchConfig, dim: int = 384) -> dict[str, Any]:
    import faiss

    from indexer.vectors import VectorIndex

    out: dict[str, Any] = {}
    nq, k = 200, 10
    for n in cfg.hnsw_sizes:
        data = clustered_vectors(n + nq, dim, seed=cfg.seed)
        base, queries = data[:n], data[n:]
        exact = faiss.IndexFlatIP(dim)
        exact.add(base)
        t0 = time.perf_counter()
        _, truth = exact.search(queries, k)
        flat_ms = (time.perf_counter() - t0) * 1000 / nq
        index = VectorIndex(dim, "hnsw")
        t0 = time.perf_counter()
        for at in range(0, n, 50_000):
            index.add(np.arange(at, min(n, at + 50_000), dtype=np.int64), base[at : at + 50_000])
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        got = index.search(queries, k)
        hnsw_ms = (time.perf_counter() - t0) * 1000 / nq
        recall = float(np.mean([len(set(truth[i].tolist()) & {j for j, _ in got[i]}) / k for i in range(nq)]))
        # filtered: 1% and 30% of the ids allowed; every query must still get k hits inside the filter
        rng = np.random.default_rng(cfg.seed)
        filt: dict[str, Any] = {}
        for frac in (0.01, 0.3):
            allowed = np.sort(rng.choice(n, max(k, int(n * frac)), replace=False)).astype(np.int64)
            allowed_set = set(allowed.tolist())
            res = index.search(queries[:50], k, allowed)
            ok = all(len(r) == k and all(i in allowed_set for i, _ in r) for r in res)
            sub = faiss.IndexFlatIP(dim)
            sub.add(base[allowed])
            _, t_ids = sub.search(queries[:50], k)
            rec = float(np.mean([len({int(allowed[j]) for j in t_ids[i]} & {j for j, _ in res[i]}) / k
                                 for i in range(len(res))]))
            filt[f"{frac:.0%}"] = {"k_hits_inside_filter": ok, "recall@10": rec}
        out[str(n)] = {"recall@10": recall, "build_s": round(build, 1), "hnsw_ms_per_query": round(hnsw_ms, 3),
                       "flat_ms_per_query": round(flat_ms, 3), "ef_search": index.ef_search, "filtered": filt}
    return out


# -- the whole run -------------------------------------------------------------------------------------
@dataclass
class BenchResult:
    figures: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.figures, "targets_met": check_targets(self.figures), **self.sections,
                "environment": self.environment}


def environment(embedder: Any, cfg: BenchConfig, corpus: Corpus | None) -> dict[str, Any]:
    import faiss
    import torch

    from indexer.embedder import cpu_features

    return {"cpu": cpu_features(), "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "faiss": faiss.__version__,
            "backend": embedder.backend, "precision": embedder.precision,
            "embed_path": getattr(embedder, "engine", "encode"), "model": embedder.name,
            "corpus": corpus.source if corpus else None, "load_average": list(os.getloadavg()),
            "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}}


def run_bench(cfg: BenchConfig, embedder: Any, *, progress: Callable[[str], None] | None = None,
              workdir: Path | None = None) -> BenchResult:
    """Run the selected sections; ``embedder`` is the project's (SentenceTransformerEmbedder)."""
    tell = progress or (lambda msg: None)
    result = BenchResult()
    work = Path(tempfile.mkdtemp(prefix="semsearch-bench-", dir=workdir))
    try:
        corpus = None
        need_corpus = any(s in cfg.sections for s in ("embed", "query", "http", "index"))
        if need_corpus:
            tell("corpus")
            corpus = load_corpus(embedder, cfg.corpus, max_chunks=max(cfg.embed_chunks, 256), seed=cfg.seed)
        base: np.ndarray | None = None
        if corpus is not None and any(s in cfg.sections for s in ("embed", "query", "http")):
            tell(f"embed: {min(len(corpus.chunks), cfg.embed_chunks)} chunks x {cfg.repeats} repeats, both pipelines")
            figures, base = bench_embed(embedder, corpus, cfg)
            result.sections["embed"] = figures
            result.figures.update({k: figures[k] for k in ("embed_ratio", "fidelity_min_cos",
                                                           "query_fidelity_min_cos")})
        if corpus is not None and base is not None and "query" in cfg.sections:
            tell(f"query: {cfg.queries} queries x {cfg.repeats} repeats over {cfg.index_size} vectors")
            q = bench_query(embedder, corpus, base, cfg)
            result.sections["query"] = q
            result.figures["query_ratio"] = q["query_ratio"]
        if corpus is not None and base is not None and "http" in cfg.sections:
            tell(f"http: server with {cfg.index_size} chunks, concurrency 1 vs {cfg.concurrency}")
            h = bench_http(embedder, corpus, base, cfg, work)
            result.sections["http"] = h
            result.figures["http_qps_ratio"] = h["http_qps_ratio"]
            result.figures["http_p50_excess_ms"] = h["http_p50_excess_ms"]
        if corpus is not None and "index" in cfg.sections:
            tell(f"index: {cfg.reindex_files} small files, first run vs unchanged (subprocess)")
            ix = bench_index(corpus, cfg, work)
            result.sections["index"] = ix
            result.figures["reindex_ratio"] = ix["reindex_ratio"]
            result.figures["memory_peak_gib"] = ix["memory_peak_gib"]
        if "hnsw" in cfg.sections:
            tell(f"hnsw: recall@10 vs flat at {', '.join(f'{n:,}' for n in cfg.hnsw_sizes)} vectors")
            hn = bench_hnsw(cfg, embedder.dimension)
            result.sections["hnsw"] = hn
            result.figures["recall@10"] = {n: v["recall@10"] for n, v in hn.items()}
        result.environment = environment(embedder, cfg, corpus)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def table_rows(result: BenchResult) -> list[tuple[str, str, str, str]]:
    """(figure, value, absolute numbers behind it, target) rows for the printed table."""
    s, f = result.sections, result.figures
    met = check_targets(f)
    rows: list[tuple[str, str, str, str]] = []

    def mark(key: str) -> str:
        op, bound = TARGETS[key]
        return f"{op} {bound} {'ok' if met.get(key) else 'MISSED'}"

    def mmm(d: dict[str, float], unit: str = "", fmt: str = ".1f") -> str:
        return f"{d['median']:{fmt}}{unit} [{d['min']:{fmt}}-{d['max']:{fmt}}]"

    if "embed" in s:
        e = s["embed"]
        rows.append(("bulk embedding", f"{f['embed_ratio']:.2f}x",
                     f"{mmm(e['project_chunks_per_s'], ' chunks/s')} vs plain "
                     f"{mmm(e['plain_chunks_per_s'], ' chunks/s')}"
                     f" ({e['chunks']} chunks, {e['mean_tokens']} tokens avg)", mark("embed_ratio")))
        rows.append(("embedding fidelity", f"{f['fidelity_min_cos']:.6f}",
                     f"min cosine bulk vs plain fp32 (mean {e['fidelity_mean_cos']:.6f}); query path "
                     f"{f['query_fidelity_min_cos']:.7f}", mark("fidelity_min_cos")))
    if "query" in s:
        q = s["query"]
        rows.append(("single query p50", f"{f['query_ratio']:.2f}x",
                     f"{mmm(q['project_p50_ms'], ' ms', '.2f')} vs plain {mmm(q['plain_p50_ms'], ' ms', '.2f')} "
                     f"over {q['index_size']:,} vectors", mark("query_ratio")))
    if "http" in s:
        h = s["http"]
        c = h["concurrency"]
        rows.append((f"HTTP qps c{c} / c1", f"{f['http_qps_ratio']:.2f}x",
                     f"{mmm(h[f'qps_c{c}'], ' q/s')} vs {mmm(h['qps_c1'], ' q/s')}", mark("http_qps_ratio")))
        rows.append(("HTTP c1 p50 - in-process", f"{f['http_p50_excess_ms']:+.2f} ms",
                     f"{mmm(h['http_lone_p50_ms'], ' ms', '.2f')} vs {mmm(h['in_process_p50_ms'], ' ms', '.2f')}",
                     mark("http_p50_excess_ms")))
        switch = h["http_after_switch_p50_ms"]["median"] - h["in_process_after_switch_p50_ms"]["median"]
        rows.append(("  right after the other side", f"{switch:+.2f} ms",
                     f"{mmm(h['http_after_switch_p50_ms'], ' ms', '.2f')} vs "
                     f"{mmm(h['in_process_after_switch_p50_ms'], ' ms', '.2f')} (not a figure)", ""))
    if "index" in s:
        ix = s["index"]
        rows.append(("unchanged re-index", f"{f['reindex_ratio']:.4f}x",
                     f"{mmm(ix['unchanged_run_s'], ' s', '.2f')} vs first run {mmm(ix['first_run_s'], ' s', '.1f')} "
                     f"({ix['files']:,} files, {ix['chunks']:,} chunks)", mark("reindex_ratio")))
        m = ix["memory"]
        rows.append(("peak RSS indexing", f"{f['memory_peak_gib']:.2f} GiB",
                     f"{m['peak_rss_gib'][0]:.2f} GiB at {m['files'][0]:,} files, {m['peak_rss_gib'][1]:.2f} GiB at "
                     f"{m['files'][1]:,} ({m['growth_mib_per_1k_files']} MiB per 1k files)", mark("memory_peak_gib")))
    if "hnsw" in s:
        for n, v in s["hnsw"].items():
            filt = ", ".join(f"{k} allowed: recall {x['recall@10']:.3f}{'' if x['k_hits_inside_filter'] else ' SHORT'}"
                             for k, x in v["filtered"].items())
            rows.append((f"HNSW recall@10 @ {int(n):,}", f"{v['recall@10']:.4f}",
                         f"{v['hnsw_ms_per_query']} ms vs flat {v['flat_ms_per_query']} ms/query, "
                         f"build {v['build_s']} s;"
                         f" filtered {filt}", ""))
    return rows


def _main(argv: list[str]) -> None:
    if argv[:1] == ["--child-index"]:
        logging.basicConfig(level=logging.WARNING)
        res = child_index(Path(argv[1]), Path(argv[2]), int(argv[3]))
        sys.stdout.write(json.dumps(res) + "\n")
        return
    raise SystemExit("usage: semsearch bench (this module's own entry point is for the benchmark's child processes)")


if __name__ == "__main__":
    _main(sys.argv[1:])
