"""The embedded store's acknowledged writes: the catalog's WAL checkpoints and ``catalog.sqlite3-acked``.

A write is acknowledged once ``catalog.sqlite3`` itself holds it (the WAL is checkpointed before the
answer goes out). When that checkpoint cannot finish, or the caller chose a delayed checkpoint
(``wal_checkpoint_seconds`` > 0), the write's number is written into ``catalog.sqlite3-acked`` first,
and opening refuses a catalog older than that number (:class:`CatalogWalMissing`). The file is made
when the collection is opened and then only overwritten in place, so a full disk cannot stop the
number from being recorded. :class:`~indexer.stores.embedded.store.EmbeddedStore` owns one
:class:`AckedWrites` and calls it under the catalog's write lock.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from indexer.errors import CatalogWalMissing
from indexer.stores.embedded.catalog import Catalog
from indexer.stores.embedded.layout import ACKED_FILE

log = logging.getLogger(__name__)

# How long a write's checkpoint waits for searches that still read the state before it (they take
# milliseconds); past it the write is acknowledged with its number in catalog.sqlite3-acked.
ACK_CHECKPOINT_WAIT_MS = 2000


class AckedWrites:
    """One collection's WAL checkpoints and its ``catalog.sqlite3-acked`` file."""

    def __init__(self, path: Path, name: str, catalog: Catalog, wal_checkpoint_seconds: float) -> None:
        self.path = path
        self.name = name
        self.catalog = catalog
        # 0: every write is checkpointed into catalog.sqlite3 before it is acknowledged (two fsyncs; see
        # benchmarks/wal_checkpoint.py). > 0: at most this often (a burst of small writes pays one
        # checkpoint per period); meanwhile catalog.sqlite3-acked records what the -wal must hold.
        self.wal_checkpoint_seconds = wal_checkpoint_seconds
        self._wal_moved = float("-inf")  # monotonic time of the last WAL checkpoint
        self._wal_timer: threading.Timer | None = None
        self.unsaved = False  # a write was acknowledged with its number in catalog.sqlite3-acked only
        self._acked_fd: int | None = None  # catalog.sqlite3-acked, open for writing
        self._closed = False

    def check(self) -> None:
        """Refuse to open a catalog older than the last write catalog.sqlite3-acked says was
        acknowledged (its -wal was lost or is an older one); else open that file for the writes."""
        file = self.path / ACKED_FILE
        try:
            text = file.read_text().strip() or "0"  # (empty: made by a process killed before its first number)
        except FileNotFoundError:
            text = "0"
        if not text.isdigit():
            log.warning("%s: ignoring %s, which holds no write number", self.name, ACKED_FILE)
            text = "0"
        acknowledged, seq = int(text), self.catalog.seq
        if seq < acknowledged:
            raise CatalogWalMissing(self.name, seq, acknowledged)
        try:
            self._acked_fd = os.open(file, os.O_WRONLY | os.O_CREAT, 0o644)
            if os.fstat(self._acked_fd).st_size == 0:  # its one block, allocated now, rewritten in place after
                _write_acked(self._acked_fd, 0)
        except OSError as e:  # (a full disk): tried again at the first write that needs it
            log.warning("%s: cannot write %s: %s", self.name, ACKED_FILE, e)

    def acknowledge(self, seq: int) -> None:
        """Make write ``seq`` safe to acknowledge (the caller holds the write lock): in catalog.sqlite3,
        or (delayed or unfinished checkpoint) recorded in catalog.sqlite3-acked."""
        if self.wal_checkpoint_seconds <= 0:
            # Wait for older readers once per stall: while a checkpoint is still owed (a snapshot reading
            # for a minute, say), the next writes try without waiting and are recorded like this one.
            if self.move_wal("FULL", wait_ms=0 if self.unsaved else ACK_CHECKPOINT_WAIT_MS):
                return
        try:
            if self._acked_fd is None:
                self._acked_fd = os.open(self.path / ACKED_FILE, os.O_WRONLY | os.O_CREAT, 0o644)
            _write_acked(self._acked_fd, seq)
        except OSError as e:  # committed all the same: nothing may answer an error now
            log.error("%s: write %d is committed but only in the -wal, and %s cannot be written: %s",
                      self.name, seq, ACKED_FILE, e)
        self.unsaved = True
        self._move_wal_soon()

    def move_wal(self, mode: str = "PASSIVE", *, wait_ms: int = 5000) -> bool:
        """Checkpoint the catalog's WAL. True if every committed write is in catalog.sqlite3."""
        with self.catalog.write_lock:
            done = self.catalog.checkpoint_wal(mode, wait_ms=wait_ms)
            self._wal_moved = time.monotonic()
            if done:
                self.unsaved = False
        return done

    def _move_wal_soon(self) -> None:
        """Checkpoint the WAL now, or within ``wal_checkpoint_seconds`` (1 s to retry one that could not
        finish); the caller holds the write lock."""
        wait = self._wal_moved + (self.wal_checkpoint_seconds or 1.0) - time.monotonic()
        if wait <= 0 and self.move_wal():
            return
        if self._wal_timer is None:
            self._wal_timer = threading.Timer(max(wait, 0.05), self._move_wal_later)
            self._wal_timer.daemon = True
            self._wal_timer.start()

    def _move_wal_later(self) -> None:
        with self.catalog.write_lock:
            self._wal_timer = None
            if not self._closed and not self.move_wal() and self.unsaved:
                self._move_wal_soon()  # still unfinished: try again

    def close(self) -> None:
        """Stop the pending checkpoint and close catalog.sqlite3-acked (before the catalog closes)."""
        with self.catalog.write_lock:
            self._closed = True
            if self._wal_timer is not None:
                self._wal_timer.cancel()
            if self._acked_fd is not None:
                os.close(self._acked_fd)
                self._acked_fd = None


def _write_acked(fd: int, seq: int) -> None:
    """Record that writes up to ``seq`` are acknowledged: a fixed-width number written in place with one
    ``pwrite`` (no new block, so it works on a full disk; a kill leaves the old number or the new one)."""
    os.pwrite(fd, f"{seq:020d}\n".encode(), 0)
