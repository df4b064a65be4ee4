"""The app's open collections: one ``Collection`` per name, opened on first use, closed at shutdown.

Requests hold a *lease* on a collection while they use it, so deleting one waits for the requests
in flight (and refuses new ones) instead of pulling files from under a running query.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from app.settings import Settings
from indexer.collection import (
    Collection,
    CollectionInfo,
    delete_collection,
    list_collection_names,
    read_info,
    validate_name,
)
from indexer.embedding import Embedder
from indexer.errors import CollectionBusy, CollectionNotFound, CorruptCollection, SemsearchError

log = logging.getLogger(__name__)


@dataclass
class _Entry:
    collection: Collection
    users: int = 0
    idle: threading.Condition = field(default_factory=threading.Condition)


def _corrupt(name: str, exc: Exception) -> CorruptCollection:
    log.error("collection %r: cannot read its catalog: %s", name, exc)
    return CorruptCollection(f"Collection {name!r} cannot be read (its catalog is damaged); see the server log.",
                             field="collection")


class CollectionRegistry:
    """The service's open collections (see ``app.service``, which owns the model and the store)."""

    def __init__(self, settings: Settings, model: Callable[[], Embedder], backend: Any) -> None:
        self.settings = settings
        self._model = model  # the service's model, loaded on first use
        self.backend = backend  # where the collections live (indexer/stores/); the service closes it
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._opening: dict[str, threading.Lock] = {}
        self._deleting: set[str] = set()
        self.unavailable: dict[str, str] = {}  # name -> why it could not be opened (shown by /readyz)

    # -- opening ---------------------------------------------------------------------------------
    def _entry(self, name: str, *, create: bool = False) -> _Entry:
        validate_name(name)
        with self._lock:
            if name in self._deleting:
                raise CollectionNotFound(name)
            entry = self._entries.get(name)
            if entry is not None:
                return entry
            opening = self._opening.setdefault(name, threading.Lock())
        with opening:  # one thread opens (and maybe repairs) a collection; others wait for it
            with self._lock:
                entry = self._entries.get(name)
                if entry is not None:
                    return entry
            try:
                coll = Collection.open(self.backend, name, self._model(), create=create,
                                       index_type=self.settings.index_type, limits=self.settings.limits(),
                                       language=self.settings.language)
            except SemsearchError as e:
                if not isinstance(e, CollectionNotFound):
                    self.unavailable[name] = e.message
                raise
            except self.backend.damaged as e:
                self.unavailable[name] = "catalog cannot be read"
                raise _corrupt(name, e) from e
            self.unavailable.pop(name, None)
            with self._lock:
                entry = self._entries[name] = _Entry(coll)
            return entry

    @contextmanager
    def lease(self, name: str, *, create: bool = False) -> Iterator[Collection]:
        """Use collection ``name`` (opened on first use); deleting it waits until the lease ends."""
        while True:
            entry = self._entry(name, create=create)
            with entry.idle:
                with self._lock:
                    current = self._entries.get(name) is entry and name not in self._deleting
                if current:
                    entry.users += 1
                    break
            # deleted between lookup and lease: look again (it will be reported missing or reopened)
        try:
            yield entry.collection
        finally:
            with entry.idle:
                entry.users -= 1
                entry.idle.notify_all()

    def create(self, name: str, *, index_type: str | None = None, language: str | None = None) -> CollectionInfo:
        validate_name(name)
        with self._lock:
            if name in self._deleting:
                raise CollectionBusy(f"Collection {name!r} is being deleted; try again.", field="name")
        coll = Collection.create(self.backend, name, self._model(),
                                 index_type=index_type or self.settings.index_type, limits=self.settings.limits(),
                                 language=language or self.settings.language)
        with self._lock:
            self._entries[name] = _Entry(coll)
        return coll.info()

    def delete(self, name: str, *, timeout: float = 60.0) -> None:
        """Close and remove a collection once the requests using it are done."""
        with self.exclusive(name, timeout=timeout):
            delete_collection(self.backend, name)

    @contextmanager
    def exclusive(self, name: str, *, timeout: float = 60.0) -> Iterator[None]:
        """Close ``name`` once the requests using it are done and keep new ones out (they get 404)
        while the block replaces or removes its files (delete, snapshot restore)."""
        validate_name(name, reserved_ok=True)  # a collection made before the device-name rule can still go
        with self._lock:
            if name in self._deleting:
                raise CollectionBusy(f"Collection {name!r} is already being deleted or restored.", field="name")
            self._deleting.add(name)
            entry = self._entries.pop(name, None)
        try:
            if entry is not None:
                with entry.idle:
                    if not entry.idle.wait_for(lambda: entry.users == 0, timeout):
                        with self._lock:
                            self._entries[name] = entry
                        raise CollectionBusy(f"Collection {name!r} is still in use; try again.", field="name")
                entry.collection.close()
            yield
            self.unavailable.pop(name, None)
        finally:
            with self._lock:
                self._deleting.discard(name)

    # -- reading ---------------------------------------------------------------------------------
    def names(self) -> list[str]:
        with self._lock:
            deleting = set(self._deleting)
        return [n for n in list_collection_names(self.backend) if n not in deleting]

    def loaded(self) -> list[str]:
        with self._lock:
            return sorted(self._entries)

    def info(self, name: str) -> CollectionInfo:
        validate_name(name)
        with self._lock:
            if name in self._deleting:
                raise CollectionNotFound(name)
            entry = self._entries.get(name)
        try:
            return entry.collection.info() if entry is not None else read_info(self.backend, name)
        except (*self.backend.damaged, FileNotFoundError) as e:
            if isinstance(e, FileNotFoundError):  # removed by another process between listing and reading
                raise CollectionNotFound(name) from e
            raise _corrupt(name, e) from e

    def infos(self) -> list[CollectionInfo]:
        return self.scan()[0]

    def scan(self) -> tuple[list[CollectionInfo], list[str]]:
        """(healthy collections' infos, names of the damaged ones): a damaged catalog hides no other."""
        out, bad = [], []
        for name in self.names():
            try:
                out.append(self.info(name))
            except CollectionNotFound:
                continue  # vanished meanwhile
            except CorruptCollection:
                bad.append(name)
        return out, bad

    def require(self, name: str) -> None:
        """CollectionNotFound unless ``name`` exists on disk (damaged or not): what DELETE checks."""
        validate_name(name, reserved_ok=True)
        if name not in self.names():
            raise CollectionNotFound(name)

    def warm_up(self) -> None:
        """Open every existing collection now, so FAISS repairs happen before traffic does."""
        for name in self.names():
            try:
                self._entry(name)
            except SemsearchError as e:
                log.warning("collection %r not opened: %s", name, e.message)

    def close_all(self) -> None:
        with self._lock:
            entries = list(self._entries.items())
            self._entries.clear()
        for name, entry in entries:
            try:
                entry.collection.close()
            except Exception:
                log.exception("closing collection %r", name)
