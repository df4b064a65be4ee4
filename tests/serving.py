"""A real ``semsearch serve`` in a subprocess on a free loopback port (browser and README tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from benchmarks.suite.http import stop_process

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 600) -> None:
    # A bound, not a speed check: the first load converts the model for a fresh cache, minutes on a
    # shared machine.
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            out = log.read_text(errors="replace")
            raise RuntimeError(f"semsearch serve did not become ready (exit {proc.poll()}):\n{out[-3000:]}")
        time.sleep(0.25)


@contextmanager
def serve(data_dir: Path, **env: str) -> Iterator[str]:
    """Run ``semsearch serve`` over ``data_dir`` with extra SEMSEARCH_* settings; yields its base URL.
    Its log goes to ``serve.log`` beside ``data_dir`` (a pipe nobody reads would fill and stall it)."""
    port = free_port()
    full = {**os.environ, "SEMSEARCH_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO),
            **env}
    log = data_dir.parent / "serve.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=data_dir, env=full, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc, log)
        yield base
    finally:
        stop_process(proc, timeout=30)
