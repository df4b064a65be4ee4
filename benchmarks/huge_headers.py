"""Huge request heads against a real ``semsearch serve``: how fast it answers and what it costs in memory.

    .venv/bin/python benchmarks/huge_headers.py [--mb 200] [--parallel 4]

Streams one header value of --mb megabytes (never ending it) at the server, with and without an API
key, then --parallel such streams at once, and prints for each: the answer's status, the seconds until
the server answered (or dropped the connection), how many bytes the client got out before that, and
the server's resident memory and peak (``VmRSS``/``VmHWM``) before and after. Issue 26 measured 571 s for
one 200 MB header and 535 MB -> 1.4 GB for four at once, before heads were bounded.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.http_burst import serve  # noqa: E402

KEY = "bench-key"


def memory_mb(pid: int) -> dict[str, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {k: round(int(fields[k].split()[0]) / 1024, 1) for k in ("VmRSS", "VmHWM")}


def stream(port: int, total: int, auth: bool) -> dict[str, Any]:
    """Send a head whose one header never ends, up to ``total`` bytes; stop when the server answers."""
    head = b"GET /collections HTTP/1.1\r\nHost: x\r\n" + (f"Authorization: Bearer {KEY}\r\n".encode() if auth else b"")
    chunk = b"a" * (1 << 20)
    t0 = time.perf_counter()
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=600) as sock:
        try:
            sock.sendall(head + b"X-Big: ")
            while sent < total:
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            answer = sock.recv(4096)
        except ConnectionResetError:
            answer = b""
    return {"status": answer.split(b" ")[1].decode() if answer.startswith(b"HTTP/") else "dropped",
            "seconds": round(time.perf_counter() - t0, 3), "sent_mb": round(sent / (1 << 20), 2)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mb", type=int, default=200, help="size of the header value streamed (default 200)")
    p.add_argument("--parallel", type=int, default=4, help="streams at once in the last row (default 4)")
    args = p.parse_args(argv)
    pids: list[int] = []
    with tempfile.TemporaryDirectory(prefix="semsearch-headers-") as tmp, \
            serve(Path(tmp), env={"SEMSEARCH_API_KEYS": KEY}, pids=pids) as base:
        port, pid = int(base.rsplit(":", 1)[1]), pids[0]
        print(f"server memory at start: {memory_mb(pid)}")
        for auth in (False, True):
            r = stream(port, args.mb << 20, auth)
            print(f"one {args.mb} MB header, {'with' if auth else 'without'} a key: {r}; server {memory_mb(pid)}")
        results: list[dict[str, Any]] = []
        threads = [threading.Thread(target=lambda: results.append(stream(port, args.mb << 20, False)))
                   for _ in range(args.parallel)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(f"{args.parallel} at once: all answered in {time.perf_counter() - t0:.3f} s: {results}; "
              f"server {memory_mb(pid)}")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cpus)")


if __name__ == "__main__":
    main()
