"""Is the GET query fast path still worth it? ``GET /collections/NAME/query`` with and without it, side by side.

Two servers over one data folder (the shipped corpus's documents, indexed once): one is the app as
``semsearch serve`` builds it, the other the same app with the ``GetQueryFastPath`` middleware taken
out, so the GET route answers every query. Each round runs concurrency 1 and 8 against both, in
alternating order (A/B then B/A), on the same fresh query texts (each server sees each text once,
so no cache answers). Prints p50 latency and queries/s per side, and the ratios.

    .venv/bin/python benchmarks/get_fast_path.py [--rounds 6] [--requests 60] [--mode dense|keyword] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a clone: the app next to this folder


def serve(port: int, fast: bool) -> None:
    """The child: the app (optionally without the fast path) on ``port``, until terminated."""
    import uvicorn

    from app.main import create_app

    app = create_app()
    if not fast:
        app.user_middleware = [m for m in app.user_middleware if getattr(m.cls, "__name__", "") != "GetQueryFastPath"]
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/readyz")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("server not ready")


def run(port: int, concurrency: int, texts: list[str], mode: str = "dense") -> tuple[float, float]:
    """(queries/s, p50 ms) of ``texts`` spread over ``concurrency`` keep-alive clients."""
    lat: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(concurrency + 1)

    def worker(part: list[str]) -> None:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("GET", "/healthz")
        c.getresponse().read()
        start.wait()
        for q in part:
            t0 = time.perf_counter()
            c.request("GET", "/collections/bench/query?" + urllib.parse.urlencode({"q": q, "k": 10, "mode": mode}))
            r = c.getresponse()
            body = r.read()
            dt = (time.perf_counter() - t0) * 1000
            if r.status != 200:
                raise RuntimeError(f"{r.status}: {body[:200]!r}")
            with lock:
                lat.append(dt)
        c.close()

    threads = [threading.Thread(target=worker, args=(texts[i::concurrency],)) for i in range(concurrency)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return len(texts) / (time.perf_counter() - t0), statistics.median(lat)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--requests", type=int, default=60, help="queries per side, concurrency level and round")
    p.add_argument("--corpus", type=Path, default=REPO / "tests" / "corpus")
    p.add_argument("--mode", default="dense", help="dense (a forward pass per query) or keyword (none: the "
                   "HTTP layer's own cost shows)")
    p.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    p.add_argument("--no-fast-path", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.serve:
        serve(a.serve, not a.no_fast_path)
        return
    from app.service import Service
    from app.settings import Settings

    queries = [json.loads(line)["text"] for line in (a.corpus / "queries.jsonl").read_text().splitlines() if line]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SEMSEARCH_DATA_DIR": tmp, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "SEMSEARCH_API_KEYS": "", "TOKENIZERS_PARALLELISM": "false"}
        os.environ.update(env)
        service = Service.from_settings(Settings.load())
        try:
            report = service.index_folder("bench", a.corpus / "docs", create=True)
        finally:
            service.close()
        print(f"indexed {report.to_dict()['chunks']['embedded']} chunks", file=sys.stderr)
        ports = {"fast": _free_port(), "plain": _free_port()}
        procs: dict[str, subprocess.Popen[bytes]] = {}
        try:
            for side, port in ports.items():
                cmd = [sys.executable, __file__, "--serve", str(port)] + (["--no-fast-path"] if side == "plain" else [])
                procs[side] = subprocess.Popen(cmd, env=env)
            for side, port in ports.items():
                _wait_ready(port, procs[side])
            n = 0

            def texts(k: int) -> list[str]:
                nonlocal n
                out = [f"{queries[(n + i) % len(queries)]} ({(n + i) // len(queries)})" for i in range(k)]
                n += k
                return out

            for side in ports:  # warm-up
                run(ports[side], 8, texts(16), a.mode)
            res: dict[str, dict[str, list[float]]] = {s: {"qps1": [], "p50_1": [], "qps8": [], "p50_8": []}
                                                      for s in ports}
            for r in range(a.rounds):
                order = ("fast", "plain") if r % 2 == 0 else ("plain", "fast")
                for conc in (1, 8):
                    batch = texts(a.requests)
                    for side in order:
                        qps, p50 = run(ports[side], conc, batch, a.mode)
                        res[side][f"qps{conc}"].append(qps)
                        res[side][f"p50_{conc}"].append(p50)
            med: dict[str, Any] = {s: {k: round(statistics.median(v), 2) for k, v in d.items()} for s, d in res.items()}
            med["fast/plain"] = {k: round(med["fast"][k] / med["plain"][k], 3) for k in med["fast"]}
            out = {"mode": a.mode, "rounds": a.rounds, "requests": a.requests, "median": med, "raw": res}
            print(json.dumps(out, indent=1))
        finally:
            for proc in procs.values():
                proc.terminate()
                proc.wait(timeout=20)


if __name__ == "__main__":
    main()
