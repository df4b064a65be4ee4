"""The job table contract (indexer/job_table.py), the same for the SQLite file and for Qdrant (local
mode here; a real server when SEMSEARCH_TEST_QDRANT_URL names one), and two job managers over one
Qdrant - two API replicas that share nothing else - seeing and cancelling each other's jobs."""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest

from indexer.jobs import JobManager
from indexer.stores.embedded.job_table import SqliteJobTable

SERVER = os.environ.get("SEMSEARCH_TEST_QDRANT_URL", "")
KINDS = ["sqlite", "qdrant-local", "postgres", *(["qdrant-server"] if SERVER else [])]


@pytest.fixture(params=KINDS)
def backend_and_table(request, tmp_path):
    if request.param == "sqlite":
        table = SqliteJobTable(tmp_path / "jobs.sqlite3")
        yield None, table
        table.close()
        return
    if request.param == "postgres":
        from indexer.stores.postgres import PostgresBackend

        pg = PostgresBackend(request.getfixturevalue("postgres_db"))
        yield pg, pg.job_table()
        pg.close()
        return
    from indexer.stores.qdrant import QdrantBackend

    qb = QdrantBackend(path=tmp_path / "qdrant") if request.param == "qdrant-local" else QdrantBackend(url=SERVER)
    if request.param == "qdrant-server":
        qb.call("delete_collection", "semsearch-jobs", what="start from an empty job table")
    yield qb, qb.job_table()
    qb.close()


def row(key: str = "notes", state: str = "queued", created_at: float | None = None) -> dict:
    now = time.time() if created_at is None else created_at
    return {"id": uuid.uuid4().hex, "key": key, "kind": "index_folder", "params": {"path": "/docs"}, "state": state,
            "created_at": now, "progress": {}, "cancel_requested": False, "owner": "h:1:t", "heartbeat": now}


def test_rows_round_trip_and_list_newest_first(backend_and_table):
    _, t = backend_and_table
    a, b, c = row(created_at=1.0), row(key="other", created_at=2.0), row(state="running", created_at=3.0)
    for r in (a, b, c):
        t.insert(r)
    got = t.get(a["id"])
    assert got is not None and {k: got[k] for k in a} == a
    assert got["report"] is None and got["error"] is None and got["started_at"] is None
    assert t.get(uuid.uuid4().hex) is None
    assert [r["id"] for r in t.select()] == [c["id"], b["id"], a["id"]]
    assert [r["id"] for r in t.select(key="notes")] == [c["id"], a["id"]]
    assert [r["id"] for r in t.select(states=["running"])] == [c["id"]]
    assert [r["id"] for r in t.select(ids=[a["id"], b["id"]])] == [b["id"], a["id"]]


def test_a_conditional_update_takes_only_from_the_states_named(backend_and_table):
    _, t = backend_and_table
    r = row()
    t.insert(r)
    assert t.update(r["id"], {"state": "running", "started_at": 5.0}, where_state=["queued"])
    assert not t.update(r["id"], {"state": "cancelled"}, where_state=["queued"])  # lost the race: no change
    assert t.get(r["id"])["state"] == "running"
    assert t.update(r["id"], {"progress": {"files_done": 3}, "cancel_requested": True})
    assert t.update(r["id"], {"state": "succeeded", "report": {"files": 3}, "finished_at": 9.0},
                    where_state=["running"])
    got = t.get(r["id"])
    assert (got["state"], got["progress"], got["report"], got["cancel_requested"]) == (
        "succeeded", {"files_done": 3}, {"files": 3}, True)
    assert not t.update(uuid.uuid4().hex, {"state": "running"})


def test_touch_and_prune(backend_and_table):
    _, t = backend_and_table
    live, rows = row(state="running"), [row(state="succeeded") for _ in range(4)]
    for i, r in enumerate([live, *rows]):
        t.insert({**r, "finished_at": float(i) if r is not live else None})
    t.touch([live["id"]], 1234.5)
    assert t.get(live["id"])["heartbeat"] == 1234.5
    t.prune(2)
    assert {r["id"] for r in t.select()} == {live["id"], rows[2]["id"], rows[3]["id"]}  # the newest finished kept


@pytest.mark.parametrize("store", ["qdrant-local", "postgres"])
def test_two_managers_over_one_store_see_and_cancel_each_others_jobs(tmp_path, request, store):
    """Two replicas over one store: each job is listed by both and cancelled from the one not running it."""
    if store == "postgres":  # two backends: two connection pools, as two replicas have
        from indexer.stores.postgres import PostgresBackend

        url = request.getfixturevalue("postgres_db")
        qb, other = PostgresBackend(url), PostgresBackend(url)
    else:
        from indexer.stores.qdrant import QdrantBackend

        qb = other = QdrantBackend(path=tmp_path / "qdrant")  # local mode is one process: one client for both
    a, b = JobManager(qb.job_table()), JobManager(other.job_table())
    started = threading.Event()

    def until_cancelled(progress, cancel):
        progress({"files_done": 1})
        started.set()
        while not cancel.is_set():
            time.sleep(0.02)
        return {"stopped": True}

    try:
        job = a.submit("notes", until_cancelled, params={"path": "/docs"})
        queued = a.submit("notes", lambda p, c: {"ran": True})  # waits behind the first on its replica
        assert started.wait(20)
        deadline = time.monotonic() + 20
        while b.get(job.id).progress.get("files_done") != 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert [j.id for j in b.active("notes")] == [queued.id, job.id]
        assert b.cancel(queued.id).state == "cancelled"  # a queued job ends at once, wherever it was queued
        b.cancel(job.id)
        done = b.wait(job.id, 20)  # the owner's watcher saw the flag within its poll interval
        assert (done.state, done.report, done.cancel_requested) == ("cancelled", {"stopped": True}, True)
        assert a.get(queued.id).state == "cancelled" and a.wait(queued.id, 5).report is None
    finally:
        a.shutdown()
        b.shutdown()
        qb.close()
        if other is not qb:
            other.close()
