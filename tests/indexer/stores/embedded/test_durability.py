"""Durability: the catalog file alone holds every acknowledged write (or, when a checkpoint is delayed or
held up, a copy without its -wal is refused); an older catalog never overwrites newer vectors;
temp files of a killed process are removed on the next open."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time

import pytest

from indexer.collection import Collection, Limits
from indexer.errors import CatalogBehindIndex, CatalogWalMissing, CorruptCollection
from indexer.stores.embedded import EmbeddedBackend
from tests.indexer.stores.embedded import files

DOCS = [{"id": "a", "text": "Cats sleep in warm places."}, {"id": "b", "text": "Mars is a red planet."}]


def _copy_catalog_only(src, dst):
    dst.mkdir(parents=True)
    shutil.copy(src / files.CATALOG_FILE, dst / files.CATALOG_FILE)  # no -wal, no -shm, no vector file


@pytest.mark.parametrize("period", [0.0, 0.5])
def test_catalog_file_alone_holds_committed_writes(tmp_path, embedder, period):
    """period 0: each write moves the WAL into the catalog; 0.5 s: a burst of writes is moved by the
    timer within the period (the first write of a burst at once)."""
    coll = Collection.create(EmbeddedBackend(tmp_path / "live"), "c", embedder,
                             limits=Limits(wal_checkpoint_seconds=period))
    coll.upsert_documents(DOCS)
    coll.delete_documents(["b"])
    coll.upsert_documents([{"id": "c", "text": "Bread rises slowly."}])
    time.sleep(period * 2)
    # the collection is still open (its -wal exists): copy only catalog.sqlite3
    assert (coll.path / (files.CATALOG_FILE + "-wal")).exists()
    _copy_catalog_only(coll.path, tmp_path / "copy" / "collections" / "c")
    copy = Collection.open(EmbeddedBackend(tmp_path / "copy"), "c", embedder, create=False)
    assert sorted(r.key for r in copy.list_sources()[0]) == ["a", "c"]
    assert files.vectors(copy).ntotal == 2  # rebuilt from the copied catalog's vectors
    assert copy.search("warm cats", k=1, mode="dense")[0].id == "a"
    copy.close()
    coll.close()


def test_an_older_catalog_never_rebuilds_newer_vectors(tmp_path, embedder):
    data = tmp_path / "data"
    coll = Collection.create(EmbeddedBackend(data), "c", embedder)
    coll.upsert_documents(DOCS[:1])
    coll.close()
    path = data / "collections" / "c"
    old_catalog = (path / files.CATALOG_FILE).read_bytes()  # seq 1
    with Collection.open(EmbeddedBackend(data), "c", embedder) as coll:
        coll.upsert_documents(DOCS[1:])  # seq 2, the vector file now says 2
    vectors_before = (path / files.INDEX_FILE).read_bytes()
    (path / files.CATALOG_FILE).write_bytes(old_catalog)  # e.g. restored from an older backup
    with pytest.raises(CatalogBehindIndex, match="write 1 but its vector file reflects write 2") as err:
        Collection.open(EmbeddedBackend(data), "c", embedder, create=False)
    assert isinstance(err.value, CorruptCollection) and "snapshot restore" in err.value.message
    assert (path / files.INDEX_FILE).read_bytes() == vectors_before  # the vectors are kept
    # the documented way to accept the loss: remove the vector file, open again
    (path / files.INDEX_FILE).unlink()
    with Collection.open(EmbeddedBackend(data), "c", embedder, create=False) as coll:
        assert files.vectors(coll).ntotal == 1


def test_temp_files_of_a_killed_process_are_removed_on_open(tmp_path, embedder):
    coll = Collection.create(EmbeddedBackend(tmp_path), "c", embedder)
    coll.upsert_documents(DOCS)
    coll.close()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = coll.path / f"{files.INDEX_FILE}.tmp{dead.pid}"
    stale.write_bytes(b"x" * 1000)
    busy = coll.path / f"{files.INDEX_FILE}.tmp{1}"  # pid 1 runs: a save in flight in another process
    busy.write_bytes(b"y")
    with Collection.open(EmbeddedBackend(tmp_path), "c", embedder, create=False) as again:
        assert files.vectors(again).ntotal == 2
    assert not stale.exists() and busy.exists()


def _copy_without_wal(src, dst, *, with_wal: bool = False):
    dst.mkdir(parents=True)
    names = [files.CATALOG_FILE, files.ACKED_FILE] + ([files.CATALOG_FILE + "-wal"] if with_wal else [])
    for name in names:
        shutil.copy(src / name, dst / name)


def test_a_delayed_checkpoint_without_its_wal_is_refused_not_opened_empty(tmp_path, embedder):
    """wal_checkpoint_seconds > 0 (the library's opt-in for bursts of small writes): the acknowledged
    writes may be only in the -wal, so a folder without it is refused with what to do; with it, nothing
    is missing; deleting catalog.sqlite3-acked accepts the loss, as the message says."""
    coll = Collection.create(EmbeddedBackend(tmp_path / "live"), "c", embedder,
                             limits=Limits(wal_checkpoint_seconds=600))
    coll.upsert_documents(DOCS)  # (creating it was the period's checkpoint: these stay in the -wal)
    coll.upsert_documents([{"id": "c", "text": "Bread rises slowly."}])
    lost = tmp_path / "lost" / "collections" / "c"
    _copy_without_wal(coll.path, lost)
    with pytest.raises(CatalogWalMissing, match="writes up to 2 were acknowledged") as err:
        Collection.open(EmbeddedBackend(tmp_path / "lost"), "c", embedder, create=False)
    assert "catalog.sqlite3-wal" in err.value.message and "snapshot restore" in err.value.message
    whole = tmp_path / "whole" / "collections" / "c"
    _copy_without_wal(coll.path, whole, with_wal=True)
    with Collection.open(EmbeddedBackend(tmp_path / "whole"), "c", embedder, create=False) as again:
        assert sorted(r.key for r in again.list_sources()[0]) == ["a", "b", "c"]
    (lost / files.ACKED_FILE).unlink()  # accept the loss
    with Collection.open(EmbeddedBackend(tmp_path / "lost"), "c", embedder, create=False) as accepted:
        assert accepted.list_sources()[0] == []
    coll.close()


def test_a_checkpoint_held_up_by_a_reader_records_the_write_and_catches_up(tmp_path, embedder, monkeypatch):
    """A search still reading the state before a write keeps the checkpoint from finishing: the write is
    acknowledged with its number in catalog.sqlite3-acked (a copy without the -wal is refused), and the
    checkpoint is done once the reader is gone."""
    monkeypatch.setattr("indexer.stores.embedded.acked_writes.ACK_CHECKPOINT_WAIT_MS", 50)
    coll = Collection.create(EmbeddedBackend(tmp_path / "live"), "c", embedder)
    coll.upsert_documents(DOCS[:1])
    reader = sqlite3.connect(coll.path / files.CATALOG_FILE, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM sources").fetchone()  # pins the state before the next write
    coll.upsert_documents(DOCS[1:])
    _copy_without_wal(coll.path, tmp_path / "early" / "collections" / "c")
    with pytest.raises(CatalogWalMissing):
        Collection.open(EmbeddedBackend(tmp_path / "early"), "c", embedder, create=False)
    reader.execute("COMMIT")
    reader.close()
    coll.checkpoint()  # (the retry timer would do it within a second)
    _copy_without_wal(coll.path, tmp_path / "late" / "collections" / "c")
    with Collection.open(EmbeddedBackend(tmp_path / "late"), "c", embedder, create=False) as late:
        assert sorted(r.key for r in late.list_sources()[0]) == ["a", "b"]
    coll.close()
