"""benchmarks/cli_wall_time.py, run tiny: it times `semsearch query` without and with a real server
and checks every way printed the same answer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "cli_wall_time.py"


def test_the_benchmark_times_both_ways_and_they_agree(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--runs", "1", "--files", "2", "--json"],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [r["label"].split(" ")[0] for r in result["rows"]] == ["no", "server", "server"]
    assert all(r["runs"] == 1 and 0 < r["min_s"] <= r["median_s"] <= r["max_s"] and r["cpu_median_s"] > 0
               for r in result["rows"])
    assert result["same_output"] is True
    assert len(result["load_average_before"]) == len(result["load_average_after"]) == 3
