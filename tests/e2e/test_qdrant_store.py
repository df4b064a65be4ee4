"""SEMSEARCH_STORE=qdrant end to end: the CLI and the HTTP API unchanged, and two replicas over one server.

Local mode (``SEMSEARCH_QDRANT_PATH``) is one process at a time, so it checks the CLI and one server.
Replicas need a store both processes reach: a real Qdrant server, given by ``SEMSEARCH_TEST_QDRANT_URL``
(``docker compose -f docker/compose.yaml --profile qdrant up -d qdrant``); without one that test is
skipped, saying so.
"""

from __future__ import annotations

import os
import uuid

import httpx
import pytest

from tests.indexer.test_collection import TOPICS, make_folder
from tests.serving import as_json, serve, until

pytestmark = pytest.mark.slow  # real processes

SERVER = os.environ.get("SEMSEARCH_TEST_QDRANT_URL", "")


def test_index_query_and_http_unchanged_with_qdrant_local_mode(tmp_path, run_cli):
    root = make_folder(tmp_path / "docs")
    env = {"SEMSEARCH_STORE": "qdrant", "SEMSEARCH_QDRANT_PATH": str(tmp_path / "qdrant")}
    first = as_json(run_cli("index", str(root), "--json", **env))
    assert first["files"]["added"] == len(TOPICS) and first["chunks"]["total"] == len(TOPICS)
    assert as_json(run_cli("index", str(root), "--json", **env))["files"]["unchanged"] == len(TOPICS)
    hits = as_json(run_cli("query", "bake a loaf with a golden crust", "--json", "--k", "3", **env))["hits"]
    assert hits[0]["path"] == str(root / "cooking/bread.md")
    text = (root / "cooking/bread.md").read_text()
    assert text[hits[0]["start"] : hits[0]["end"]].startswith("# Baking bread")
    globbed = as_json(run_cli("query", "planet", "--json", "--path-glob", "space/**", **env))["hits"]
    assert {h["path"] for h in globbed} == {str(root / "space/mars.rst"), str(root / "space/notes.html")}
    cols = as_json(run_cli("collections", "--json", **env))["collections"]
    assert cols[0]["name"] == "default" and cols[0]["files"] == len(TOPICS)
    assert not (run_cli.data_dir / "collections").exists()  # nothing went to the embedded store
    # the embedded store (the default) does not see the Qdrant store's collections
    assert as_json(run_cli("collections", "--json"))["collections"] == []

    with serve(run_cli.data_dir, cwd=tmp_path, SEMSEARCH_ALLOWED_ROOTS=str(tmp_path), **env) as server:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            got = http.get("/collections/default/query", params={"q": "purring cats", "k": 2}).json()
            assert got["hits"][0]["path"].endswith("animals/cats.txt")
            assert http.post("/collections", json={"name": "notes"}).status_code == 201
            up = http.post("/collections/notes/documents", json={"documents": [
                {"id": "n1", "text": "Granite is an igneous rock.", "metadata": {"topic": "geology"}}]})
            assert up.status_code == 200, up.text
            q = http.post("/collections/notes/query", json={"query": "volcanic stone", "mode": "hybrid"}).json()
            assert q["hits"][0]["id"] == "n1" and q["hits"][0]["metadata"] == {"topic": "geology"}
            job = http.post("/collections/notes/index-folder", json={"path": str(root)}).json()
            done = until(lambda: (j := http.get(f"/jobs/{job['id']}").json())["state"] == "succeeded" and j, timeout=30)
            assert done["report"]["files"]["added"] == len(TOPICS)
            assert not (run_cli.data_dir / "jobs.sqlite3").exists()  # job state lives in the store, like collections
            snap = http.post("/collections/notes/snapshots")
            assert snap.status_code == 501 and "Qdrant" in snap.json()["error"]["message"]


