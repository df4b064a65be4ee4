"""SEMSEARCH_STORE=postgres end to end, over real PostgreSQL servers the tests start (tests/postgres_server.py):
the CLI unchanged, two ``semsearch serve`` replicas over one database, and a failover: the
primary SIGKILLed during a stream of acknowledged upserts, its synchronous standby promoted, and the
service (its URL naming both hosts) serving again with no acknowledged write lost."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.indexer.test_collection import TOPICS, make_folder
from tests.postgres_server import PostgresServer
from tests.serving import as_json, serve, until

pytestmark = pytest.mark.slow  # real processes


def _env(url: str, **extra: str) -> dict[str, str]:
    return {"SEMSEARCH_STORE": "postgres", "SEMSEARCH_POSTGRES_URL": url, **extra}



def test_the_cli_unchanged_with_postgres(tmp_path, run_cli, postgres_db):
    root = make_folder(tmp_path / "docs")
    env = _env(postgres_db)
    first = as_json(run_cli("index", str(root), "--json", **env))
    assert first["files"]["added"] == len(TOPICS) and first["chunks"]["total"] == len(TOPICS)
    hits = as_json(run_cli("query", "bake a loaf with a golden crust", "--json", "--k", "3", **env))["hits"]
    assert hits[0]["path"] == str(root / "cooking/bread.md")
    cols = as_json(run_cli("collections", "--json", **env))["collections"]
    assert cols[0]["name"] == "default" and cols[0]["files"] == len(TOPICS)
    assert not (run_cli.data_dir / "collections").exists()  # nothing went to the embedded store
    bad = run_cli("collections", check=False, SEMSEARCH_STORE="postgres",
                  SEMSEARCH_POSTGRES_URL="postgresql://u:secret@127.0.0.1:9/x")
    assert bad.returncode == 3 and "127.0.0.1:9/x" in bad.stderr and "Traceback" not in bad.stderr
    assert "secret" not in bad.stderr


def test_two_replicas_over_one_postgres(tmp_path, run_cli, postgres_db):
    docs = make_folder(tmp_path / "docs")
    big = docs / "big"
    big.mkdir()
    for i in range(60):
        (big / f"f{i}.txt").write_text(" ".join(f"File {i} sentence {j} about rivers." for j in range(200)))
    # The replicas share nothing but the database (each has its own data folder, as on two machines).
    env = _env(postgres_db, SEMSEARCH_ALLOWED_ROOTS=str(tmp_path))
    with serve(run_cli.data_dir, cwd=tmp_path, **env) as replica_a, \
            serve(tmp_path / "data-b", cwd=tmp_path, **env) as replica_b, \
            httpx.Client(timeout=60) as http:
        a, b = replica_a.url, replica_b.url
        assert http.post(f"{a}/collections", json={"name": "notes"}).status_code == 201
        assert "notes" in {c["name"] for c in http.get(f"{b}/collections").json()["collections"]}
        for i, river in enumerate(["Danube", "Rhine", "Elbe", "Oder", "Vistula"]):
            up = http.post(f"{a}/collections/notes/documents", json={"documents": [
                {"id": f"d{i}", "text": f"The {river} flows through several countries."}]})
            assert up.status_code == 200, up.text
            # visible through the other replica as soon as the write returned
            hits = http.get(f"{b}/collections/notes/query", params={"q": river, "mode": "keyword"})
            assert hits.json()["hits"][0]["id"] == f"d{i}"
        assert http.get(f"{b}/collections/notes/documents/d0").json()["text"].startswith("The Danube")
        # a folder job started on one replica is listed and cancelled from the other
        job = http.post(f"{a}/collections/notes/index-folder", json={"path": str(docs)}).json()
        seen = until(lambda: (j := http.get(f"{b}/jobs/{job['id']}").json()).get("id") and j, timeout=60)
        assert seen["id"] == job["id"] and job["id"] in {j["id"] for j in http.get(f"{b}/jobs").json()["jobs"]}
        http.post(f"{b}/jobs/{job['id']}/cancel")
        final = until(lambda: (j := http.get(f"{a}/jobs/{job['id']}").json())["state"] in
                       ("cancelled", "succeeded") and j, timeout=120)
        assert final["cancel_requested"] is True
        snap = http.post(f"{b}/collections/notes/snapshots")
        assert snap.status_code == 501 and "pg_dump" in snap.json()["error"]["message"]
    assert not (run_cli.data_dir / "jobs.sqlite3").exists()  # job state lives in the database


def test_failover_to_a_synchronous_standby_loses_no_acknowledged_write(tmp_path):
    primary = PostgresServer.create().start()
    standby = None
    try:
        primary.create_database("search")
        standby = primary.standby(synchronous=True)
        # One URL naming both hosts: libpq connects to whichever accepts writes.
        url = (f"postgresql://postgres@127.0.0.1:{primary.port},127.0.0.1:{standby.port}/search"
               "?target_session_attrs=read-write&connect_timeout=2")
        acked: list[str] = []
        failed: list[int] = []
        stop = threading.Event()
        with serve(tmp_path / "data", cwd=tmp_path, **_env(url)) as server, \
                httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.post("/collections", json={"name": "notes"}).status_code == 201

            def stream() -> None:
                i = 0
                while not stop.is_set():
                    doc = {"id": f"w{i}", "text": f"Write number {i} of the stream."}
                    try:
                        got = http.post("/collections/notes/documents", json={"documents": [doc]})
                    except httpx.HTTPError:
                        got = None
                    if got is not None and got.status_code == 200:
                        acked.append(doc["id"])
                    else:
                        failed.append(got.status_code if got is not None else 0)
                    i += 1

            writer = threading.Thread(target=stream)
            writer.start()
            until(lambda: len(acked) >= 20, timeout=60)
            primary.kill()  # SIGKILL, mid-stream
            killed_at, before = time.monotonic(), len(acked)
            standby.promote()
            until(lambda: len(acked) >= before + 10, timeout=120)  # serving writes again, on the new primary
            stop.set()
            writer.join(60)
            back = time.monotonic() - killed_at
            ids: set[str] = set()
            while len(page := http.get("/collections/notes/documents",
                                       params={"limit": 1000, "offset": len(ids)}).json()["items"]):
                ids |= {d["id"] for d in page}
        lost = [a for a in acked if a not in ids]
        assert lost == [], f"{len(lost)} acknowledged writes lost"
        assert set(failed) <= {0, 503}, failed  # refused while no primary answered: store_unavailable, not 500
        print(f"failover: {len(acked)} acknowledged, 0 lost, {len(failed)} refused, serving again after {back:.1f}s")
    finally:
        if standby is not None:
            standby.stop()
        primary.stop()
