"""The one door tests have into the embedded store's files (``indexer/stores/embedded/``).

Everything else goes through the Store interface (``Collection``, ``Collection.store``). Only a test
that must look at or damage the files themselves - crash, corruption, durability, migration, the
FAISS index's own state - comes here, so the day the layout changes, this file and those tests are
what changes with it.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

from indexer.collection import Collection
from indexer.stores.embedded.catalog import Catalog
from indexer.stores.embedded.layout import ACKED_FILE, CATALOG_FILE, INDEX_FILE, collections_dir
from indexer.stores.embedded.store import EmbeddedStore
from indexer.stores.embedded.vectors import VectorIndex

__all__ = ["ACKED_FILE", "CATALOG_FILE", "INDEX_FILE", "catalog", "catalog_at", "collection_dir", "collections_dir",
           "forge_snapshot", "snapshot_manifest", "vectors"]


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


def forge_snapshot(src: Path, dst: Path, *, manifest: dict | None = None, catalog: bytes | None = None) -> None:
    """Write ``dst``: the snapshot ``src`` with its manifest and/or catalog replaced; a new catalog gets
    checksums that match it, as someone forging a snapshot would make them."""
    with tarfile.open(src) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    m = manifest if manifest is not None else json.loads(files["manifest.json"])
    if catalog is not None:
        files["catalog.sqlite3"] = catalog
        m["files"]["catalog.sqlite3"] = {"size": len(catalog), "sha256": hashlib.sha256(catalog).hexdigest()}
    files["manifest.json"] = json.dumps(m).encode()
    with tarfile.open(dst, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def snapshot_manifest(path: Path) -> dict:
    """The manifest of the snapshot file ``path``."""
    with tarfile.open(path) as tar:
        return json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