def test_reindex_from_the_cli(tmp_path, run_cli):
    root = make_folder(tmp_path / "docs")
    env = {"SEMSEARCH_STORE": "qdrant", "SEMSEARCH_QDRANT_PATH": str(tmp_path / "qdrant")}
    run_cli("index", str(root), "--json", **env)
    asked = run_cli("collections", "reindex", "default", check=False, **env)  # stdin is not a terminal
    assert asked.returncode == 2 and "pass --yes" in asked.stderr
    done = run_cli("collections", "reindex", "default", "--yes", **env)
    assert done.stdout.startswith(f"re-indexed collection default: {len(TOPICS)} sources, {len(TOPICS)} chunks with")
    report = as_json(run_cli("collections", "reindex", "default", "--yes", "--json", **env))
    assert (report["sources"], report["chunks"], report["rounds"]) == (len(TOPICS), len(TOPICS), 1)
    assert as_json(run_cli("index", str(root), "--json", **env))["files"]["unchanged"] == len(TOPICS)
    hits = as_json(run_cli("query", "purring cats", "--json", "--k", "1", **env))["hits"]
    assert hits[0]["path"].endswith("animals/cats.txt")
    embedded = run_cli("collections", "reindex", "default", "--yes", check=False)
    assert embedded.returncode == 2 and "Collection 'default' does not exist" in embedded.stderr
    run_cli("index", str(root), "--json")
    embedded = run_cli("collections", "reindex", "default", "--yes", check=False)
    assert embedded.returncode == 2 and "Index into a new collection" in embedded.stderr
    assert "Traceback" not in embedded.stderr


def test_a_bad_qdrant_setting_is_one_line(tmp_path, run_cli):
    proc = run_cli("collections", check=False, SEMSEARCH_STORE="qdrant")
    assert proc.returncode == 2 and "SEMSEARCH_QDRANT_URL" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("collections", check=False, SEMSEARCH_STORE="qdrant", SEMSEARCH_QDRANT_URL="http://127.0.0.1:9")
    assert proc.returncode == 3 and "http://127.0.0.1:9" in proc.stderr and "Traceback" not in proc.stderr



@pytest.mark.skipif(not SERVER, reason="two replicas need a shared Qdrant server: set SEMSEARCH_TEST_QDRANT_URL "
                    "(no Qdrant server can run on the machine this was written on)")
def test_two_replicas_over_one_qdrant_server(tmp_path, run_cli):
    name = f"rep-{uuid.uuid4().hex[:8]}"
    docs = make_folder(tmp_path / "docs")
    big = docs / "big"
    big.mkdir()
    for i in range(60):
        (big / f"f{i}.txt").write_text(" ".join(f"File {i} sentence {j} about rivers." for j in range(200)))
    # The replicas share nothing but the Qdrant server: collections and job state live there (each has
    # its own data folder, as replicas on two machines would).
    env = {"SEMSEARCH_STORE": "qdrant", "SEMSEARCH_QDRANT_URL": SERVER, "SEMSEARCH_ALLOWED_ROOTS": str(tmp_path)}
    with serve(run_cli.data_dir, cwd=tmp_path, **env) as replica_a, \
            serve(tmp_path / "data-b", cwd=tmp_path, **env) as replica_b, \
            httpx.Client(timeout=60) as http:
        a, b = replica_a.url, replica_b.url
        try:
            assert http.post(f"{a}/collections", json={"name": name}).status_code == 201
            up = http.post(f"{a}/collections/{name}/documents", json={"documents": [
                {"id": "d1", "text": "The Danube flows through ten countries."}]})
            assert up.status_code == 200, up.text
            # visible through the other replica as soon as the write returned (the bound: 0 s, no cache)
            hits = http.get(f"{b}/collections/{name}/query", params={"q": "river through many countries"}).json()
            assert hits["hits"][0]["id"] == "d1"
            assert http.get(f"{b}/collections/{name}/documents/d1").json()["text"].startswith("The Danube")
            # a job started on one replica is listed and cancelled on the other
            job = http.post(f"{a}/collections/{name}/index-folder", json={"path": str(docs)}).json()
            seen = until(lambda: http.get(f"{b}/jobs/{job['id']}").json(), timeout=30)
            assert seen["id"] == job["id"]
            http.post(f"{b}/jobs/{job['id']}/cancel")
            final = until(lambda: (j := http.get(f"{a}/jobs/{job['id']}").json())["state"] in
                           ("cancelled", "succeeded") and j, timeout=120)
            assert final["cancel_requested"] is True
        finally:
            http.delete(f"{a}/collections/{name}")
