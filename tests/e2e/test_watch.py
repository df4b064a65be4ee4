"""`semsearch index --watch` keeps a collection in sync with a folder until Ctrl-C."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time

import pytest

from tests.serving import SEMSEARCH, cli_env

pytestmark = pytest.mark.slow  # real processes: skip with -m "not slow"


def test_watch_follows_edits_and_deletions_until_ctrl_c(tmp_path):
    root = tmp_path / "notes"
    root.mkdir()
    (root / "a.md").write_text("Tomatoes need full sun and regular watering.")
    proc = subprocess.Popen([*SEMSEARCH, "index", str(root), "--watch", "--json"], env=cli_env(tmp_path / "data"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[dict] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(json.loads(line))

    threading.Thread(target=pump, daemon=True).start()

    def next_report(timeout: float = 180) -> dict:
        try:
            return lines.get(timeout=timeout)
        except queue.Empty as e:
            proc.kill()
            raise AssertionError(f"no report from --watch; stderr: {proc.stderr.read() if proc.stderr else ''}") from e

    try:
        assert next_report()["files"]["added"] == 1
        # at once: watching began before the first round, so a change right after it is not missed
        (root / "b.md").write_text("Basil grows well next to tomatoes.")
        report = next_report()
        while report["files"]["added"] == 0:  # a burst of events may arrive as more than one round
            report = next_report()
        assert report["files"]["added"] == 1 and report["chunks"]["total"] == 2
        (root / "a.md").unlink()
        report = next_report()
        while report["files"]["removed"] == 0:
            report = next_report()
        assert report["chunks"]["total"] == 1
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0


#: Files of the round that Ctrl-C stops: enough for a round of several seconds (it is stopped at its first
#: progress line), few enough that the run after it finishes the rest in seconds (300 took ~2 minutes).
FILES = 60


def test_ctrl_c_during_a_round_stops_it_cleanly(tmp_path):
    """Ctrl-C while a round is indexing: the round stops at its next check, what it committed stays,
    the collection closes normally (exit 0), and the next run finishes the rest. The files are written
    right after the first round's report; before watching began ahead of that round, they were missed."""
    root = tmp_path / "notes"
    root.mkdir()
    (root / "a.md").write_text("Tomatoes need full sun and regular watering.")
    env = cli_env(tmp_path / "data", SEMSEARCH_BATCH_CHUNKS="8")
    proc = subprocess.Popen([*SEMSEARCH, "index", str(root), "--watch", "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out: queue.Queue[dict] = queue.Queue()
    err: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [out.put(json.loads(line)) for line in proc.stdout], daemon=True).start()
    threading.Thread(target=lambda: [err.put(line) for line in proc.stderr], daemon=True).start()
    try:
        assert out.get(timeout=180)["files"]["added"] == 1
        for i in range(FILES):
            (root / f"f{i:03}.md").write_text(f"Note {i}: basil, tomatoes and peppers share a bed. " * 30)
        deadline = time.monotonic() + 120
        while "indexing: " not in (line := err.get(timeout=120)) or "/1 files" in line:
            assert time.monotonic() < deadline, "the second round never started"
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    rest = []
    while not err.empty():
        rest.append(err.get())
    assert "stopped watching" in "".join(rest) and "Traceback" not in "".join(rest)
    again = subprocess.run([*SEMSEARCH, "index", str(root), "--json"], env=env, capture_output=True, text=True,
                           timeout=300)
    report = json.loads(again.stdout)
    assert report["files"]["added"] + report["files"]["resumed"] + report["files"]["unchanged"] == FILES + 1
    assert report["chunks"]["total"] >= FILES + 1
