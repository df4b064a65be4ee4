"""Folder jobs through the API's allowed roots: pinned at start-up, not raced out of, odd file names,
and the phase a job reports."""

from __future__ import annotations

from tests.app.conftest import wait_job
from tests.indexer.test_sync import make_bad_name_folder
from tests.indexer.test_walk import SECRET, Swapper, make_tree


def secret_chunks(client, name: str) -> int:
    r = client.post(f"/collections/{name}/query", json={"query": SECRET.decode(), "mode": "keyword", "k": 100})
    assert r.status_code == 200, r.text
    return len(r.json()["hits"])


def test_a_symlinked_root_repointed_after_start_up_is_refused(make_client, tmp_path):
    root, outside = make_tree(tmp_path, n=3)
    link = tmp_path / "root-link"
    link.symlink_to(root)
    client = make_client(allowed_roots=[link])
    link.unlink()
    link.symlink_to(outside)  # an attacker re-points the configured root
    for path in (".", str(link), str(outside)):
        r = client.post("/collections/notes/index-folder", json={"path": path})
        assert r.status_code == 403, r.text
    refused = client.post("/collections/notes/index-folder", json={"path": "."}).json()["error"]
    assert "now leads to" in refused["message"] and refused["field"] == "path"
    link.unlink()
    link.symlink_to(root)  # put back: the pinned folder is accepted again
    job = wait_job(client, client.post("/collections/notes/index-folder", json={"path": "."}).json()["id"])
    assert job["state"] == "succeeded" and job["report"]["files"]["added"] == 3
    assert secret_chunks(client, "notes") == 0


def test_a_job_racing_a_folder_swap_indexes_nothing_from_outside(make_client, tmp_path):
    root, outside = make_tree(tmp_path, n=40)
    client = make_client(allowed_roots=[root])
    with Swapper(root, outside) as swapper:
        for _ in range(2):
            job = wait_job(client, client.post("/collections/race/index-folder", json={"path": "."}).json()["id"],
                           timeout=300)
            assert job["state"] == "succeeded", job
    assert swapper.swaps > 0
    assert secret_chunks(client, "race") == 0


def test_a_non_utf8_file_name_does_not_fail_the_job(make_client, tmp_path):
    root = tmp_path / "bn"
    make_bad_name_folder(root)
    client = make_client(allowed_roots=[root])
    job = wait_job(client, client.post("/collections/bn/index-folder", json={"path": "."}).json()["id"])
    assert job["state"] == "succeeded", job
    assert job["report"]["files"]["added"] == 2 and job["phase"] == "done"
    hits = client.post("/collections/bn/query", json={"query": "lava", "mode": "keyword"}).json()["hits"]
    assert [h["path"] for h in hits] == [str(root) + "/bad_\\xff.txt"]
