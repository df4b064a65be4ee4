"""Folder -> files to index: walking with clear skips.

The walk never fails on a file: hidden entries, symlinks that leave the folder, symlink loops,
oversized, binary, unreadable and unsupported files are yielded as :class:`Skipped` with a reason,
so the caller can report them. Nothing here reads file contents except to classify them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from indexer.readers import SUPPORTED_EXTENSIONS, SUPPORTED_FILENAMES


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str  # hidden | symlink_outside | symlink_loop | too_large | binary | unreadable | unsupported | empty
    detail: str = ""


@dataclass(frozen=True)
class Candidate:
    path: Path  # absolute, inside the root (through the link if it is a symlink)
    size: int
    mtime: float


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_EXTENSIONS or path.name.lower() in SUPPORTED_FILENAMES


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def walk(root: Path, *, max_bytes: int) -> Iterator[Candidate | Skipped]:
    """Every file under ``root`` (sorted, depth first) as a Candidate, or a Skipped with its reason."""
    root = root.absolute()
    real_root = os.path.realpath(root)
    # Real paths of the folders on the current descent: a symlink back into one of them is a loop.
    stack: list[tuple[Path, frozenset[str]]] = [(root, frozenset({real_root}))]
    while stack:
        folder, ancestors = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            yield Skipped(str(folder), "unreadable", e.strerror or str(e))
            continue
        subfolders: list[tuple[Path, frozenset[str]]] = []
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith("."):
                yield Skipped(str(path), "hidden", "hidden files and folders are not indexed")
                continue
            try:
                if entry.is_symlink():
                    real = os.path.realpath(path)
                    if not os.path.exists(real):
                        yield Skipped(str(path), "unreadable", "broken symlink")
                        continue
                    if not _inside(real, real_root):
                        yield Skipped(str(path), "symlink_outside", f"points to {real}, outside {real_root}")
                        continue
                    if os.path.isdir(real) and real in ancestors:
                        yield Skipped(str(path), "symlink_loop", f"points back to {real}")
                        continue
                st = path.stat()
            except OSError as e:
                yield Skipped(str(path), "unreadable", e.strerror or str(e))
                continue
            if stat.S_ISDIR(st.st_mode):
                real = os.path.realpath(path)
                if real in ancestors:
                    yield Skipped(str(path), "symlink_loop", f"points back to {real}")
                    continue
                subfolders.append((path, ancestors | {real}))
            elif not stat.S_ISREG(st.st_mode):
                yield Skipped(str(path), "unsupported", "not a regular file")
            elif not is_supported(path):
                yield Skipped(str(path), "unsupported", f"no reader for {path.suffix or 'files without extension'}")
            elif st.st_size > max_bytes:
                yield Skipped(str(path), "too_large",
                              f"{st.st_size:,} bytes is over the {max_bytes:,} byte limit (SEMSEARCH_MAX_FILE_BYTES)")
            else:
                yield Candidate(path, st.st_size, st.st_mtime)
        stack.extend(reversed(subfolders))
