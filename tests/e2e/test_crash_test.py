"""The short version of `make crash-test`: three SIGKILLs over 200 generated files, nothing lost."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.serving import REPO, cli_env


@pytest.mark.slow
@pytest.mark.timeout(1500)  # the subprocess's own bound: 20+ minutes under a load of 16 on 2 cores
def test_crash_test_survives_three_kills_over_200_files(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "crash_test.py"), "--files", "200", "--kills", "3",
                           "--seed", "2", "--workdir", str(tmp_path), "--json"],
                          env=cli_env(tmp_path / "unused"), capture_output=True, text=True, timeout=1500)
    figures = json.loads(proc.stdout)
    assert proc.returncode == 0 and figures["passed"], proc.stderr[-3000:]
    assert figures["kills_survived"] == 3 and figures["lost_committed_chunks"] == 0
    assert figures["corrupt_collections"] == 0 and figures["same_chunk_spans"]
