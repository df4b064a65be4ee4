"""Wall time of ``semsearch query`` without a server (the model loads in the process) and with one
(the CLI finds ``semsearch serve`` on SEMSEARCH_HOST:SEMSEARCH_PORT, or is told ``--server URL``).

    .venv/bin/python benchmarks/cli_wall_time.py [--runs 5] [--json]

It indexes this repository's own documentation (README.md, DEVELOPERS.md, docs/) into a temporary
data folder, runs the same query ``--runs`` times each way as a user would (a fresh process each
time), checks that every way prints the same JSON, and prints the median, min and max wall seconds,
the median CPU seconds of the process (user + system: close to the wall time on an idle machine) and
the load average before and after (the machine may be shared: read the figures next to it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.suite.http import _free_port, _wait_ready, stop_process  # noqa: E402

SEMSEARCH = [sys.executable, "-m", "app.cli"]
QUERY = "how do I rotate the API keys"


def corpus(dest: Path, limit: int | None = None) -> Path:
    """The repository's documentation, copied (the index must not follow the working tree)."""
    files = [ROOT / "README.md", ROOT / "DEVELOPERS.md", *sorted((ROOT / "docs").glob("*.md"))]
    dest.mkdir(parents=True)
    for f in [f for f in files if f.is_file()][:limit]:
        shutil.copy(f, dest / f.name)
    return dest


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system: what the wall time would be on an idle core) and stdout."""
    cpu, start = _children_cpu(), time.perf_counter()
    proc = subprocess.run([*SEMSEARCH, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if proc.returncode != 0:
        raise RuntimeError(f"semsearch {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
    return seconds, cpu, proc.stdout


def timed(label: str, args: list[str], env: dict[str, str], cwd: Path, runs: int) -> dict[str, Any]:
    times, cpus, outputs = [], [], set()
    for _ in range(runs):
        seconds, cpu, stdout = run(args, env, cwd)
        times.append(seconds)
        cpus.append(cpu)
        outputs.add(stdout)
    if len(outputs) != 1:
        raise RuntimeError(f"{label}: the runs printed different answers")
    return {"label": label, "median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3),
            "max_s": round(max(times), 3), "cpu_median_s": round(statistics.median(cpus), 3),
            "runs": runs, "output": outputs.pop()}


def measure(runs: int, work: Path, *, files: int | None = None) -> dict[str, Any]:
    data = work / "data"
    env = {**os.environ, "SEMSEARCH_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    env.pop("SEMSEARCH_URL", None)
    load_before = os.getloadavg()
    run(["index", str(corpus(work / "docs", files)), "--json"], env, work)
    query = ["query", QUERY, "--k", "5", "--json"]
    rows = [timed("no server (model loads in the process)", [*query, "--server", "none"], env, work, runs)]

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    found = {**env, "SEMSEARCH_HOST": "127.0.0.1", "SEMSEARCH_PORT": str(port)}
    proc = subprocess.Popen([*SEMSEARCH, "serve"], env=found, cwd=work, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        _wait_ready(url, proc, timeout=300)
        rows.append(timed("server found on SEMSEARCH_HOST:SEMSEARCH_PORT", query, found, work, runs))
        rows.append(timed("server named by --server URL", [*query, "--server", url], env, work, runs))
    finally:
        stop_process(proc, timeout=60)
    same = len({r.pop("output") for r in rows}) == 1
    return {"query": QUERY, "rows": rows, "same_output": same,
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="runs per way (the median is reported)")
    ap.add_argument("--files", type=int, default=None, help="index only this many documentation files")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="semsearch-cli-bench-") as tmp:
        result = measure(a.runs, Path(tmp), files=a.files)
    if a.json:
        print(json.dumps(result))
        return
    print(f"semsearch query {QUERY!r} --k 5 --json, {a.runs} runs each (fresh process per run)")
    for r in result["rows"]:
        print(f"  {r['label']:<48} median {r['median_s']:.2f} s  (min {r['min_s']:.2f}, max {r['max_s']:.2f}); "
              f"CPU {r['cpu_median_s']:.2f} s")
    print(f"  same output every way: {'yes' if result['same_output'] else 'NO'}")
    before, after = result["load_average_before"], result["load_average_after"]
    print(f"load average {' '.join(map(str, before))} before, {' '.join(map(str, after))} after "
          f"({result['cpus']} cpus)")
    if not result["same_output"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
