"""The short version of `make crash-test`: three SIGKILLs of a real `semsearch index` over 60 generated
files. After each kill the catalog passes SQLite's integrity check, nothing committed is gone and the
collection opens with its vector index matching the catalog; a last run converges to an uninterrupted run
(same chunk spans, vectors, top-10 results) embedding only what was not committed. (This replaced a
second test of the same kills with weaker checks.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.serving import REPO, cli_env


@pytest.mark.slow
@pytest.mark.timeout(1500)  # the subprocess's own bound: 20+ minutes under a load of 16 on 2 cores
def test_crash_test_survives_three_kills_over_60_files(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "crash_test.py"), "--files", "60", "--kills", "3",
                           "--seed", "2", "--workdir", str(tmp_path), "--json"],
                          env=cli_env(tmp_path / "unused"), capture_output=True, text=True, timeout=1500)
    figures = json.loads(proc.stdout)
    assert proc.returncode == 0 and figures["passed"], proc.stderr[-3000:]
    assert figures["kills_survived"] == 3 and figures["lost_committed_chunks"] == 0
    assert figures["corrupt_collections"] == 0 and figures["same_chunk_spans"]
    assert figures["top10_identical"] == figures["queries"] and figures["min_vector_cosine"] > 0.999
    # the kills interrupted real work, and the last run embedded only what had not been committed
    assert 0 < figures["committed_before_final_run"] < figures["chunks_reference"]
    assert figures["embedded_by_final_run"] <= (figures["chunks_reference"] - figures["committed_before_final_run"]
                                               + figures["batch_chunks"])
