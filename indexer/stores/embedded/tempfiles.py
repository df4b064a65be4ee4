"""Leftovers of killed processes: temp files and folders named after the pid that wrote them.

Whatever writes a file by "temp file, fsync, rename" names the temp file ``NAME.tmpPID``; a process
killed before its rename leaves it behind (for a vector file, a full-size copy per kill). The next
open removes those whose process no longer runs; a file of a live process (another process saving
right now, or this one) is left alone.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

from indexer.jobs import pid_alive

log = logging.getLogger(__name__)

_TEMP_RE = re.compile(r".+\.tmp(\d+)")  # what VectorIndex.save writes before its rename: NAME.tmpPID


def remove_stale_temp_files(folder: Path) -> list[str]:
    """Delete temp files a killed process left in ``folder`` (``vectors.faiss.tmpPID`` and other
    ``*.tmpPID``). A file whose process still runs (another process saving right now) is kept."""
    removed = []
    for p in folder.iterdir():
        m = _TEMP_RE.fullmatch(p.name)
        if m is None or not p.is_file() or pid_alive(int(m.group(1))):
            continue
        p.unlink(missing_ok=True)
        removed.append(p.name)
    if removed:
        log.warning("%s: removed temp files left by a stopped process: %s", folder.name, ", ".join(removed))
    return removed


def remove_stale_dirs(folder: Path, pattern: re.Pattern[str]) -> list[str]:
    """Delete sub-folders of ``folder`` whose name matches ``pattern`` (group 1: the pid) and whose
    process no longer runs."""
    removed = []
    for p in folder.iterdir():
        m = pattern.fullmatch(p.name)
        if m is not None and p.is_dir() and not pid_alive(int(m.group(1))):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
    return removed
