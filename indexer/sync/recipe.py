"""The folder-sync recipe (see the package :mod:`indexer.sync`): :class:`FolderSync`, one run over one folder."""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from indexer.analysis.languages import AUTO, detect
from indexer.chunking import Chunk
from indexer.embedding.base import Embedder
from indexer.embedding.batches import forward_passes
from indexer.embedding.cache import cached_part, embed_new, has_cache
from indexer.errors import CollectionBusy, InvalidInput
from indexer.limits import Limits
from indexer.readers import Extracted, ReadLimits, SkipFile, read_data
from indexer.readers.base import ReadCancelled
from indexer.stores.base import IndexingLock, SourceWrite, Store
from indexer.sync.copies import Copies
from indexer.sync.report import IndexReport, Progress
from indexer.walk import Candidate, Skipped, path_key, read_candidate, walk, why_unreadable


class SyncTarget(Protocol):
    """What the recipe needs of a collection (:class:`indexer.collection.Collection` is one). A protocol,
    not an import: the collection runs the sync, so collection -> sync is the one direction between them."""

    store: Store
    embedder: Embedder
    limits: Limits

    def file_states(self, root: Path) -> dict[str, tuple[int, float, str, bool]]: ...

    def iter_chunks(self, text: str, part_starts: Sequence[int] = ()) -> Iterator[Chunk]: ...

    def commit(self, upserts: Sequence[SourceWrite] = (), deletes: Sequence[tuple[str, str]] = (),
               touches: Sequence[tuple[str, float]] = ()) -> tuple[int, int]: ...

    def checkpoint(self) -> None: ...


TOUCHES_PER_BATCH = 1000  # mtime-only updates (unchanged content) committed together


TELL_EVERY = 0.5  # seconds between progress calls while nothing else forces one
LOCK_POLL = 0.5  # seconds between tries of a collection's indexing lock held by another run


@dataclass
class _Piece:
    """Some (or all) chunks of one file, waiting in the batch."""

    write: SourceWrite
    status: str | None  # added | updated | resumed when this piece completes its file, else None
    nbytes: float  # this piece's share of the file's size (for the ETA)


