"""End-to-end tests run the real ``semsearch`` command in a subprocess (helpers: tests/serving.py).
Everything under tests/e2e is ``slow`` (tests/conftest.py marks it)."""

from __future__ import annotations

import subprocess

import pytest

from tests.serving import SEMSEARCH, cli_env


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
