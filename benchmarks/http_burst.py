"""Burst N simultaneous connections at a real server's query route; print p50/p99, the 503 count and the load.

Each burst opens N connections at once and sends one query on each (a mix of a few queries, hybrid
mode, k=10), as a page reload of many users or a crawler would. With the in-flight bound
(SEMSEARCH_MAX_INFLIGHT_QUERIES) the queries past it are answered 503 + Retry-After at once instead of
queueing; this prints how long the served ones took and how many were turned away.

    .venv/bin/python benchmarks/http_burst.py                       # starts its own server (64, 256)
    .venv/bin/python benchmarks/http_burst.py --max-inflight 0      # the same without a bound
    .venv/bin/python benchmarks/http_burst.py --url http://127.0.0.1:8000 --collection notes

Without --url it starts ``uvicorn app.main:create_app --factory`` on a free loopback port over a fresh
data folder holding --docs short generated documents, and stops it at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
QUERIES = ["how do plants turn light into energy", "tides and the moon", "baking bread at home",
           "why is the sky blue", "training a dog to sit", "green tea brewing time"]
TOPICS = ["photosynthesis in leaves", "the moon and ocean tides", "kneading and baking bread", "light scattering",
          "dog training with treats", "brewing green tea", "volcanoes and lava", "the history of printing"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(data_dir: Path, *, env: dict[str, str] | None = None, timeout: float = 180) -> Iterator[str]:
    """A real server on a free loopback port over ``data_dir``; yields its base URL, stops it after."""
    port = free_port()
    full_env = {**os.environ, "SEMSEARCH_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1",
                "PYTHONPATH": str(REPO), **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host",
                             "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            cwd=data_dir, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                out = proc.stdout.read() if proc.stdout else ""
                raise RuntimeError(f"server did not become ready (exit {proc.poll()}):\n{out[-3000:]}")
            time.sleep(0.25)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def seed(base: str, collection: str, docs: int, headers: dict[str, str]) -> None:
    """Create ``collection`` holding ``docs`` generated documents (a few sentences on one topic each)."""
    with httpx.Client(base_url=base, headers=headers, timeout=300) as http:
        http.post("/collections", json={"name": collection})
        batch = [{"id": f"doc-{i}", "text": f"Notes {i} on {TOPICS[i % len(TOPICS)]}. "
                  f"This page explains {TOPICS[(i * 3) % len(TOPICS)]} step by step, with examples and "
                  f"a short summary at the end (version {i})."} for i in range(docs)]
        for at in range(0, len(batch), 100):
            r = http.post(f"/collections/{collection}/documents", json={"documents": batch[at : at + 100]})
            r.raise_for_status()


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


async def burst(base: str, collection: str, connections: int, headers: dict[str, str]) -> dict[str, Any]:
    """One query on each of ``connections`` fresh connections, all sent at once."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=120) as http:
        start = asyncio.Event()

        async def one(i: int) -> tuple[int, float]:
            await start.wait()
            t0 = time.perf_counter()
            r = await http.post(f"/collections/{collection}/query", json={"query": QUERIES[i % len(QUERIES)]})
            return r.status_code, time.perf_counter() - t0

        tasks = [asyncio.ensure_future(one(i)) for i in range(connections)]
        await asyncio.sleep(0)
        started = time.perf_counter()
        start.set()
        results = await asyncio.gather(*tasks)
        wall = time.perf_counter() - started
    ok = [t for status, t in results if status == 200]
    rejected = [t for status, t in results if status == 503]
    return {"connections": connections, "ok": len(ok), "rejected_503": len(rejected),
            "other": len(results) - len(ok) - len(rejected), "wall_s": round(wall, 3),
            "ok_p50_ms": round(percentile(ok, 50) * 1000, 1) if ok else None,
            "ok_p99_ms": round(percentile(ok, 99) * 1000, 1) if ok else None,
            "ok_max_ms": round(max(ok) * 1000, 1) if ok else None,
            "503_p50_ms": round(percentile(rejected, 50) * 1000, 1) if rejected else None,
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def run(base: str, collection: str, connections: list[int], rounds: int,
        headers: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    asyncio.run(burst(base, collection, 2, headers))  # warm up: model caches, connections, the collection
    for n in connections:
        for _ in range(rounds):
            rows.append(asyncio.run(burst(base, collection, n, headers)))
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--connections", type=int, nargs="+", default=[64, 256], help="burst sizes (default 64 256)")
    p.add_argument("--rounds", type=int, default=3, help="bursts per size (default 3)")
    p.add_argument("--url", help="an existing server (default: start one)")
    p.add_argument("--collection", default="burst", help="collection to query (created and filled when started here)")
    p.add_argument("--docs", type=int, default=400, help="generated documents in a started server's collection")
    p.add_argument("--max-inflight", type=int, default=None,
                   help="SEMSEARCH_MAX_INFLIGHT_QUERIES of a started server (default: the setting's default)")
    p.add_argument("--api-key", default=os.environ.get("SEMSEARCH_API_KEY", ""),
                   help="bearer key, if the server needs one")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = p.parse_args(argv)
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    if args.url:
        rows = run(args.url, args.collection, args.connections, args.rounds, headers)
    else:
        env = {} if args.max_inflight is None else {"SEMSEARCH_MAX_INFLIGHT_QUERIES": str(args.max_inflight)}
        with tempfile.TemporaryDirectory(prefix="semsearch-burst-") as tmp, serve(Path(tmp), env=env) as base:
            seed(base, args.collection, args.docs, headers)
            rows = run(base, args.collection, args.connections, args.rounds, headers)
    if args.json:
        print(json.dumps({"max_inflight": args.max_inflight, "bursts": rows}))
        return
    print(f"max in-flight queries: {'server default' if args.max_inflight is None else args.max_inflight}")
    print(f"{'conns':>6} {'ok':>5} {'503':>5} {'other':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'503 p50':>8} {'wall s':>7}  load average")
    for r in rows:
        print(f"{r['connections']:>6} {r['ok']:>5} {r['rejected_503']:>5} {r['other']:>5} {r['ok_p50_ms']!s:>8} "
              f"{r['ok_p99_ms']!s:>8} {r['ok_max_ms']!s:>8} {r['503_p50_ms']!s:>8} {r['wall_s']:>7}  "
              f"{' '.join(map(str, r['load_average']))}")


if __name__ == "__main__":
    main()
