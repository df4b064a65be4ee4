"""The embedded store (the default, ``SEMSEARCH_STORE=embedded``): each collection a folder of files
under ``<data dir>/collections/``, everything this store knows about them lives in this package.

- ``backend.py``: :class:`EmbeddedBackend` (the data folder: list, open, peek, delete collections);
- ``store.py``: :class:`EmbeddedStore` (one collection: writes, acknowledging, the FAISS index kept in step);
- ``catalog.py`` + ``catalog_schema.py``: the SQLite catalog (sources, chunks, FTS5, change log);
- ``sql.py``: the SQL of a search (filters, keyword query);
- ``vectors.py``: the FAISS index file;
- ``snapshots.py``: snapshots of a collection's files (their manifest: ``snapshot_manifest.py``);
- ``job_table.py``: the data folder's job table (``jobs.sqlite3``);
- ``tempfiles.py``: leftovers of killed processes;
- ``space.py``: a full disk, told apart from other write errors and answered as such.

    from indexer.stores.embedded import EmbeddedBackend
    backend = EmbeddedBackend("./data")

Names are imported on first use, so ``import indexer.stores.embedded.job_table`` loads no FAISS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from indexer.lazy import exports

_STORE = "indexer.stores.embedded.store"
_EXPORTS = {"EmbeddedBackend": "indexer.stores.embedded.backend", "EmbeddedStore": _STORE, "CATALOG_FILE": _STORE,
            "INDEX_FILE": _STORE}

if TYPE_CHECKING:
    from indexer.stores.embedded.backend import EmbeddedBackend
    from indexer.stores.embedded.store import CATALOG_FILE, INDEX_FILE, EmbeddedStore


__getattr__ = exports(__name__, _EXPORTS)


__all__ = ["CATALOG_FILE", "INDEX_FILE", "EmbeddedBackend", "EmbeddedStore"]
