"""semsearch's library: embed, chunk, index and search documents, with no HTTP involved.

    from indexer import Collection, load_embedder
    embedder = load_embedder()                      # the bundled all-MiniLM-L6-v2, offline
    with Collection.open("./data", "notes", embedder) as notes:
        notes.index_folder("~/notes")
        for hit in notes.search("how do I rotate the keys?", k=5):
            print(hit.score, hit.path, hit.snippet)
"""

from indexer.collection import Collection, CollectionInfo, Document, Limits, list_collection_names
from indexer.embedder import DEFAULT_MODEL, Embedder, l2_normalize, load_embedder
from indexer.errors import SemsearchError
from indexer.search import Filters, Hit, Hits, Like, SearchOptions, SearchResponse
from indexer.sync import IndexReport, Progress

__all__ = [
    "DEFAULT_MODEL",
    "Collection",
    "CollectionInfo",
    "Document",
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
    "SemsearchError",
    "l2_normalize",
    "list_collection_names",
    "load_embedder",
]
