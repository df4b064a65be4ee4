"""The short version of `make escape-test`: static and racing escapes out of a real server's roots all fail."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.serving import REPO, cli_env


@pytest.mark.slow
def test_escape_attempts_against_a_real_server_are_all_refused_or_read_nothing_outside(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "escape_test.py"), "--files", "8",
                           "--race-jobs", "1", "--workdir", str(tmp_path), "--json"],
                          env=cli_env(tmp_path / "unused"), capture_output=True, text=True, timeout=550)
    figures = json.loads(proc.stdout)
    assert proc.returncode == 0 and figures["passed"], proc.stderr[-3000:]
    assert figures["attempts_static"] == 12 and figures["attempts_racing"] == 5
    assert figures["refused"] >= 10 and figures["server_errors"] == 0  # every static way out is a 403/422
    assert figures["swaps"] > 0 and figures["root_repoints"] > 0  # the races really ran
    assert figures["accepted_escapes"] == 0 and figures["outside_chunks_indexed"] == 0
    assert figures["hard_link_chunks_indexed"] == 1  # documented: a hard link inside a root is indexed
