"""semsearch's library: embed, chunk, index and search documents, with no HTTP involved.

    from indexer import Collection, EmbeddedBackend, load_embedder
    embedder = load_embedder()                      # the bundled all-MiniLM-L6-v2, offline
    with Collection.open(EmbeddedBackend("./data"), "notes", embedder) as notes:
        notes.index_folder("~/notes")
        for hit in notes.search("how do I rotate the keys?", k=5):
            print(hit.score, hit.path, hit.snippet)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from indexer.lazy import exports

# Names are imported on first use (PEP 562), so ``import indexer.transformer`` or ``indexer.errors``
# costs only that module: no faiss, no SQLite, no tokenizers unless the caller needs them.
_EXPORTS = {
    "Collection": "indexer.collection", "CollectionInfo": "indexer.collection", "Document": "indexer.collection",
    "Limits": "indexer.collection", "list_collection_names": "indexer.collection",
    "DEFAULT_MODEL": "indexer.embedding", "Embedder": "indexer.embedding", "l2_normalize": "indexer.embedding",
    "load_embedder": "indexer.embedding",
    "SemsearchError": "indexer.errors",
    "Filters": "indexer.search", "Hit": "indexer.search", "Hits": "indexer.search", "Like": "indexer.search",
    "SearchOptions": "indexer.search", "SearchResponse": "indexer.search",
    "IndexReport": "indexer.sync", "Progress": "indexer.sync",
    "EmbeddedBackend": "indexer.stores.embedded", "StoreBackend": "indexer.stores.base",
}

if TYPE_CHECKING:
    from indexer.collection import Collection, CollectionInfo, Document, Limits, list_collection_names
    from indexer.embedding import DEFAULT_MODEL, Embedder, l2_normalize, load_embedder
    from indexer.errors import SemsearchError
    from indexer.search import Filters, Hit, Hits, Like, SearchOptions, SearchResponse
    from indexer.stores.base import StoreBackend
    from indexer.stores.embedded import EmbeddedBackend
    from indexer.sync import IndexReport, Progress


__getattr__ = exports(__name__, _EXPORTS)


__all__ = [
    "DEFAULT_MODEL",
    "Collection",
    "CollectionInfo",
    "Document",
    "EmbeddedBackend",
    "Embedder",
    "Filters",
    "Hit",
    "Hits",
    "IndexReport",
    "Like",
    "Limits",
    "Progress",
    "SearchOptions",
    "SearchResponse",
    "StoreBackend",
    "SemsearchError",
    "l2_normalize",
    "list_collection_names",
    "load_embedder",
]
