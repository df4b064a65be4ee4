"""Helpers for end-to-end tests that run the real ``semsearch`` command in a subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SEMSEARCH = [sys.executable, "-m", "app.cli"]
REPO = Path(__file__).resolve().parents[2]


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "SEMSEARCH_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    for client_setting in ("SEMSEARCH_URL", "SEMSEARCH_API_KEY"):  # a developer's own server is never asked
        env.pop(client_setting, None)
    env.update(extra)
    return env


@pytest.fixture
def run_cli(tmp_path):
    """Run ``semsearch ARGS`` with a private data folder; returns (exit code, stdout, stderr)."""
    data = tmp_path / "data"

    def run(*args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*SEMSEARCH, *args], env=cli_env(data, **env), capture_output=True, text=True,
                              timeout=300, cwd=tmp_path)
        if check and proc.returncode != 0:
            raise AssertionError(f"semsearch {' '.join(args)} exited {proc.returncode}\n{proc.stderr}")
        return proc

    run.data_dir = data  # type: ignore[attr-defined]
    return run


def as_json(proc: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(proc.stdout)


def free_port() -> int:
    from benchmarks.suite.http import _free_port

    return _free_port()


@contextlib.contextmanager
def running_server(data_dir: Path, cwd: Path, **env: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A real ``semsearch serve`` on a free port; yields its URL and the environment a CLI needs to
    find it on the configured address (SEMSEARCH_HOST/PORT, same data folder and model)."""
    from benchmarks.suite.http import _wait_ready, stop_process

    port = free_port()
    server_env = cli_env(data_dir, SEMSEARCH_HOST="127.0.0.1", SEMSEARCH_PORT=str(port), **env)
    proc = subprocess.Popen([*SEMSEARCH, "serve"], env=server_env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        _wait_ready(f"http://127.0.0.1:{port}", proc, timeout=180)
        yield f"http://127.0.0.1:{port}", {"SEMSEARCH_HOST": "127.0.0.1", "SEMSEARCH_PORT": str(port)}
    finally:
        stop_process(proc, timeout=60)
