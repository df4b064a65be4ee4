"""One indexer per collection across processes, for the Qdrant store: a lease in the meta point.

Qdrant has no lock and no compare-and-set, so the lease is a payload field ``indexing`` = {by, token,
since, until}, renewed by a thread every ``LEASE_SECONDS / 4`` while held and cleared on release; a
holder that dies stops renewing, and its lease lapses after ``LEASE_SECONDS``. Taking it is read ->
write -> read again (the last write wins, so the one whose token is read back holds it).

Limitation (documented in docs/storage.md): two runs that take a free lease within the same few
milliseconds (each reads it free before either writes) can both hold it; the lease keeps two runs
started seconds or more apart from embedding the same files, which is the case that happens.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from typing import Any, Protocol

LEASE_SECONDS = 60.0


class _Meta(Protocol):
    def _meta_payload(self) -> dict[str, Any]: ...

    def _set_meta(self, **values: Any) -> None: ...


class LeaseIndexingLock:
    """The :class:`~indexer.stores.base.IndexingLock` of a Qdrant collection (see the module's docstring)."""

    def __init__(self, store: _Meta) -> None:
        self.store = store
        self.token = uuid.uuid4().hex
        self._stop: threading.Event | None = None
        self._renewer: threading.Thread | None = None

    def _lease(self) -> dict[str, Any]:
        now = time.time()
        return {"by": f"process {os.getpid()} on {socket.gethostname()}", "token": self.token,
                "since": time.strftime("%H:%M:%S UTC", time.gmtime(now)), "until": now + LEASE_SECONDS}

    def try_acquire(self) -> str | None:
        held = self.store._meta_payload().get("indexing")
        if held and held.get("token") != self.token and float(held.get("until", 0)) > time.time():
            return f"{held.get('by', 'another indexer')} since {held.get('since', '?')}"
        lease = self._lease()
        self.store._set_meta(indexing=lease)
        held = self.store._meta_payload().get("indexing") or {}
        if held.get("token") != self.token:
            return f"{held.get('by', 'another indexer')} since {held.get('since', '?')}"
        self._stop = threading.Event()
        self._renewer = threading.Thread(target=self._renew, args=(self._stop, lease["since"]),
                                         name="qdrant-indexing-lease", daemon=True)
        self._renewer.start()
        return None

    def _renew(self, stop: threading.Event, since: str) -> None:
        while not stop.wait(LEASE_SECONDS / 4):
            try:
                self.store._set_meta(indexing={**self._lease(), "since": since})
            except Exception:  # the server is away for a moment: the next renewal may reach it
                continue

    def release(self) -> None:
        stop, self._stop = self._stop, None
        if stop is None:
            return
        stop.set()
        if self._renewer is not None:  # (a renewal under way must not write the lease again after it is cleared)
            self._renewer.join(30)
            self._renewer = None
        held = self.store._meta_payload().get("indexing") or {}
        if held.get("token") == self.token:
            self.store._set_meta(indexing=None)
