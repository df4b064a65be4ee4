"""Qdrant point ids, names and filter helpers shared by the store, the backend and the re-index."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from qdrant_client import models

PREFIX = "semsearch_"
DENSE, KEYWORD = "dense", "keyword"
_NS = uuid.UUID("6f1c2b2e-8a57-4d0c-9a43-5b1f0c7e2d11")
META_ID = str(uuid.uuid5(_NS, "meta"))
RETRIES = (0.2, 0.5, 1.0, 2.0)  # seconds between attempts after a connection error
PAGE = 1000  # points per scroll page and per upsert request
REINDEX_STALE_SECONDS = 120.0  # a re-index that has not marked itself alive for this long has died


class Connection(Protocol):
    """What the store, the job table and the re-index need of :class:`~indexer.stores.qdrant.backend.QdrantBackend`
    (which builds all three): a protocol, not an import, so backend -> store is the one direction."""

    local: bool  # the client's in-process mode (one process per path, no payload indexes)

    def call(self, method: str, *args: Any, what: str, **kwargs: Any) -> Any: ...

    def physical(self, name: str) -> str: ...

    def create_physical(self, name: str, dimension: int) -> str: ...

    def index_field(self, phys: str, field: str, schema: str) -> None: ...

    def swap(self, name: str, phys: str) -> None: ...


def _h63(*parts: str) -> int:
    """A stable positive int64 from strings (the first 8 bytes of their UUID5)."""
    return uuid.uuid5(_NS, "\x1f".join(parts)).int >> 65


def source_point(kind: str, key: str) -> str:
    return str(uuid.uuid5(_NS, f"{kind}\x1f{key}"))


def _m(key: str, value: Any) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _f(*must: Any) -> models.Filter:
    return models.Filter(must=list(must))
