"""Folder jobs: allowed roots, progress, cancel, one job at a time per collection, queries meanwhile."""

from __future__ import annotations

import os
import threading

import pytest

from tests.app.conftest import DOCS, wait_job, write_docs


@pytest.fixture
def docs_root(tmp_data_dir):
    return write_docs(tmp_data_dir / "docs")


def test_index_folder_job_reports_progress_and_report(client, docs_root):
    r = client.post("/collections/notes/index-folder", json={"path": "."})  # created on the way (create=true)
    assert r.status_code == 202
    job = r.json()
    assert r.headers["location"] == f"/jobs/{job['id']}"
    assert job["state"] in ("queued", "running", "succeeded") and job["collection"] == "notes"
    done = wait_job(client, job["id"])
    assert done["state"] == "succeeded"
    assert done["files_done"] == done["files_total"] == len(DOCS)
    assert done["report"]["files"]["added"] == len(DOCS) and done["report"]["chunks"]["total"] == len(DOCS)
    assert done["error"] is None and done["finished_at"] >= done["started_at"]
    assert any(j["id"] == job["id"] for j in client.get("/jobs").json()["jobs"])
    assert client.get("/jobs", params={"collection": "other"}).json()["jobs"] == []

    again = wait_job(client, client.post("/collections/notes/index-folder", json={"path": str(docs_root)}).json()["id"])
    assert again["report"]["files"]["unchanged"] == len(DOCS)  # unchanged files cost nothing


def test_index_folder_refuses_missing_collection_when_create_is_false(client, docs_root):
    r = client.post("/collections/notes/index-folder", json={"path": ".", "create": False})
    assert r.status_code == 404


@pytest.mark.parametrize("path", ["..", "../..", "sub/../../..", "/etc", "/", "/tmp"])
def test_paths_outside_the_roots_are_403_naming_the_roots(client, docs_root, path):
    r = client.post("/collections/notes/index-folder", json={"path": path})
    assert r.status_code == 403, r.text
    err = r.json()["error"]
    assert err["code"] == "path_not_allowed" and err["field"] == "path"
    assert str(docs_root.resolve()) in err["message"]


def test_symlink_escaping_a_root_is_403(client, docs_root, tmp_path):
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "keys.txt").write_text("top secret")
    os.symlink(outside, docs_root / "link")
    r = client.post("/collections/notes/index-folder", json={"path": "link"})
    assert r.status_code == 403
    r = client.post("/collections/notes/index-folder", json={"path": str(docs_root / "link")})
    assert r.status_code == 403


