"""Helpers for end-to-end tests that run the real ``semsearch`` command in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SEMSEARCH = [sys.executable, "-m", "app.cli"]
REPO = Path(__file__).resolve().parents[2]


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "SEMSEARCH_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
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
