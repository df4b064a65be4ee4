"""Leftovers of killed processes: temp files and folders named after the pid that wrote them.

Whatever writes a file by "temp file, fsync, rename" names the temp file ``NAME.tmpPID``; a process
killed before its rename leaves it behind (for a vector file, a full-size copy per kill). The next
open removes those whose process no longer runs; a file of a live process (another process saving
right now, or this one) is left alone. A temp file of an SQLite database (the catalog copy a snapshot
makes) may have SQLite's own ``NAME.tmpPID-journal`` beside it: it goes with it.

Pids are reused: a server restarted in a container is often pid 1 again, as was the one killed. So a
writer that can name the temp files it has in flight does (:func:`writing`), and for those folders a
file carrying this process's pid that it is not writing now is a leftover too.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from indexer.jobs import pid_alive

log = logging.getLogger(__name__)

# What VectorIndex.save writes before its rename: NAME.tmpPID; and SQLite's sidecars of such a file.
_TEMP_RE = re.compile(r"(.+\.tmp(\d+))(?:-journal|-wal|-shm)?")
_writing: set[str] = set()  # paths of the temp files this process is writing now (see ``writing``)


@contextmanager
def writing(*paths: Path) -> Iterator[None]:
    """Mark ``paths`` as this process's temp files in flight, so that a cleanup (``own_pid_stale``) keeps them."""
    names = [str(p) for p in paths]
    _writing.update(names)
    try:
        yield
    finally:
        _writing.difference_update(names)


def _stale(folder: Path, name: str, pid: int, own_pid_stale: bool) -> bool:
    if pid == os.getpid():
        return own_pid_stale and str(folder / name) not in _writing
    return not pid_alive(pid)


def remove_stale_temp_files(folder: Path, *, own_pid_stale: bool = False) -> list[str]:
    """Delete temp files a killed process left in ``folder`` (``vectors.faiss.tmpPID`` and other
    ``*.tmpPID``, with an SQLite ``-journal`` beside one). A file whose process still runs (another process
    saving right now) is kept. ``own_pid_stale``: every writer in ``folder`` marks its files with
    :func:`writing`, so one named with this process's pid and not marked is a leftover of a killed process
    that had the same pid."""
    removed = []
    for p in folder.iterdir():
        m = _TEMP_RE.fullmatch(p.name)
        if m is None or not p.is_file() or not _stale(folder, m.group(1), int(m.group(2)), own_pid_stale):
            continue
        p.unlink(missing_ok=True)
        removed.append(p.name)
    if removed:
        log.warning("%s: removed temp files left by a stopped process: %s", folder.name, ", ".join(removed))
    return removed


def remove_stale_dirs(folder: Path, pattern: re.Pattern[str], *, own_pid_stale: bool = False) -> list[str]:
    """Delete sub-folders of ``folder`` whose name matches ``pattern`` (group 1: the pid) and whose
    process no longer runs (``own_pid_stale`` as for :func:`remove_stale_temp_files`)."""
    removed = []
    for p in folder.iterdir():
        m = pattern.fullmatch(p.name)
        if m is not None and p.is_dir() and _stale(folder, p.name, int(m.group(1)), own_pid_stale):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
    if removed:
        log.warning("%s: removed folders left by a stopped process: %s", folder.name, ", ".join(removed))
    return removed
