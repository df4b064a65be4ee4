"""Snapshots over HTTP: taken while a job indexes and documents are upserted, listed, downloaded, restored."""

from __future__ import annotations

from indexer.stores.embedded.snapshots import restore_snapshot
from tests.app.conftest import wait_job
from tests.indexer.stores.embedded import files

TOPICS = ["cats nap in the sun", "dogs fetch sticks", "bread rises in the oven", "mars is a red planet",
          "tea is brewed with hot water"]
QUERIES = ["sleepy animals", "baking", "planets"]


def _hits(client, name):
    return [[(h["id"], round(h["score"], 4)) for h in client.post(
        f"/collections/{name}/query", json={"query": q, "k": 5, "mode": "dense"}).json()["hits"]] for q in QUERIES]


def test_snapshot_during_a_job_then_restore(make_client, tmp_data_dir):
    client = make_client(batch_chunks=4)  # many small commits while the snapshot is taken
    docs = tmp_data_dir / "docs"
    for i in range(120):
        (docs / f"f{i:03d}.txt").write_text(f"{TOPICS[i % 5]}, file number {i}")
    assert client.post("/collections", json={"name": "s"}).status_code == 201
    job = client.post("/collections/s/index-folder", json={"path": "."}).json()
    client.post("/collections/s/documents", json={"documents": [{"id": "doc1", "text": "Sourdough bread."}]})
    r = client.post("/collections/s/snapshots")
    assert r.status_code == 201, r.text
    snap = r.json()
    assert snap["collection"] == "s" and snap["name"].endswith(".snapshot")
    assert snap["vectors_seq"] is not None and snap["vectors_seq"] <= snap["catalog_seq"]
    assert wait_job(client, job["id"], timeout=300)["state"] == "succeeded"
    after_job = client.get("/collections/s").json()["chunks"]
    assert after_job == 121 and snap["chunks"] <= after_job

    listed = client.get("/collections/s/snapshots").json()["snapshots"]
    assert [s["name"] for s in listed] == [snap["name"]]
    file = tmp_data_dir / "snapshots" / "s" / snap["name"]
    got = client.get(f"/collections/s/snapshots/{snap['name']}")
    assert got.status_code == 200 and got.content == file.read_bytes()
    assert got.headers["content-type"] == "application/x-tar"

    # the reference: the same snapshot restored by the library under another name
    restore_snapshot(tmp_data_dir, "ref", file)
    r = client.post(f"/collections/s/snapshots/{snap['name']}/restore")
    assert r.status_code == 200, r.text
    assert r.json()["chunks"] == snap["chunks"] == client.get("/collections/ref").json()["chunks"]
    assert _hits(client, "s") == _hits(client, "ref")
    # and it is a working collection again
    assert client.post("/collections/s/documents", json={"documents": [
        {"id": "doc2", "text": "Rye bread."}]}).status_code == 200


def test_snapshot_errors(client):
    client.post("/collections", json={"name": "s"})
    assert client.post("/collections/nope/snapshots").status_code == 404
    assert client.get("/collections/nope/snapshots").status_code == 404
    assert client.get("/collections/s/snapshots").json() == {"snapshots": [], "skipped": []}
    r = client.post("/collections/s/snapshots/s-missing.snapshot/restore")
    assert r.status_code == 404 and r.json()["error"]["code"] == "snapshot_not_found"
    assert client.get("/collections/s/snapshots/..%2F..%2Fcatalog.sqlite3").status_code in (404, 422)
    assert client.get("/collections/s/snapshots/bad name").status_code == 422
    assert client.delete("/collections/s/snapshots/s-missing.snapshot").status_code == 404
    name = client.post("/collections/s/snapshots").json()["name"]
    assert client.delete(f"/collections/s/snapshots/{name}").status_code == 204
    assert client.get("/collections/s/snapshots").json() == {"snapshots": [], "skipped": []}


def test_the_api_names_bad_files_and_answers_422(make_client, tmp_data_dir):
    client = make_client()
    assert client.post("/collections", json={"name": "s"}).status_code == 201
    client.post("/collections/s/documents", json={"documents": [{"id": "d1", "text": "Cats nap in the sun."}]})
    good = client.post("/collections/s/snapshots").json()["name"]
    folder = tmp_data_dir / "snapshots" / "s"
    manifest = {**files.snapshot_manifest(folder / good), "created": "noon"}
    files.forge_snapshot(folder / good, folder / "s-types.snapshot", manifest=manifest)
    files.forge_snapshot(folder / good, folder / "s-forged.snapshot", catalog=b"not SQLite at all " * 200)
    listed = client.get("/collections/s/snapshots")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert sorted(s["name"] for s in body["snapshots"]) == sorted([good, "s-forged.snapshot"])  # a valid manifest
    assert [s["name"] for s in body["skipped"]] == ["s-types.snapshot"] and "'created'" in body["skipped"][0]["reason"]
    for name in ("s-types.snapshot", "s-forged.snapshot"):
        r = client.post(f"/collections/s/snapshots/{name}/restore")
        assert r.status_code == 422 and r.json()["error"]["code"] == "bad_snapshot", r.text
        assert name in r.json()["error"]["message"]
    assert client.get("/collections/s").json()["documents"] == 1
