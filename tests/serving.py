"""The test harness's one way to run real processes: the ``semsearch`` command, a real ``semsearch serve``.

Every test that starts a process goes through here (DEVELOPERS.md, "Tests"):

- ``free_port()``: a free loopback port.
- ``SEMSEARCH`` and ``cli_env(data_dir, **settings)``: the command and the environment a CLI subprocess
  runs with (a private data folder, offline, this checkout on PYTHONPATH, never a developer's own server).
- ``serve(data_dir, **settings)``: a real ``semsearch serve`` on a free port, waited for until /readyz
  answers 200, stopped after; yields a ``Server`` (its URL, port, log file and the CLI settings to reach it).
- ``stop_process(proc)``: SIGTERM, wait, SIGKILL (the bench's, re-exported).

Tests that use these start real processes, so they are ``slow`` (tests/conftest.py marks tests/e2e and
tests/browser; a test elsewhere carries ``@pytest.mark.slow``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks.suite.http import stop_process  # the one stop-by-pid helper, shared with the bench

REPO = Path(__file__).resolve().parents[1]
#: ``semsearch`` as a user runs it, from this checkout and this interpreter.
SEMSEARCH = [sys.executable, "-m", "app.cli"]


def until(check: Any, timeout: float) -> Any:
    """Call ``check()`` every 0.1 s until it returns something true, and return that; fail after ``timeout``
    seconds (a bound, not a speed check)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout:.0f}s")


def free_port() -> int:
    """A loopback port nobody listens on (the OS picks it; it stays free until someone binds it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``semsearch`` subprocess over ``data_dir``, plus ``extra`` settings."""
    env = {**os.environ, "SEMSEARCH_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    for client_setting in ("SEMSEARCH_URL", "SEMSEARCH_API_KEY"):  # a developer's own server is never asked
        env.pop(client_setting, None)
    env.update(extra)
    return env


def as_json(proc: subprocess.CompletedProcess[str]) -> Any:
    """The JSON a ``semsearch ... --json`` run printed."""
    return json.loads(proc.stdout)


def wait_ready(base: str, proc: subprocess.Popen[Any], log: Path, timeout: float = 600) -> None:
    """Poll ``base``/readyz until it answers 200; fail with the log's tail if ``proc`` exits or time runs out.
    The timeout is a bound, not a speed check: a first load converts the model, minutes on a shared machine."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            out = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"semsearch serve did not become ready (exit {proc.poll()}):\n{out[-3000:]}")
        time.sleep(0.25)


@dataclass(frozen=True)
class Server:
    """A running ``semsearch serve``."""

    url: str  #: http://127.0.0.1:PORT
    port: int
    log: Path  #: its stdout and stderr (read it after the ``with`` block for the complete log)
    pid: int = 0  #: its process id (a crash test SIGKILLs it; a limits test reads /proc/PID/status)

    @property
    def client_env(self) -> dict[str, str]:
        """The settings a ``semsearch`` CLI finds this server by (its configured address)."""
        return {"SEMSEARCH_HOST": "127.0.0.1", "SEMSEARCH_PORT": str(self.port)}


@contextmanager
def serve(data_dir: Path, *, cwd: Path | None = None, timeout: float = 600, **settings: str) -> Iterator[Server]:
    """Run ``semsearch serve --host 127.0.0.1 --port PORT`` (a free port) over ``data_dir`` with extra
    SEMSEARCH_* ``settings``, in ``cwd`` (default: ``data_dir``); wait for /readyz, stop it after.

    Its log goes to ``serve-PORT.log`` beside ``data_dir`` (a pipe nobody reads would fill and stall it)."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir.parent / f"serve-{port}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([*SEMSEARCH, "serve", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=cwd or data_dir, env=cli_env(data_dir, **settings), stdout=out,
                                stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", port, log, proc.pid)
    try:
        wait_ready(server.url, proc, log, timeout)
        yield server
    finally:
        stop_process(proc, timeout=60)
