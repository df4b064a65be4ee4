"""The one door tests have into the embedded store's files (``indexer/stores/embedded/``).

Everything else goes through the Store interface (``Collection``, ``Collection.store``). Only a test
that must look at or damage the files themselves - crash, corruption, durability, migration, the
FAISS index's own state - comes here, so the day the layout changes, this file and those tests are
what changes with it.
"""

from __future__ import annotations

from pathlib import Path

from indexer.collection import Collection
from indexer.stores.embedded.catalog import Catalog
from indexer.stores.embedded.layout import ACKED_FILE, CATALOG_FILE, INDEX_FILE, collections_dir
from indexer.stores.embedded.store import EmbeddedStore
from indexer.stores.embedded.vectors import VectorIndex

__all__ = ["ACKED_FILE", "CATALOG_FILE", "INDEX_FILE", "catalog", "catalog_at", "collection_dir", "collections_dir",
           "vectors"]


def _store(coll: Collection) -> EmbeddedStore:
    assert isinstance(coll.store, EmbeddedStore), f"{coll.name!r} is in the {coll.store.backend} store"
    return coll.store


def catalog(coll: Collection) -> Catalog:
    """The collection's SQLite catalog (``catalog.sqlite3``)."""
    return _store(coll).catalog


def vectors(coll: Collection) -> VectorIndex:
    """The collection's FAISS index (``vectors.faiss``, as loaded)."""
    return _store(coll).index


def collection_dir(data_dir: Path | str, name: str) -> Path:
    """The folder of collection ``name`` under ``data_dir``."""
    return collections_dir(data_dir) / name


def catalog_at(data_dir: Path | str, name: str) -> Catalog:
    """The catalog of collection ``name`` opened (made, with its folder, if missing) without the store:
    to write what another version or another model would have left."""
    path = collection_dir(data_dir, name)
    path.mkdir(parents=True, exist_ok=True)
    return Catalog(path / CATALOG_FILE)
