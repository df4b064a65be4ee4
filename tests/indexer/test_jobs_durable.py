"""Durable jobs: state in a file every process sees, honest final states, cancel across processes,
interrupted after a crash or a shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from indexer.jobs import JobManager
from indexer.stores.embedded.job_table import SqliteJobTable

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def jobs_path(tmp_path):
    return tmp_path / "jobs.sqlite3"


def test_a_cancel_the_work_never_saw_leaves_it_succeeded(jobs_path):
    m = JobManager(SqliteJobTable(jobs_path))
    started, go = threading.Event(), threading.Event()

    def ignores_cancel(progress, cancel):
        started.set()
        go.wait(10)
        return {"files": 3}

    job = m.submit("c", ignores_cancel)
    started.wait(10)
    m.cancel(job.id)  # asked while it runs, but it finishes everything anyway
    go.set()
    done = m.wait(job.id, 10)
    assert done.state == "succeeded" and done.cancel_requested and done.report == {"files": 3}
    assert m.cancel(job.id).state == "succeeded"  # cancelling a finished job changes nothing

    def stops_when_asked(progress, cancel):
        while not cancel.is_set():
            time.sleep(0.01)
        return {"files": 1}

    job = m.submit("c", stops_when_asked)
    m.cancel(job.id)
    assert m.wait(job.id, 10).state == "cancelled"
    m.shutdown()


def test_jobs_survive_a_restart_of_the_manager(jobs_path):
    m = JobManager(SqliteJobTable(jobs_path))
    job = m.submit("c", lambda p, c: {"ok": True}, params={"path": "/x"})
    assert m.wait(job.id, 10).state == "succeeded"
    m.shutdown()
    again = JobManager(SqliteJobTable(jobs_path))
    back = again.get(job.id)
    assert back.state == "succeeded" and back.report == {"ok": True} and back.params == {"path": "/x"}
    assert [j.id for j in again.list_jobs(key="c")] == [job.id]
    again.shutdown()


def test_shutdown_marks_running_and_queued_jobs_interrupted(jobs_path):
    m = JobManager(SqliteJobTable(jobs_path))

    def long(progress, cancel):
        progress({"files_done": 2, "chunks_embedded": 5, "files_committed": 1, "chunks_committed": 3})
        while not cancel.is_set():
            time.sleep(0.01)
        return {}

    running = m.submit("c", long)
    queued = m.submit("c", long)
    while m.get(running.id).state != "running":
        time.sleep(0.01)
    m.shutdown()
    again = JobManager(SqliteJobTable(jobs_path))
    for job_id in (running.id, queued.id):
        j = again.get(job_id)
        assert j.state == "interrupted" and j.error["code"] == "interrupted"
    assert again.get(running.id).progress["files_done"] == 2
    said = again.get(running.id).error["message"]  # what is committed, not the batch in flight
    assert "committed 1 new or changed file(s) and 3 chunk(s)" in said and "5 chunk" not in said
    again.shutdown()


WORKER = """
import sys, time
from indexer.jobs import JobManager
from indexer.stores.embedded.job_table import SqliteJobTable
m = JobManager(SqliteJobTable(sys.argv[1]))
def work(progress, cancel):
    progress({"files_done": 4, "chunks_embedded": 9, "files_committed": 3, "chunks_committed": 6})
    while not cancel.is_set():
        time.sleep(0.02)
    return {"stopped": True}
job = m.submit("c", work)
print(job.id, flush=True)
m.wait(job.id)
print(m.get(job.id).state, flush=True)
sys.stdin.read()  # stay alive until told
"""


@pytest.mark.slow  # a real process
def test_another_process_sees_and_cancels_a_running_job(jobs_path):
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(jobs_path)], cwd=REPO, stdout=subprocess.PIPE,
                            stdin=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        job_id = proc.stdout.readline().strip()
        here = JobManager(SqliteJobTable(jobs_path))  # "another worker" of the same server
        deadline = time.monotonic() + 20
        while here.get(job_id).state != "running" or "files_done" not in here.get(job_id).progress:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert here.get(job_id).progress["files_done"] == 4
        here.cancel(job_id)
        assert proc.stdout.readline().strip() == "cancelled"  # the owner saw the flag and stopped
        assert here.get(job_id).state == "cancelled" and here.get(job_id).report == {"stopped": True}
        here.shutdown()
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow  # SIGKILLs a real process
def test_a_killed_process_leaves_its_jobs_interrupted_with_their_progress(jobs_path):
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(jobs_path)], cwd=REPO, stdout=subprocess.PIPE,
                            stdin=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    job_id = proc.stdout.readline().strip()
    probe = JobManager(SqliteJobTable(jobs_path))
    deadline = time.monotonic() + 20
    while "files_done" not in probe.get(job_id).progress:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert probe.get(job_id).state == "running"  # its owner lives: not touched
    probe.shutdown()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    restarted = JobManager(SqliteJobTable(jobs_path))
    job = restarted.get(job_id)
    assert job.state == "interrupted" and job.progress == {"files_done": 4, "chunks_embedded": 9,
                                                           "files_committed": 3, "chunks_committed": 6}
    assert "committed 3 new or changed file(s) and 6 chunk(s)" in job.error["message"] and json.dumps(job.to_dict())
    restarted.shutdown()