def test_several_roots_and_missing_folders(make_client, tmp_path, docs_root):
    other = tmp_path / "other"
    write_docs(other, {"a.txt": "Another root with one file."})
    client = make_client(allowed_roots=[docs_root, other])
    job = client.post("/collections/c/index-folder", json={"path": str(other)}).json()
    assert wait_job(client, job["id"])["report"]["files"]["added"] == 1
    r = client.post("/collections/c/index-folder", json={"path": "does-not-exist"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "path"
    r = client.post("/collections/c/index-folder", json={"path": "bread.md"})  # a file, not a folder
    assert r.status_code == 422
    r = client.post("/collections/c/index-folder", json={"path": "a\u0000b"})
    assert r.status_code == 422


def test_unknown_job_is_404(client):
    r = client.get("/jobs/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "job_not_found"
    assert client.delete("/jobs/nope").status_code == 404


def _many_files(root, n):
    for i in range(n):
        (root / f"f{i:03d}.txt").write_text(f"File number {i} talks about subject {i % 7} in a few words.")


def test_cancel_a_running_job_and_jobs_run_one_at_a_time(make_client, tmp_data_dir):
    docs = tmp_data_dir / "docs"
    _many_files(docs, 120)
    client = make_client(batch_chunks=4)  # commit (and check for cancel) every few files
    first = client.post("/collections/big/index-folder", json={"path": "."}).json()
    second = client.post("/collections/big/index-folder", json={"path": "."}).json()
    assert client.get(f"/jobs/{second['id']}").json()["state"] == "queued"  # waits for the first
    cancelled = client.delete(f"/jobs/{second['id']}").json()
    assert cancelled["state"] == "cancelled" and cancelled["started_at"] is None

    client.post(f"/jobs/{first['id']}/cancel")
    done = wait_job(client, first["id"])
    assert done["state"] == "cancelled" and done["cancel_requested"]
    assert done["report"]["files"]["added"] < 120  # stopped early; what it committed stays
    assert client.get("/collections/big").json()["files"] == done["report"]["files"]["added"]


def test_queries_stay_consistent_while_a_job_writes(make_client, tmp_data_dir):
    docs = tmp_data_dir / "docs"
    write_docs(docs)
    client = make_client(batch_chunks=8)
    wait_job(client, client.post("/collections/live/index-folder", json={"path": "."}).json()["id"])
    bulk = docs / "bulk"
    bulk.mkdir()
    _many_files(bulk, 80)

    def top_hit() -> tuple[str, int]:
        r = client.post("/collections/live/query", json={"query": "which planet is the largest", "k": 3,
                                                         "mode": "dense"})
        assert r.status_code == 200, r.text
        hits = r.json()["hits"]
        # every hit is complete (never half of a write): it has a snippet and offsets
        assert all(h["snippet"] and h["end"] > h["start"] for h in hits)
        return hits[0]["path"], len(hits)

    before = top_hit()
    job = client.post("/collections/live/index-folder", json={"path": "."}).json()
    errors: list[BaseException] = []
    results: list[tuple[str, int]] = []
    seen_running = threading.Event()

    def reader() -> None:
        try:
            while client.get(f"/jobs/{job['id']}").json()["state"] in ("queued", "running"):
                if client.get(f"/jobs/{job['id']}").json()["state"] == "running":
                    seen_running.set()
                results.append(top_hit())
        except BaseException as e:  # noqa: BLE001 - surfaced below
            errors.append(e)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    done = wait_job(client, job["id"], timeout=120)
    for t in threads:
        t.join()
    assert not errors, errors
    assert done["state"] == "succeeded" and done["report"]["files"]["added"] == 80
    assert seen_running.is_set() and len(results) >= 2, "no query ran during the job"
    assert all(r == before for r in results)  # the planet file stays the top hit throughout
    assert client.get("/collections/live").json()["chunks"] == len(DOCS) + 80


def test_deleting_a_collection_cancels_its_jobs(make_client, tmp_data_dir):
    _many_files(tmp_data_dir / "docs", 60)
    client = make_client(batch_chunks=4)
    job = client.post("/collections/gone/index-folder", json={"path": "."}).json()
    assert client.delete("/collections/gone").status_code == 204
    assert wait_job(client, job["id"])["state"] == "cancelled"
    assert client.get("/collections/gone").status_code == 404


def test_jobs_outlive_the_server_and_a_late_cancel_keeps_succeeded(make_client, tmp_data_dir, docs_root):
    client = make_client()
    job = wait_job(client, client.post("/collections/notes/index-folder", json={"path": "."}).json()["id"])
    assert job["state"] == "succeeded"
    late = client.delete(f"/jobs/{job['id']}").json()  # cancel right after it finished
    assert late["state"] == "succeeded" and late["report"]["files"]["added"] == len(DOCS)
    client.__exit__(None, None, None)  # restart
    assert (tmp_data_dir / "jobs.sqlite3").exists()
    again = make_client()
    back = again.get(f"/jobs/{job['id']}").json()
    assert back["state"] == "succeeded" and back["report"] == job["report"]
    assert [j["id"] for j in again.get("/jobs", params={"collection": "notes"}).json()["jobs"]] == [job["id"]]


def test_a_running_job_stopped_by_a_shutdown_is_interrupted(make_client, tmp_data_dir):
    _many_files(tmp_data_dir / "docs", 200)
    client = make_client(batch_chunks=4)
    job = client.post("/collections/big/index-folder", json={"path": "."}).json()
    while client.get(f"/jobs/{job['id']}").json()["state"] == "queued":
        pass
    client.__exit__(None, None, None)  # the server stops mid-job
    again = make_client()
    back = again.get(f"/jobs/{job['id']}").json()
    assert back["state"] == "interrupted" and back["error"]["code"] == "interrupted"
    committed = again.get("/collections/big").json()["chunks"]
    assert committed < 200 and back["chunks_embedded"] <= committed


def test_a_job_shows_phase_rate_and_eta_while_one_big_file_is_embedded(make_client, tmp_data_dir):
    """Feedback from the first second: a job over one big file reports the files found, then chunks, a
    rate and an ETA that move batch by batch while it runs (not ``files_done 0`` until the end)."""
    from tests.indexer.test_sync import one_line

    docs = tmp_data_dir / "docs"
    docs.mkdir(exist_ok=True)
    (docs / "dump.txt").write_text(one_line(5_000))  # one line, ~30 chunks
    client = make_client(batch_chunks=4, embed_batch_size=2)
    job = client.post("/collections/bigfile/index-folder", json={"path": "."}).json()
    running: list[dict] = []
    while (seen := client.get(f"/jobs/{job['id']}").json())["state"] in ("queued", "running"):
        if seen["state"] == "running":
            running.append(seen)
    assert seen["state"] == "succeeded"
    assert running and running[0]["phase"] in ("starting", "walking", "indexing")
    indexing = [j for j in running if j["phase"] == "indexing"]
    assert indexing and all(j["files_total"] == 1 for j in indexing)  # the file was found before it was read
    moving = [j for j in indexing if j["eta_seconds"] is not None and j["chunks_per_second"] > 0]
    assert moving, "no rate or ETA while the file was embedded"
    assert len({j["chunks_embedded"] for j in indexing}) >= 3  # progress moved inside the one file
    assert seen["report"]["chunks"]["total"] > 12
