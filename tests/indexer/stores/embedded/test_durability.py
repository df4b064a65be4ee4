"""Durability: the catalog file alone holds every commit; an older catalog never overwrites newer vectors;
temp files of a killed process are removed on the next open."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest

from indexer.collection import Collection, Limits
from indexer.errors import CatalogBehindIndex, CorruptCollection
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
