"""The folder-sync recipe: bring a collection in line with a folder.

walk the folder -> compare each file with what the catalog knows (size and mtime, then sha256) ->
read and chunk the new and changed files -> embed and commit them in batches of
``Limits.batch_chunks`` chunks -> drop the files that are gone -> checkpoint the vector index.

Unchanged files cost no reading and no embedding. The folder is streamed: no list of its files is
kept; what is known of previously indexed files is held as small tuples that shrink as files are
seen, and what is left at the end was deleted. Walking itself (and every skip reason) lives in
:mod:`indexer.walk`; committing a batch in :meth:`Collection.commit`.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from indexer.catalog import SourceWrite
from indexer.errors import InvalidInput
from indexer.readers import SkipFile, read_file
from indexer.walk import Candidate, Skipped, walk

if TYPE_CHECKING:
    from indexer.collection import Collection

__all__ = ["Candidate", "FolderSync", "IndexReport", "Progress", "Skipped", "walk"]

TOUCHES_PER_BATCH = 1000  # mtime-only updates (unchanged content) committed together


@dataclass
class IndexReport:
    """What one indexing run did. ``to_dict`` is the ``index --json`` shape."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_removed: int = 0
    chunks_total: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": {"added": self.added, "updated": self.updated, "unchanged": self.unchanged,
                      "removed": self.removed, "skipped": len(self.skipped)},
            "chunks": {"embedded": self.chunks_embedded, "removed": self.chunks_removed, "total": self.chunks_total},
            "skipped": [asdict(s) for s in self.skipped],
            "seconds": round(self.seconds, 3),
            "chunks_per_second": round(self.chunks_embedded / self.embed_seconds, 1) if self.embed_seconds else None,
        }


@dataclass
class Progress:
    """Sent to the progress callback after every batch."""

    files_done: int
    files_total: int
    chunks_embedded: int
    chunks_per_second: float
    eta_seconds: float | None
    current: str = ""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class FolderSync:
    """One run of the recipe over one folder. Use once: ``FolderSync(coll, root).run()``."""

    def __init__(self, collection: Collection, root: Path, *, progress: Callable[[Progress], None] | None = None,
                 cancel: threading.Event | None = None) -> None:
        self.coll = collection
        self.limits = collection.limits
        self.root = Path(root).expanduser().absolute()
        self.progress = progress
        self.cancel = cancel
        self.report = IndexReport()
        self.started = time.monotonic()
        self.known: dict[str, tuple[int, float, str]] = {}  # key -> (size, mtime, sha256), popped when seen
        self.gone: list[str] = []  # known files seen again but no longer indexable (empty, unsupported, ...)
        self.pending: list[tuple[SourceWrite, str]] = []  # (write, "added" | "updated") waiting for a batch
        self.pending_chunks = 0
        self.touches: list[tuple[str, float]] = []  # (key, new mtime) of files whose content is unchanged
        self.files_total = 0
        self.files_done = 0

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def run(self) -> IndexReport:
        if not self.root.is_dir():
            raise InvalidInput(f"{self.root} is not a folder", field="path")
        self.known = self.coll.file_states(self.root)
        if self.progress is not None:  # the files to do, for progress and ETA: no second walk when nobody watches
            self.files_total = sum(isinstance(item, Candidate)
                                   for item in walk(self.root, max_bytes=self.limits.max_file_bytes))
        self.tell("")
        for item in walk(self.root, max_bytes=self.limits.max_file_bytes):
            if self.cancelled():
                break
            if isinstance(item, Skipped):
                self.skipped_entry(item)
            else:
                self.visit(item)
        self.flush()
        if not self.cancelled():
            self.remove_gone()
        self.tell("")
        self.coll.checkpoint()
        self.report.chunks_total = self.coll.catalog.count_chunks()
        self.report.seconds = time.monotonic() - self.started
        return self.report

    def skipped_entry(self, item: Skipped) -> None:
        self.report.skipped.append(item)
        if item.reason == "unreadable":  # keep what we had: a transient error must not delete data
            under = item.path.rstrip("/") + "/"  # (an unreadable folder keeps the files under it)
            for key in [k for k in self.known if k == item.path or k.startswith(under)]:
                del self.known[key]

    def visit(self, cand: Candidate) -> None:
        """Decide what one file needs (nothing, an mtime update, or reading and embedding) and queue it."""
        key = str(cand.path)
        old = self.known.pop(key, None)
        self.files_done += 1
        if old is not None and old[0] == cand.size and old[1] == cand.mtime:
            self.report.unchanged += 1
            return
        try:
            sha = sha256_file(cand.path)
            if old is not None and old[2] == sha:
                self.report.unchanged += 1
                self.touches.append((key, cand.mtime))
                if len(self.touches) >= TOUCHES_PER_BATCH:
                    self.flush()
                return
            text = read_file(cand.path, max_bytes=self.limits.max_file_bytes)
        except SkipFile as e:
            self.report.skipped.append(Skipped(key, e.reason, e.detail))
            if e.reason != "unreadable" and old is not None:  # unreadable: keep what we had
                self.gone.append(key)
            return
        except OSError as e:
            self.report.skipped.append(Skipped(key, "unreadable", e.strerror or str(e)))
            return
        chunks = self.coll.chunk(text)
        if not chunks:
            self.report.skipped.append(Skipped(key, "empty", "no text to index"))
            if old is not None:
                self.gone.append(key)
            return
        write = SourceWrite(kind="file", key=key, sha256=sha, chunks=chunks, vectors=np.zeros((0, 0), np.float32),
                            ext=cand.path.suffix.lower(), size=cand.size, mtime=cand.mtime, root=str(self.root))
        self.pending.append((write, "added" if old is None else "updated"))
        self.pending_chunks += len(chunks)
        if self.pending_chunks >= self.limits.batch_chunks:
            self.flush()
            self.tell(key)

    def flush(self) -> None:
        """Embed the pending files and commit them (with the pending mtime updates) as one batch."""
        if not self.pending and not self.touches:
            return
        t0 = time.monotonic()
        writes = self.coll.embed_writes(self.pending) if self.pending else []
        self.report.embed_seconds += time.monotonic() - t0
        added, removed = self.coll.commit(writes, touches=self.touches)
        self.report.chunks_embedded += added
        self.report.chunks_removed += removed
        for _write, status in self.pending:
            if status == "added":
                self.report.added += 1
            else:
                self.report.updated += 1
        self.pending, self.pending_chunks, self.touches = [], 0, []

    def remove_gone(self) -> None:
        """Drop the files indexed before that are not there (or not indexable) any more."""
        gone = self.gone + list(self.known)
        if gone:
            _, removed = self.coll.commit(deletes=[("file", k) for k in gone])
            self.report.removed = len(gone)
            self.report.chunks_removed += removed

    def tell(self, current: str) -> None:
        if self.progress is None:
            return
        r = self.report
        elapsed = time.monotonic() - self.started
        rate = r.chunks_embedded / r.embed_seconds if r.embed_seconds else 0.0
        done = self.files_done
        eta = elapsed / done * max(0, self.files_total - done) if done else None
        self.progress(Progress(done, max(self.files_total, done), r.chunks_embedded, rate, eta, current))