class FolderSync:
    """One run of the recipe over one folder. Use once: ``FolderSync(coll, root).run()``."""

    def __init__(self, collection: SyncTarget, root: Path, *, progress: Callable[[Progress], None] | None = None,
                 cancel: threading.Event | None = None) -> None:
        self.coll = collection
        self.limits = collection.limits
        self.root = Path(root).expanduser().absolute()
        self.root_key = path_key(self.root)
        self.progress = progress
        self.cancel = cancel
        self.report = IndexReport(cache_lookups=0 if has_cache(collection.embedder) else None)
        self.started = time.monotonic()
        self.known: dict[str, tuple[int, float, str, bool]] = {}  # key -> (size, mtime, sha256, partial)
        self.gone: list[str] = []  # known files seen again but no longer indexable (empty, unsupported, ...)
        self.pending: list[_Piece] = []
        self.pending_chunks = 0
        self.touches: list[tuple[str, float]] = []  # (key, new mtime) of files whose content is unchanged
        self.copies = Copies(collection.store)
        # progress: files and bytes (of changed files) to do and done; chunks embedded but not committed
        self.phase = "walking"
        self.current = ""
        self.files_total = self.files_done = 0
        self.bytes_total = self.bytes_done = 0.0
        self.in_flight = 0
        self.in_flight_bytes = 0.0
        self.indexing_started = self.last_tell = 0.0
        self.last_commit = time.monotonic()
        self.rate: float | None = None  # chunks embedded per second of embedding, recent batches
        self.language = collection.store.meta.language
        self.ocr_file = ""  # the file being read (OCR's progress names it)
        self.read_limits = ReadLimits.of(self.limits, self.language, cancel=cancel, on_page=self.ocr_page)

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def run(self) -> IndexReport:
        if not self.root.is_dir():
            raise InvalidInput(f"{self.root} is not a folder", field="path")
        lock = self.coll.store.indexing_lock()
        if not self.wait_for(lock):
            self.set_phase("done")
            self.report.seconds = time.monotonic() - self.started
            return self.report  # cancelled while waiting: nothing done
        try:
            return self.sync()
        finally:
            lock.release()

    def wait_for(self, lock: IndexingLock) -> bool:
        """Take the collection's indexing lock, waiting while another indexer holds it (progress phase
        ``waiting``), or refuse at once with ``Limits.when_busy`` refuse. False if cancelled meanwhile."""
        holder = lock.try_acquire()
        if holder is None:
            return True
        name = self.coll.store.name
        if self.limits.when_busy == "refuse":
            raise CollectionBusy(f"Collection {name!r} is being indexed by {holder}; index it again when that run "
                                 "ends, or set SEMSEARCH_INDEX_WHEN_BUSY=wait to wait for it", field="collection")
        while holder is not None:
            self.phase, self.current = "waiting", f"collection {name!r} is being indexed by {holder}"
            self.tell()
            if (self.cancel or threading.Event()).wait(LOCK_POLL):
                return False
            holder = lock.try_acquire()
        return True

    def sync(self) -> IndexReport:
        """The recipe, with the indexing lock held."""
        self.phase, self.current = "walking", ""
        self.known = self.coll.file_states(Path(self.root_key))
        self.tell(force=True)
        if self.progress is not None:  # the files to do, for progress and ETA: no second walk when nobody watches
            self.count()
        self.set_phase("indexing")
        self.indexing_started = self.last_commit = time.monotonic()
        for item in walk(self.root, max_bytes=self.limits.max_file_bytes):
            if self.cancelled():
                break
            if isinstance(item, Skipped):
                self.skipped_entry(item)
            else:
                self.visit(item)
        self.finish()
        if not self.cancelled():
            self.set_phase("removing")
            self.remove_gone()
        self.set_phase("saving")
        self.coll.checkpoint()
        self.report.chunks_total = self.coll.store.count_chunks()
        self.report.seconds = time.monotonic() - self.started
        self.set_phase("done")
        return self.report

    def count(self) -> None:
        for item in walk(self.root, max_bytes=self.limits.max_file_bytes):
            if self.cancelled():
                return
            if isinstance(item, Candidate):
                self.files_total += 1
                if not self.unchanged_by_stat(item, self.known.get(item.key)):
                    self.bytes_total += item.size
                self.current = path_key(item.path.parent)
                self.tell()

    @staticmethod
    def unchanged_by_stat(cand: Candidate, old: tuple[int, float, str, bool] | None) -> bool:
        return old is not None and old[0] == cand.size and old[1] == cand.mtime and not old[3]

    def skipped_entry(self, item: Skipped) -> None:
        self.report.skipped.append(item)
        if item.reason == "unreadable":  # keep what we had: a transient error must not delete data
            under = item.path.rstrip("/") + "/"  # (an unreadable folder keeps the files under it)
            for key in [k for k in self.known if k == item.path or k.startswith(under)]:
                del self.known[key]

    def visit(self, cand: Candidate) -> None:
        """Decide what one file needs (nothing, an mtime update, or reading and embedding) and queue it."""
        key = cand.key
        old = self.known.pop(key, None)
        self.files_done += 1
        self.current = key
        if self.unchanged_by_stat(cand, old):
            self.report.unchanged += 1
            self.tell()
            return
        try:
            data = read_candidate(cand, self.limits.max_file_bytes)
        except (SkipFile, OSError) as e:
            self.unreadable(cand, old, e)
            return
        sha = hashlib.sha256(data).hexdigest()
        if old is not None and old[2] == sha and not old[3]:
            self.report.unchanged += 1
            self.bytes_done += cand.size
            self.touches.append((key, cand.mtime))
            if len(self.touches) >= TOUCHES_PER_BATCH:
                self.flush()
            return
        if old is not None:
            self.copies.replacing.add(key)
        canonical = self.copies.canonical(sha, key)
        if canonical is not None:
            self.queue_copy(cand, old, sha, canonical)
            return
        self.changed(cand, old, sha, data)

    def queue_copy(self, cand: Candidate, old: tuple[int, float, str, bool] | None, sha: str, canonical: str) -> None:
        """Queue ``cand`` as a copy of ``canonical`` (no chunks): committed in order, so after the canonical's
        own pieces when it was queued in this run."""
        if cand.key in self.copies.targets:  # (as in queue: the copies of its stored content go first)
            self.flush()
        write = self.copies.write(cand, sha, canonical, self.root_key)
        self.pending.append(_Piece(write, "updated" if old is not None else "added", float(cand.size)))
        self.tell()
        if len(self.pending) >= TOUCHES_PER_BATCH or self.commit_due():
            self.flush()

    def changed(self, cand: Candidate, old: tuple[int, float, str, bool] | None, sha: str, data: bytes) -> None:
        """Read the text of a new or changed file and queue its chunks (``indexer.distributed`` reads
        and chunks it on a Ray actor instead, then calls :meth:`extracted`)."""
        self.ocr_file = cand.key
        try:
            doc = read_data(data, cand.path, max_bytes=self.limits.max_file_bytes, limits=self.read_limits)
        except (SkipFile, OSError) as e:
            self.unreadable(cand, old, e)
            return
        except ReadCancelled:  # (stopped within a page of OCR: the file stays as it was)
            return
        del data
        self.extracted(cand, old, sha, doc)

    def ocr_page(self, done: int, total: int) -> None:
        """A page of the file being read was recognised: progress moves per page of a long scan."""
        self.current = f"{self.ocr_file} (OCR: page {done} of {total})"
        self.tell()

    def unreadable(self, cand: Candidate, old: tuple[int, float, str, bool] | None, e: SkipFile | OSError) -> None:
        if isinstance(e, SkipFile):
            self.skip(Skipped(cand.key, e.reason, e.detail), cand, gone=e.reason != "unreadable" and old is not None)
        else:  # unreadable: keep what we had (a transient error must not delete data)
            self.skip(Skipped(cand.key, "unreadable", why_unreadable(e)), cand, gone=False)

    def extracted(self, cand: Candidate, old: tuple[int, float, str, bool] | None, sha: str, doc: Extracted,
                  chunks: Iterator[Chunk] | None = None) -> None:
        """Queue the chunks of a file's text (``chunks``: made already, else chunked here)."""
        self.tell()
        self.report.ocr_pages += sum(1 for p in doc.parts if p.metadata.get("ocr"))
        language = self.language if self.language != AUTO else detect([doc.text])
        self.report.languages[language] = self.report.languages.get(language, 0) + 1
        resume = old is not None and old[3] and old[2] == sha
        if not self.queue(cand, sha, doc, "updated" if old is not None else "added", resume, chunks):
            self.skip(Skipped(cand.key, "empty", "no text to index"), cand, gone=old is not None)

    def skip(self, item: Skipped, cand: Candidate, *, gone: bool) -> None:
        self.report.skipped.append(item)
        self.bytes_done += cand.size
        if gone:
            self.gone.append(cand.key)

    def queue(self, cand: Candidate, sha: str, doc: Extracted, status: str, resume: bool,
              chunks: Iterator[Chunk] | None = None) -> bool:
        """Chunk the file's text as a stream (no chunk crossing from one of its parts into the next) and
        queue its chunks in pieces that fill the batch; each full batch is committed at once. A file
        longer than a batch is committed partial, piece by piece, and its last piece marks it done.
        ``resume``: a killed or cancelled run committed the first chunks of this very content already:
        those are checked against the fresh chunks and skipped. False if the text has no chunks."""
        spans = self.coll.store.chunk_spans("file", cand.key) if resume else []
        text = doc.text
        if chunks is None:
            chunks = self.coll.iter_chunks(text, [p.start for p in doc.parts])
        held: list[Chunk] = []  # the chunks matching ``spans`` so far (kept in case a later one differs)
        for chunk in chunks:
            if len(held) < len(spans) and spans[len(held)] == (chunk.ord, chunk.start, chunk.end):
                held.append(chunk)
                continue
            break
        else:
            chunk = None
        if held and len(held) == len(spans) and chunk is not None:
            status, start, first = "resumed", len(held), [chunk]
        else:  # nothing to resume (or a mismatch, or nothing left): all chunks, replacing what is stored
            start, first = 0, held + ([chunk] if chunk is not None else [])
        if not first:
            return False
        if cand.key in self.copies.targets:  # pending copies of its stored content: commit them first, so
            self.flush()                   # replacing it hands that content to one of them
        self.bytes_done += cand.size * (first[0].start / len(text))  # the part committed before
        append = start > 0
        part: list[Chunk] = []
        for chunk in itertools.chain(first, chunks):
            if self.cancelled():
                return True
            if part and (len(part) + self.pending_chunks >= self.batch_target() or self.commit_due()):
                self.add_piece(cand, sha, part, doc, partial=True, append=append, status=None)
                part, append = [], True
            part.append(chunk)
            self.tell()
        self.add_piece(cand, sha, part, doc, partial=False, append=append, status=status)
        self.copies.queued(sha, cand.key)
        return True

    def add_piece(self, cand: Candidate, sha: str, part: list[Chunk], doc: Extracted, *, partial: bool,
                  append: bool, status: str | None) -> None:
        write = SourceWrite(kind="file", key=cand.key, sha256=sha, chunks=part, vectors=np.zeros((0, 0), np.float32),
                            ext=Path(cand.key).suffix.lower(), size=cand.size, mtime=cand.mtime, root=self.root_key,
                            partial=partial, append=append, metadata=doc.metadata,
                            chunk_metadata=doc.metadata_at([c.start for c in part]))
        nbytes = cand.size * (part[-1].end - part[0].start) / max(1, len(doc.text))
        self.pending.append(_Piece(write, status, nbytes))
        self.pending_chunks += len(part)
        if self.pending_chunks >= self.batch_target() or self.commit_due():
            self.flush()

    def batch_target(self) -> int:
        """Chunks to gather before embedding and committing them: ``batch_chunks``, or fewer when the rate
        measured so far says that many would take longer than ``commit_seconds`` to embed (the first
        batch is one forward pass, which measures it)."""
        lim = self.limits
        if lim.commit_seconds <= 0:
            return lim.batch_chunks
        if self.rate is None:
            return min(lim.batch_chunks, lim.embed_batch_size)
        return max(1, min(lim.batch_chunks, int(self.rate * lim.commit_seconds)))

    def commit_due(self) -> bool:
        """``commit_seconds`` have passed since the last commit (reading and chunking count too)."""
        return 0 < self.limits.commit_seconds <= time.monotonic() - self.last_commit

    def flush(self) -> None:
        """Embed the pending pieces and commit them (with the pending mtime updates) as one batch.
        Cancelled while embedding: the batch is dropped (nothing of it was committed)."""
        pieces, touches = self.pending, self.touches
        self.pending, self.pending_chunks, self.touches = [], 0, []
        self.copies.targets.clear()
        if any(p.write.chunks for p in pieces) and not self.embed(pieces):
            pieces = []
        self.commit_batch(pieces, touches)

    def finish(self) -> None:
        """The walk is over: commit what is still pending."""
        self.flush()

    def commit_batch(self, pieces: list[_Piece], touches: list[tuple[str, float]]) -> None:
        """Commit embedded pieces and mtime updates as one batch, and count them."""
        if not pieces and not touches:
            return
        added, removed = self.coll.commit([p.write for p in pieces], touches=touches)
        self.last_commit = time.monotonic()
        self.report.chunks_embedded += added
        self.report.chunks_removed += removed
        self.in_flight, self.in_flight_bytes = 0, 0.0
        for piece in pieces:
            self.bytes_done += piece.nbytes
            if piece.status is not None:
                setattr(self.report, piece.status, getattr(self.report, piece.status) + 1)
            if piece.write.copy_of is not None:
                self.report.copies += 1
        self.tell(force=True)

    def cached(self, pieces: list[_Piece]) -> list[int]:
        """Fill the pieces' vectors from the embedding cache where it has their chunks' texts; the indices
        (over the pieces' chunks, in order) of the chunks left to embed. Every one without a cache."""
        texts = [c.text for p in pieces for c in p.write.chunks]
        t0 = time.monotonic()
        vectors, missing = cached_part(self.coll.embedder, texts)
        at = 0
        for p in pieces:
            p.write.vectors = vectors[at : at + len(p.write.chunks)]
            at += len(p.write.chunks)
        if self.report.cache_lookups is not None:
            self.report.embed_seconds += time.monotonic() - t0
            self.report.cache_lookups += len(texts)
            self.report.cache_hits += len(texts) - len(missing)
        return missing

    def embed(self, pieces: list[_Piece]) -> bool:
        """Fill each piece's vectors: from the embedding cache where it has them, else one forward pass of
        similar lengths at a time (:func:`forward_passes`; so progress moves and a cancel is seen within
        seconds). False if cancelled before the end."""
        chunks = [(pi, ci, c) for pi, p in enumerate(pieces) for ci, c in enumerate(p.write.chunks)]
        batch_bytes = sum(p.nbytes for p in pieces)
        started = time.monotonic()
        todo = self.cached(pieces)
        self.in_flight = len(chunks) - len(todo)
        for group in forward_passes([chunks[i][2].tokens for i in todo], self.limits.embed_batch_size):
            if self.cancelled():
                self.in_flight, self.in_flight_bytes = 0, 0.0
                return False
            part = [chunks[todo[i]] for i in group]
            t0 = time.monotonic()
            vecs = embed_new(self.coll.embedder, [c.text for _, _, c in part], batch_size=self.limits.embed_batch_size)
            self.report.embed_seconds += time.monotonic() - t0
            for (pi, ci, _), v in zip(part, vecs, strict=True):
                pieces[pi].write.vectors[ci] = v
            self.in_flight += len(part)
            self.in_flight_bytes = batch_bytes * self.in_flight / len(chunks)
            self.tell()
        rate = len(chunks) / max(time.monotonic() - started, 1e-3)
        self.rate = rate if self.rate is None else (self.rate + rate) / 2  # (chunk lengths vary: smooth it)
        return True

    def remove_gone(self) -> None:
        """Drop the files indexed before that are not there (or not indexable) any more."""
        gone = self.gone + list(self.known)
        if gone:
            _, removed = self.coll.commit(deletes=[("file", k) for k in gone])
            self.report.removed = len(gone)
            self.report.chunks_removed += removed

    def set_phase(self, phase: str) -> None:
        self.phase = phase
        self.current = ""
        self.tell(force=True)

    def tell(self, *, force: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if not force and now - self.last_tell < TELL_EVERY:
            return
        self.last_tell = now
        r = self.report
        embedded = r.chunks_embedded + self.in_flight
        rate = embedded / r.embed_seconds if r.embed_seconds else 0.0
        done = min(self.bytes_done + self.in_flight_bytes, self.bytes_total)
        if self.phase in ("removing", "saving", "done") and not self.cancelled():
            done = self.bytes_total  # (pieces' shares of a file's bytes are estimates: the sum may miss a byte)
        eta = None
        if self.phase == "indexing" and done > 0 and embedded:
            eta = (now - self.indexing_started) / done * (self.bytes_total - done)
        elif self.phase in ("removing", "saving", "done"):
            eta = 0.0
        self.progress(Progress(self.files_done, max(self.files_total, self.files_done), embedded, rate, eta,
                               self.current, self.phase, files_committed=r.added + r.updated + r.resumed,
                               chunks_committed=r.chunks_embedded, bytes_done=int(done),
                               bytes_total=int(self.bytes_total)))
