"""Tampered snapshots and killed snapshot operations: a bad file is named and skipped, never a 500; a restore
of anything that is not a valid snapshot is a 422 ``bad_snapshot`` and leaves the collection as it was; what a
killed create or restore left behind goes at the next open."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from indexer.collection import Collection
from indexer.errors import BadSnapshot
from indexer.stores.embedded import EmbeddedBackend
from indexer.stores.embedded.snapshots import create_snapshot, list_snapshots, restore_snapshot, snapshot_path
from tests.indexer.stores.embedded import files


@pytest.fixture
def snapped(tmp_path, embedder):
    data = tmp_path / "data"
    with Collection.create(EmbeddedBackend(data), "s", embedder) as coll:
        coll.upsert_documents([{"id": "d1", "text": "Cats nap in the sun."}])
    snap = create_snapshot(data, "s")
    return data, snapshot_path(data, "s", snap.name)


@pytest.mark.parametrize("change", [{"created": "yesterday"}, {"chunks": [1]}, {"catalog_seq": "3"},
                                    {"files": {"catalog.sqlite3": "abc"}}, {"dimension": None},
                                    {"created": float("nan")}])
def test_a_manifest_with_wrong_types_is_skipped_and_named(snapped, change):
    data, good = snapped
    bad = good.with_name("s-bad.snapshot")
    files.forge_snapshot(good, bad, manifest={**files.snapshot_manifest(good), **change})
    skipped: list[dict[str, str]] = []
    assert [s.name for s in list_snapshots(data, "s", skipped)] == [good.name]
    field = next(iter(change))
    assert [s["name"] for s in skipped] == [bad.name] and repr(field) in skipped[0]["reason"]
    with pytest.raises(BadSnapshot, match=repr(field)):
        restore_snapshot(data, "s", bad)


def test_a_catalog_that_is_not_sqlite_is_refused_and_the_collection_kept(snapped, embedder):
    data, good = snapped
    forged = good.with_name("s-forged.snapshot")
    files.forge_snapshot(good, forged, catalog=b"this is not an SQLite database, but its checksum matches" * 100)
    with pytest.raises(BadSnapshot, match="not a readable semsearch catalog"):
        restore_snapshot(data, "s", forged)
    empty = good.with_name("s-empty.snapshot")  # SQLite, but not a catalog
    tmp = data / "plain.sqlite3"
    con = sqlite3.connect(tmp)
    con.execute("CREATE TABLE t(x)")
    con.commit()
    con.close()
    files.forge_snapshot(good, empty, catalog=tmp.read_bytes())
    with pytest.raises(BadSnapshot, match="not a readable semsearch catalog"):
        restore_snapshot(data, "s", empty)
    assert sorted(p.name for p in (data / "collections").iterdir()) == ["s"]  # nothing left beside it
    with Collection.open(EmbeddedBackend(data), "s", embedder, create=False) as coll:
        assert coll.info().documents == 1


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_leftovers_of_killed_creates_and_restores_go_at_the_next_open(snapped, embedder):
    data, good = snapped
    folder = good.parent
    dead, me = _dead_pid(), os.getpid()  # me: a killed server whose pid this process got again (pid 1 in a box)
    left = [folder / f"s-x.catalog.tmp{dead}", folder / f"s-x.catalog.tmp{dead}-journal",
            folder / f"s-x.snapshot.tmp{dead}", folder / f"s-y.catalog.tmp{me}-journal"]
    for p in left:
        p.write_bytes(b"half")
    dirs = [data / "collections" / f".s.restore.tmp{dead}", data / "collections" / f".s.restore.tmp{me}"]
    for d in dirs:
        d.mkdir()
        (d / "catalog.sqlite3").write_bytes(b"a whole collection copy")
    with Collection.open(EmbeddedBackend(data), "s", embedder, create=False):
        pass
    assert [p for p in left + dirs if p.exists()] == []
    assert sorted(p.name for p in folder.iterdir()) == [good.name]
    assert sorted(p.name for p in (data / "collections").iterdir()) == ["s"]
