"""One indexer per collection across processes, for the embedded store: an ``flock`` on
``<collection>/indexing.lock``.

``flock`` (not a lock file whose existence is the lock, nor SQLite's own locks, which are held per
transaction) because the kernel drops it when its holder's descriptor closes, so a process that is
killed never leaves a collection locked, and because two descriptors of one process exclude each
other too (two jobs of one server). While held, the file says who holds it, for the waiter's message.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path

LOCK_FILE = "indexing.lock"


class FileIndexingLock:
    """The :class:`~indexer.stores.base.IndexingLock` of a collection's folder."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_FILE
        self._fd: int | None = None

    def try_acquire(self) -> str | None:
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is held already by this lock")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
            finally:
                os.close(fd)
            return holder or "another indexer"
        except BaseException:
            os.close(fd)
            raise
        since = time.strftime("%H:%M:%S UTC", time.gmtime())
        who = f"process {os.getpid()} on {socket.gethostname()} since {since}".encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, who, 0)
        self._fd = fd
        return None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # (closing the descriptor releases the flock)
