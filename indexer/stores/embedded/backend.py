"""The data folder of the embedded store: :class:`EmbeddedBackend` lists, opens (as an
:class:`~indexer.stores.embedded.store.EmbeddedStore`), peeks at and deletes the collections under
``<data dir>/collections/``, and hands out its job table and snapshots."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexer.errors import CollectionNotFound, NotSupported, damaged_catalog
from indexer.stores.base import StoreMeta
from indexer.stores.embedded.catalog import Catalog
from indexer.stores.embedded.job_table import SqliteJobTable, jobs_file
from indexer.stores.embedded.layout import CATALOG_FILE, collection_names, collections_dir
from indexer.stores.embedded.snapshots import EmbeddedSnapshots, remove_leftovers
from indexer.stores.embedded.space import disk_full_answer
from indexer.stores.embedded.store import EmbeddedStore, meta_of

if TYPE_CHECKING:
    from indexer.embedding import Embedder


class EmbeddedBackend:
    """Collections as folders under ``<data_dir>/collections``: ``EmbeddedBackend("./data")`` is the
    backend the library is given for the embedded store."""

    backend = "embedded"
    damaged: tuple[type[Exception], ...] = (sqlite3.DatabaseError,)

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        self.root = collections_dir(self.data_dir)
        remove_leftovers(self.data_dir)  # of snapshot creates and restores killed since the last open

    def job_table(self) -> SqliteJobTable:
        return SqliteJobTable(jobs_file(self.data_dir))  # every process sharing the data folder

    def names(self) -> list[str]:
        return collection_names(self.data_dir)

    def exists(self, name: str) -> bool:
        return (self.root / name / CATALOG_FILE).exists()

    def open(self, name: str, *, model: str, dimension: int, index_type: str, checkpoint_every: int = 50_000,
             wal_checkpoint_seconds: float = 0.0, language: str = "en") -> EmbeddedStore:
        remove_leftovers(self.data_dir, name)
        return EmbeddedStore(self.root / name, model=model, dimension=dimension, index_type=index_type,
                             checkpoint_every=checkpoint_every, wal_checkpoint_seconds=wal_checkpoint_seconds,
                             language=language)

    def delete(self, name: str) -> None:
        if not self.exists(name):
            raise CollectionNotFound(name, self.names())
        shutil.rmtree(self.root / name)

    def peek(self, name: str) -> tuple[StoreMeta, dict[str, int], int, int]:
        path = self.root / name
        if not (path / CATALOG_FILE).exists():
            raise CollectionNotFound(name, self.names())
        with disk_full_answer(self.data_dir, f"reading collection {name!r}"):  # (its -shm needs space)
            catalog = Catalog(path / CATALOG_FILE)
        try:
            meta = catalog.get_meta()
            m = meta_of(meta)
            size = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
            return m, catalog.count_sources(), catalog.count_chunks(), size
        except sqlite3.DatabaseError as e:
            raise damaged_catalog(name, e) from e
        finally:
            catalog.close()

    @classmethod
    def require_files(cls, what: str) -> None:
        """Each collection is a folder of files here: snapshots work."""

    def snapshots(self) -> EmbeddedSnapshots:
        """Snapshots of the collections' files, under ``<data dir>/snapshots/`` (``snapshots.py``)."""
        return EmbeddedSnapshots(self.data_dir)

    def reindex(self, name: str, embedder: Embedder, *, progress: Callable[[dict[str, Any]], None] | None = None,
                cancel: threading.Event | None = None) -> Any:
        raise NotSupported("Re-indexing a collection in place swaps Qdrant collection aliases, which the embedded "
                           "store does not have (SEMSEARCH_STORE=embedded). Index into a new collection instead, "
                           "or delete this one and index again.", field="store")

    def close(self) -> None:
        pass
