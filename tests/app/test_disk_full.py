"""A full disk is an answer: 507 ``disk_full`` naming the data folder, for every kind of write (create,
upsert, delete, snapshot, restore, index-folder, the CLI's one line); nothing committed is lost, a failed
create leaves no folder, and writes work again once space is freed.

The data folder is on a 2 MB tmpfs, filled to the last byte before each write (root only: mounting
needs it). Before filling, the collection's -wal is emptied (what a snapshot's checkpoint does), so
the next write needs new blocks rather than reusing the -wal's own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import app.cli as cli
from tests.app.conftest import wait_job, write_docs
from tests.small_disk import fill, needs_root
from tests.small_disk import small_disk as mounted

pytestmark = needs_root


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with mounted(tmp_path / "small-disk") as disk:
        yield disk


def squeeze(client: Any, disk: Path, name: str = "c") -> None:
    """Free the filler, empty the collection's -wal into its catalog, fill the disk again."""
    (disk / "filler").unlink(missing_ok=True)
    with client.app.state.service.collections.lease(name) as coll:
        coll.checkpoint()
    fill(disk)


def assert_disk_full(r: Any, data: Path) -> None:
    assert r.status_code == 507, r.text
    err = r.json()["error"]
    assert err["code"] == "disk_full"
    assert str(data) in err["message"] and "Free space" in err["message"]
    assert "Internal" not in err["message"] and "damaged" not in err["message"]


def test_every_write_on_a_full_disk_is_a_507_and_writes_work_again_once_space_is_freed(make_client, small_disk):
    data = small_disk / "data"
    client = make_client(data_dir=data)
    write_docs(data / "docs", {"a.txt": "Otters hold hands while they sleep."})
    assert client.post("/collections", json={"name": "c"}).status_code == 201
    first = [{"id": f"d{i}", "text": f"Note {i}: the tide comes in twice a day."} for i in range(3)]
    assert client.post("/collections/c/documents", json={"documents": first}).status_code == 200

    many = [{"id": f"new{i}", "text": f"Fresh note {i} about rivers, deltas and estuaries."} for i in range(20)]
    squeeze(client, small_disk)
    r = client.post("/collections/c/documents", json={"documents": many})
    assert_disk_full(r, data)
    assert "database or disk is full" in r.json()["error"]["message"]  # SQLite's own error, not the rollback's

    squeeze(client, small_disk)
    assert_disk_full(client.post("/collections/c/documents/delete", json={"ids": ["d0", "d1", "d2"]}), data)

    squeeze(client, small_disk)
    assert_disk_full(client.post("/collections/c/snapshots"), data)
    assert not list((data / "snapshots" / "c").glob("*")), "a failed snapshot leaves no file behind"

    squeeze(client, small_disk)
    assert_disk_full(client.post("/collections/new/index-folder", json={"path": "."}), data)
    assert not (data / "collections" / "new").exists()

    squeeze(client, small_disk)
    assert_disk_full(client.post("/collections/c/index-folder", json={"path": "."}), data)  # (queuing the job)

    squeeze(client, small_disk)
    assert_disk_full(client.post("/collections", json={"name": "other"}), data)
    assert not (data / "collections" / "other").exists(), "a failed create leaves no folder"
    assert client.get("/collections").json()["damaged"] == []

    # nothing committed was lost; with space again, every kind of write works
    (small_disk / "filler").unlink()
    listed = client.get("/collections/c/documents").json()
    assert sorted(d["id"] for d in listed["items"]) == ["d0", "d1", "d2"]
    assert client.post("/collections/c/documents", json={"documents": many[:2]}).status_code == 200
    assert client.post("/collections/c/documents/delete", json={"ids": ["d0"]}).status_code == 200
    snap = client.post("/collections/c/snapshots")
    assert snap.status_code == 201
    squeeze(client, small_disk)
    assert_disk_full(client.post(f"/collections/c/snapshots/{snap.json()['name']}/restore"), data)
    assert sorted(p.name for p in (data / "collections").iterdir()) == ["c"]  # no restore leftovers
    (small_disk / "filler").unlink()
    assert client.get("/collections/c").json()["documents"] == 4  # the collection is untouched
    assert client.post("/collections", json={"name": "other"}).status_code == 201
    job = client.post("/collections/c/index-folder", json={"path": "."})
    assert job.status_code == 202 and wait_job(client, job.json()["id"])["state"] == "succeeded"
    hits = client.post("/collections/c/query", json={"query": "tide twice a day", "k": 1}).json()["hits"]
    assert hits[0]["id"] in ("d1", "d2")


def test_the_cli_on_a_full_disk_exits_with_one_clear_line(small_disk, embedder, monkeypatch):
    monkeypatch.setattr("app.service.load_model", lambda settings, backend=None: embedder)
    monkeypatch.delenv("SEMSEARCH_DATA_DIR", raising=False)
    data = small_disk / "data"
    docs = write_docs(small_disk / "docs", {"n0.txt": "Owls hunt at night."})

    def index() -> Any:
        return CliRunner().invoke(cli.app, ["--data-dir", str(data), "--server", "none", "--json", "index", str(docs)])

    assert index().exit_code == 0  # (closing the collection empties its -wal)
    write_docs(docs, {f"n{i}.txt": f"Note {i}: owls, larks and nightjars." for i in range(1, 12)})
    fill(small_disk)
    got = index()
    assert got.exit_code == 3, got.output
    errors = [ln for ln in got.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: The disk holding the data folder"), got.stderr
    assert str(data) in errors[0] and "Free space" in errors[0] and "Traceback" not in got.output
    (small_disk / "filler").unlink()
    again = index()
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["files"] == {**json.loads(again.stdout)["files"], "unchanged": 1, "added": 11}
