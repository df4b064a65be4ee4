"""A full disk as an answer: recognise it in whatever raised it (SQLite, the OS, FAISS's writer) and
turn it into :class:`~indexer.errors.DiskFull`, which names the data folder and what to free.

SQLite reports a full disk as ``SQLITE_FULL`` ("database or disk is full") and the OS as ``ENOSPC``
(``EDQUOT`` past a quota); FAISS's writer and the tar module re-raise what our callbacks raised, so the
exception's chain is searched too. Opening a catalog on a full disk fails earlier, while SQLite sizes its
``-shm`` file, and SQLite says only "disk I/O error" then: an I/O error while the folder's disk has
less than :data:`NEARLY_FULL` bytes free counts as a full disk too (rather than a damaged catalog).
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from indexer.errors import DiskFull, SemsearchError

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
NEARLY_FULL = 1 << 20


def is_disk_full(exc: BaseException | None, folder: Path | None = None) -> bool:
    """Whether ``exc`` (or an exception it was raised from or during) is a full disk or quota; with
    ``folder``, also SQLite's "disk I/O error" while that folder's disk is (nearly) full."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, DiskFull):
            return True
        code = getattr(exc, "sqlite_errorcode", None) if isinstance(exc, sqlite3.Error) else None
        if code == sqlite3.SQLITE_FULL:
            return True
        if code is not None and code & 0xFF == sqlite3.SQLITE_IOERR and folder is not None and _nearly_full(folder):
            return True
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _nearly_full(folder: Path) -> bool:
    for p in (folder, *folder.parents):  # the folder itself may not exist yet
        try:
            st = os.statvfs(p)
        except OSError:
            continue
        return st.f_bavail * st.f_frsize < NEARLY_FULL
    return False


@contextmanager
def disk_full_answer(data_dir: Path, what: str) -> Iterator[None]:
    """Raise :class:`DiskFull` (naming ``data_dir``) for a full disk met while doing ``what``; every
    other error passes unchanged. ``what`` completes "... failed": "the write", "creating collection
    'notes'", "the snapshot" ..."""
    try:
        yield
    except DiskFull:
        raise
    except SemsearchError as e:
        cause = e.__cause__ or e.__context__
        if is_disk_full(cause, data_dir):  # e.g. a damaged-catalog error raised from a full disk
            raise DiskFull(data_dir, what, cause) from e
        raise
    except Exception as e:
        if is_disk_full(e, data_dir):
            raise DiskFull(data_dir, what, e) from e
        raise
