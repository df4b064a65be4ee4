"""Where a deployment's collections live in Qdrant: a server (``url``) or the client's in-process
local mode (``path``). Collections by name are aliases of physical collections (see ``store.py``)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from indexer.errors import CollectionNotFound, NotSupported, StoreUnavailable
from indexer.stores.base import ANALYSED, NoSnapshots, StoreMeta
from indexer.stores.qdrant.jobs import QdrantJobTable
from indexer.stores.qdrant.points import DENSE, KEYWORD, META_ID, PREFIX, RETRIES
from indexer.stores.qdrant.reindex import reindex
from indexer.stores.qdrant.store import QdrantStore

if TYPE_CHECKING:
    from indexer.embedding import Embedder

log = logging.getLogger(__name__)


class QdrantBackend:
    """A Qdrant server (``url``) or the client's in-process local mode (``path``: one process per path)."""

    backend = "qdrant"
    damaged: tuple[type[Exception], ...] = ()

    def __init__(self, *, url: str = "", path: str | Path = "", api_key: str | None = None,
                 timeout: float = 10.0, shards: int = 1, replicas: int = 1) -> None:
        if bool(url) == bool(path):
            raise ValueError("give the Qdrant store a url or a path, not both")
        # Of each new collection, on a cluster: how many shards it is split into, and how many copies of
        # each shard the cluster keeps on different nodes (local mode and a single server ignore both).
        self.shards, self.replicas = shards, replicas
        self.where = url or str(path)
        self.local = not url
        self._lock = threading.RLock()  # local mode's client is not thread-safe; a server's is
        try:
            if url:
                self.client = QdrantClient(url=url, api_key=api_key, timeout=int(timeout))
            else:
                Path(path).mkdir(parents=True, exist_ok=True)
                self.client = QdrantClient(path=str(path))
        except (RuntimeError, BlockingIOError) as e:
            raise StoreUnavailable(
                f"Qdrant local storage at {self.where} is open in another process ({e}); local mode allows one "
                "process per path: stop the other one, or run a Qdrant server and set SEMSEARCH_QDRANT_URL") from e
        self.call("get_collections", what="list collections")  # fail at start, not at the first request

    def call(self, method: str, *args: Any, what: str, **kwargs: Any) -> Any:
        """``client.method(*args, **kwargs)``, retried on connection errors (every call semsearch makes
        is idempotent: fixed point ids); a failure is one StoreUnavailable line."""
        fn = getattr(self.client, method)
        for attempt, pause in enumerate((*RETRIES, None)):
            try:
                if self.local:
                    with self._lock:
                        return fn(*args, **kwargs)
                return fn(*args, **kwargs)
            except UnexpectedResponse as e:  # the server answered: retrying will not help
                raise StoreUnavailable(f"Qdrant at {self.where} refused to {what}: HTTP {e.status_code} "
                                       f"{(e.content or b'').decode(errors='replace')[:200]}; check the server's "
                                       "log and its version (1.10 or later is needed)") from e
            except (ResponseHandlingException, ConnectionError, TimeoutError, OSError) as e:
                if pause is None:
                    raise StoreUnavailable(f"Qdrant at {self.where} cannot be reached to {what} "
                                           f"({type(e).__name__}: {e}) after {attempt + 1} attempts; check that "
                                           "the server runs and SEMSEARCH_QDRANT_URL points at it") from e
                log.warning("Qdrant at %s: %s failed (%s); retrying in %.1fs", self.where, what, e, pause)
                time.sleep(pause)
        raise AssertionError("unreachable")

    # -- collections by name (aliases) ---------------------------------------------------------------
    def _aliases(self) -> dict[str, str]:
        got = self.call("get_aliases", what="list aliases")
        return {a.alias_name[len(PREFIX):]: a.collection_name for a in got.aliases if a.alias_name.startswith(PREFIX)}

    def names(self) -> list[str]:
        return sorted(self._aliases())

    def exists(self, name: str) -> bool:
        return name in self._aliases()

    def physical(self, name: str) -> str:
        phys = self._aliases().get(name)
        if phys is None:
            raise CollectionNotFound(name, self.names())
        return phys

    def create_physical(self, name: str, dimension: int) -> str:
        """A new, empty physical collection for ``name`` (not yet behind its alias)."""
        phys = f"{PREFIX}{name}__{time.time_ns() // 1000}"
        self.call("create_collection",
            phys, vectors_config={DENSE: models.VectorParams(size=dimension, distance=models.Distance.COSINE)},
            sparse_vectors_config={KEYWORD: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            shard_number=self.shards, replication_factor=self.replicas, what=f"create collection {phys}")
        for field, schema in (("type", "keyword"), ("kind", "keyword"), ("key", "keyword"), ("ext", "keyword"),
                              ("sid", "integer"), ("gen", "integer"), ("modified", "float"),
                              ("same_as", "keyword"), ("sha256", "keyword")):
            self.index_field(phys, field, schema)
        return phys

    def index_field(self, phys: str, field: str, schema: str) -> None:
        if self.local:
            return  # local mode has no payload indexes (it filters by scanning); the client would only warn
        self.call("create_payload_index", phys, field, field_schema=models.PayloadSchemaType(schema),
                  what=f"index payload field {field}")

    def swap(self, name: str, phys: str) -> None:
        """Point ``name`` at physical collection ``phys`` in one call (readers never see a gap), and drop
        the one it pointed at before."""
        old = self._aliases().get(name)
        ops: list[Any] = [models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=PREFIX + name))] \
            if old else []
        ops.append(models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=phys,
                                                                               alias_name=PREFIX + name)))
        self.call("update_collection_aliases", ops, what=f"point alias {PREFIX + name} at {phys}")
        if old and old != phys:
            self.call("delete_collection", old, what=f"delete collection {old}")

    def open(self, name: str, *, model: str, dimension: int, index_type: str, checkpoint_every: int = 0,
             wal_checkpoint_seconds: float = 0.0, language: str = "en") -> QdrantStore:
        if not self.exists(name):
            phys = self.create_physical(name, dimension)
            self.call("upsert", phys, [models.PointStruct(id=META_ID, vector={}, payload={
                "type": "meta", "model": model, "dimension": dimension, "index_type": index_type,
                "created": time.time(), "seq": 0, "dirty": False, "meta_keys": [],
                "language": language, "keywords": ANALYSED})], wait=True, what="create meta")
            self.swap(name, phys)
        return QdrantStore(self, name)

    def delete(self, name: str) -> None:
        phys = self.physical(name)
        self.call("update_collection_aliases", [models.DeleteAliasOperation(
            delete_alias=models.DeleteAlias(alias_name=PREFIX + name))], what=f"delete alias {PREFIX + name}")
        self.call("delete_collection", phys, what=f"delete collection {phys}")

    def peek(self, name: str) -> tuple[StoreMeta, dict[str, int], int, int]:
        store = QdrantStore(self, name)
        return store.meta, store.count_sources(), store.count_chunks(), 0

    def job_table(self) -> QdrantJobTable:
        return QdrantJobTable(self)  # every replica over this Qdrant

    @classmethod
    def require_files(cls, what: str) -> None:
        raise NotSupported(f"{what} works on the embedded store's files; with SEMSEARCH_STORE=qdrant use "
                           "Qdrant's own snapshots (POST /collections/<collection>/snapshots on the server)",
                           field="collection")

    def snapshots(self) -> NoSnapshots:
        """Qdrant's collections are not files here: use Qdrant's own snapshots."""
        return NoSnapshots(self.require_files)

    def reindex(self, name: str, embedder: Embedder, *, progress: Callable[[dict[str, Any]], None] | None = None,
                cancel: threading.Event | None = None) -> Any:
        """Re-embed behind the alias (``reindex.py``); returns its ReindexReport."""
        return reindex(self, name, embedder, progress=progress, cancel=cancel)

    def close(self) -> None:
        self.client.close()
