"""Where the embedded store keeps a data folder's collections: the file names every part agrees on."""

from __future__ import annotations

from pathlib import Path

CATALOG_FILE = "catalog.sqlite3"
INDEX_FILE = "vectors.faiss"
# The number of the last write acknowledged while it was only in catalog.sqlite3-wal (0: none).
ACKED_FILE = "catalog.sqlite3-acked"
NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def collections_dir(data_dir: Path | str) -> Path:
    """The folder of a data folder's collections (one sub-folder each)."""
    return Path(data_dir) / "collections"


def collection_names(data_dir: Path | str) -> list[str]:
    """The names of the data folder's collections (folders holding a catalog), sorted."""
    root = collections_dir(data_dir)
    if not root.is_dir():
        return []
    # (a restore's hidden staging folder holds a catalog too, but is no collection: its name starts with '.')
    return sorted(p.name for p in root.iterdir()
                  if p.name[:1].isalnum() and set(p.name) <= NAME_CHARS and (p / CATALOG_FILE).exists())


def data_dir_of(collection: Path) -> Path:
    """The data folder a collection's folder is in (``<data dir>/collections/NAME``)."""
    return collection.parent.parent
