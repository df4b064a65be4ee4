"""The Qdrant store (``SEMSEARCH_STORE=qdrant``): a collection as one Qdrant collection, on a server or
in the client's in-process local mode. Needs the ``qdrant`` extra.

    from indexer.stores.qdrant import QdrantBackend
    backend = QdrantBackend(url="http://localhost:6333")   # or path="./qdrant-data"

Names are imported on first use, so ``import indexer.stores.qdrant`` costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from indexer.lazy import exports

_EXPORTS = {"QdrantBackend": "indexer.stores.qdrant.backend", "QdrantStore": "indexer.stores.qdrant.store"}

if TYPE_CHECKING:
    from indexer.stores.qdrant.backend import QdrantBackend
    from indexer.stores.qdrant.store import QdrantStore


__getattr__ = exports(__name__, _EXPORTS)


__all__ = ["QdrantBackend", "QdrantStore"]
