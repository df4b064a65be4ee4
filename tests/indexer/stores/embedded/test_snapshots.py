"""Snapshots: consistent while a writer and readers run, restored whole or not at all."""

from __future__ import annotations

import tarfile
import threading

import pytest

from indexer.collection import Collection, Limits, list_collection_names
from indexer.stores.embedded import EmbeddedBackend
from indexer.stores.embedded.snapshots import (
    BadSnapshot,
    SnapshotNotFound,
    create_snapshot,
    delete_snapshot,
    list_snapshots,
    restore_snapshot,
    snapshot_path,
)
from tests.indexer.stores.embedded import files

TOPICS = ["cats nap in the sun", "dogs fetch sticks", "bread rises in the oven", "mars is a red planet",
          "tea is brewed with hot water", "the tide follows the moon", "rain falls from grey clouds"]


def _doc(i: int) -> dict:
    return {"id": f"d{i}", "text": f"{TOPICS[i % len(TOPICS)]} (note {i})"}


def _results(coll: Collection) -> list[list[tuple[str, float]]]:
    return [[(h.id, round(h.score, 4)) for h in coll.search(q, k=5, mode="dense")] for q in TOPICS[:3]]


def _ids(coll: Collection) -> set[str]:
    return {r.key for r in coll.list_sources(limit=1000)[0]}


def test_snapshots_taken_during_writes_restore_consistent_collections(tmp_path, embedder):
    data = tmp_path / "data"
    coll = Collection.create(EmbeddedBackend(data), "s", embedder,
                             limits=Limits(checkpoint_every=3))  # the vector file churns
    coll.upsert_documents([_doc(i) for i in range(10)])
    stop = threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def writer() -> None:
        i = 10
        try:
            while not stop.is_set() and i < 200:
                coll.upsert_documents([_doc(i)])
                if i % 4 == 0:
                    coll.delete_documents([f"d{i - 7}"])
                written.append(i)
                i += 1
        except BaseException as e:  # surfaced below
            errors.append(e)

    def reader() -> None:
        try:
            while not stop.is_set():
                coll.search("planets", k=3)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    snaps = []
    try:
        while len(snaps) < 4:
            before = len(written)
            if snaps and before == snaps[-1][1]:
                continue
            snaps.append((create_snapshot(data, "s"), before))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors and len(written) > snaps[-1][1] - 10
    assert [s.name for s in list_snapshots(data, "s")] == [s.name for s, _ in reversed(snaps)]

    for n, (snap, _) in enumerate(snaps):
        assert snap.vectors_seq is not None and snap.vectors_seq <= snap.catalog_seq
        restore_snapshot(data, f"copy{n}", snapshot_path(data, "s", snap.name))
        with Collection.open(EmbeddedBackend(data), f"copy{n}", embedder, create=False) as copy:
            assert files.catalog(copy).seq == snap.catalog_seq and copy.info().chunks == snap.chunks
            assert files.vectors(copy).ntotal == snap.chunks
            got = _results(copy)
        # the same catalog with its vectors rebuilt from scratch ranks identically
        (data / "collections" / f"copy{n}" / files.INDEX_FILE).unlink()
        with Collection.open(EmbeddedBackend(data), f"copy{n}", embedder, create=False) as rebuilt:
            assert _results(rebuilt) == got
    coll.close()


def test_restore_replaces_the_collection_with_the_snapshot(tmp_path, embedder):
    data = tmp_path / "data"
    with Collection.create(EmbeddedBackend(data), "s", embedder, index_type="hnsw") as coll:
        coll.upsert_documents([_doc(i) for i in range(8)])
        coll.delete_documents(["d1"])  # a tombstone travels in the snapshot
        snap = create_snapshot(data, "s")
        expected_ids, expected = _ids(coll), _results(coll)
        coll.delete_documents(["d2", "d3"])
        coll.upsert_documents([_doc(i) for i in range(20, 25)])
    restore_snapshot(data, "s", snap.name)
    with Collection.open(EmbeddedBackend(data), "s", embedder, create=False) as back:
        assert _ids(back) == expected_ids and back.info().chunks == 7 and back.index_type == "hnsw"
        assert _results(back) == expected
    assert list_collection_names(EmbeddedBackend(data)) == ["s"]  # no staging folder left beside it
    assert sorted(p.name for p in (data / "collections").iterdir()) == ["s"]


