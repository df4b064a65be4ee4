"""Qdrant point ids, names and filter helpers shared by the store, the backend and the re-index."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from qdrant_client import models

from indexer.analysis.languages import Analyzer
from indexer.stores.base import StoreMeta

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


class Points(Protocol):
    """What the modules beside the store (its write path ``writes.py``, ``copies.py``, ``facets.py`` and the
    filter glue in ``filters.py``) use of one collection, :class:`~indexer.stores.qdrant.store.QdrantStore`
    (a protocol, so that they need not import the store that imports them)."""

    @property
    def name(self) -> str: ...

    @property
    def alias(self) -> str: ...

    @property
    def qb(self) -> Connection: ...

    @property
    def meta(self) -> StoreMeta: ...

    @property
    def analyzer(self) -> Analyzer | None: ...

    @property
    def _write_lock(self) -> threading.Lock: ...

    def _call(self, method: str, *args: Any, what: str, **kwargs: Any) -> Any: ...

    def _meta_payload(self) -> dict[str, Any]: ...

    def _set_meta(self, **values: Any) -> None: ...

    def _check_current(self, meta: dict[str, Any], *, writing: bool = True) -> None: ...

    def _scroll_ids(self, flt: models.Filter, fields: Sequence[str] | bool = True, vectors: bool = False
                    ) -> Iterator[tuple[Any, dict[str, Any]]]: ...

    def _scroll(self, flt: models.Filter, fields: Sequence[str] | bool = True) -> Iterator[dict[str, Any]]: ...

    def _delete_points(self, ids: Sequence[Any]) -> None: ...

    def _sources(self, keys: Sequence[tuple[str, str]], fields: Sequence[str] | bool = True
                 ) -> dict[tuple[str, str], dict[str, Any]]: ...


def _h63(*parts: str) -> int:
    """A stable positive int64 from strings (the first 8 bytes of their UUID5)."""
    return uuid.uuid5(_NS, "\x1f".join(parts)).int >> 65


def source_point(kind: str, key: str) -> str:
    return str(uuid.uuid5(_NS, f"{kind}\x1f{key}"))


def _m(key: str, value: Any) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _f(*must: Any) -> models.Filter:
    return models.Filter(must=list(must))
