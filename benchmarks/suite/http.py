"""Section ``http``: the real server in a subprocess, throughput at concurrency N vs 1 and the lone-query
overhead against the same search in process."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.suite.config import LONE_BLOCK, BenchConfig
from benchmarks.suite.corpus import Corpus, replicate, unique_queries
from benchmarks.suite.stats import percentile, ratio, summarize

log = logging.getLogger(__name__)


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


def _service(data_dir: Path, embedder: Any) -> Any:
    """The front door over an embedded store in ``data_dir``, with the given model (settings otherwise
    from the environment, as the server subprocess reads them). No embedding cache: the collection is
    filled with pooled vectors (``_PoolEmbedder``) that must never be kept as the model's."""
    from app.service import Service
    from app.settings import Settings

    return Service.from_settings(Settings(data_dir=data_dir, store="embedded", embedding_cache_mb=0),
                                 embedder=embedder)


def build_collection(data_dir: Path, name: str, embedder: Any, corpus: Corpus, vectors: np.ndarray,
                     n: int) -> int:
    """A collection of about ``n`` one-chunk documents: corpus chunks replicated, replicated vectors."""
    pool = replicate(vectors, n, seed=1)
    service = _service(data_dir, _PoolEmbedder(embedder, pool))
    try:
        with service.open_collection(name, create=True) as coll:
            batch: list[dict[str, Any]] = []
            for i in range(n):
                text = corpus.chunks[i % len(corpus.chunks)]
                batch.append({"id": f"d{i}", "text": text, "metadata": {"copy": i // len(corpus.chunks)}})
                if len(batch) == 1000:
                    coll.upsert_documents(batch)
                    batch = []
            if batch:
                coll.upsert_documents(batch)
            return coll.store.count_chunks()
    finally:
        service.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_http(embedder: Any, corpus: Corpus, base: np.ndarray, cfg: BenchConfig, work: Path) -> dict[str, Any]:
    """The real server in a subprocess: qps at concurrency N vs 1, and concurrency-1 p50 vs in process."""
    import http.client
    import urllib.parse

    data_dir = work / "http-data"
    chunks = build_collection(data_dir, "bench", embedder, corpus, base, cfg.index_size)
    port = _free_port()
    env = {**os.environ, "SEMSEARCH_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "SEMSEARCH_API_KEYS": "", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning", "--no-access-log"]
    server_log = open(work / "server.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(cmd, env=env, stdout=server_log, stderr=subprocess.STDOUT,
                            cwd=Path(__file__).resolve().parents[2])
    url = f"http://127.0.0.1:{port}"
    service = _service(data_dir, embedder)  # the in-process side of the comparison
    held = contextlib.ExitStack()
    coll = held.enter_context(service.open_collection("bench", create=False))
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
        held.close()
        service.close()
        stop_process(proc, timeout=20)
        server_log.close()


def stop_process(proc: subprocess.Popen[Any], *, timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds; reaps it either way (the
    bench's server and every process the tests start: ``tests/serving.py``)."""
    if proc.poll() is None:
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