def test_a_damaged_snapshot_is_refused_and_the_collection_is_untouched(tmp_path, embedder):
    data = tmp_path / "data"
    with Collection.create(EmbeddedBackend(data), "s", embedder) as coll:
        coll.upsert_documents([_doc(i) for i in range(3)])
        snap = create_snapshot(data, "s")
        coll.upsert_documents([_doc(9)])
    path = snapshot_path(data, "s", snap.name)
    blob = bytearray(path.read_bytes())
    with tarfile.open(path) as tar:
        at = tar.getmember("catalog.sqlite3").offset_data + 5000
    blob[at] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(BadSnapshot, match="fails its checksum"):
        restore_snapshot(data, "s", snap.name)
    with Collection.open(EmbeddedBackend(data), "s", embedder, create=False) as coll:
        assert coll.info().documents == 4
    assert sorted(p.name for p in (data / "collections").iterdir()) == ["s"]
    (tmp_path / "junk.snapshot").write_bytes(b"not a tar")
    with pytest.raises(BadSnapshot, match="not a semsearch snapshot"):
        restore_snapshot(data, "s", tmp_path / "junk.snapshot")


def test_snapshot_names_are_checked_and_deleted_collections_keep_snapshots(tmp_path, embedder):
    from indexer.collection import delete_collection
    from indexer.errors import InvalidInput

    data = tmp_path / "data"
    with Collection.create(EmbeddedBackend(data), "s", embedder) as coll:
        coll.upsert_documents([_doc(0)])
    snap = create_snapshot(data, "s")
    with pytest.raises(InvalidInput):
        snapshot_path(data, "s", "../../etc/passwd")
    with pytest.raises(SnapshotNotFound):
        snapshot_path(data, "s", "nope.snapshot")
    delete_collection(EmbeddedBackend(data), "s")
    restore_snapshot(data, "s", snap.name)  # brings a deleted collection back
    with Collection.open(EmbeddedBackend(data), "s", embedder, create=False) as coll:
        assert coll.info().documents == 1
    delete_snapshot(data, "s", snap.name)
    assert list_snapshots(data, "s") == []


def test_a_vector_file_replaced_at_every_attempt_still_gives_a_valid_snapshot(tmp_path, embedder, monkeypatch):
    import indexer.stores.embedded.snapshots as snapshots

    data = tmp_path / "data"
    with Collection.create(EmbeddedBackend(data), "s", embedder) as coll:
        coll.upsert_documents([_doc(i) for i in range(4)])
        expected = _results(coll)
    monkeypatch.setattr(snapshots, "_same_file", lambda f, path: False)  # as if a checkpoint raced each try
    snap = create_snapshot(data, "s")
    restore_snapshot(data, "copy", snapshot_path(data, "s", snap.name))
    with Collection.open(EmbeddedBackend(data), "copy", embedder, create=False) as copy:
        assert copy.info().chunks == 4 and _results(copy) == expected


def test_temp_files_of_a_killed_snapshot_are_removed(tmp_path, embedder):
    import subprocess
    import sys

    data = tmp_path / "data"
    with Collection.create(EmbeddedBackend(data), "s", embedder) as coll:
        coll.upsert_documents([_doc(0)])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    folder = data / "snapshots" / "s"
    folder.mkdir(parents=True)
    left = [folder / f"s-x.snapshot.tmp{dead.pid}", folder / f"s-files.catalog(x).tmp{dead.pid}"]
    for p in left:
        p.write_bytes(b"half")
    staging = data / "collections" / f".s.restore.tmp{dead.pid}"
    staging.mkdir()
    (staging / "catalog.sqlite3").write_bytes(b"half")
    snap = create_snapshot(data, "s")
    assert not any(p.exists() for p in left) and [p.name for p in folder.iterdir()] == [snap.name]
    restore_snapshot(data, "s", snap.name)
    assert not staging.exists() and list_collection_names(EmbeddedBackend(data)) == ["s"]
