"""What an indexing run reports: :class:`IndexReport` at its end (``index --json``, a job's report) and
:class:`Progress` while it runs (the CLI's bar, a job's progress, the page). Made by the folder-sync
recipe (:mod:`indexer.sync.recipe`) and its Ray form (:mod:`indexer.distributed.ray_index`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from indexer.walk import Skipped


@dataclass
class IndexReport:
    """What one indexing run did. ``to_dict`` is the ``index --json`` shape."""

    added: int = 0
    updated: int = 0
    resumed: int = 0  # files a killed or cancelled run had partly committed, finished now
    unchanged: int = 0
    removed: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_removed: int = 0
    chunks_total: int = 0
    ocr_pages: int = 0  # pages and images whose text was recognised by OCR (new and changed files)
    # new and changed files by the language their keywords are analysed in: the collection's, or under
    # ``auto`` each file's as detected (indexer.analysis.languages.detect, on its first characters)
    languages: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    embed_seconds: float = 0.0
    copies: int = 0  # of the added and updated files: stored as copies of a file with the same content
    # the embedding cache (``indexer.embedding.cache``): chunks looked up and found; None: no cache
    cache_lookups: int | None = None
    cache_hits: int = 0

    def cache_hit_rate(self) -> float | None:
        """Share of the chunks to embed that the embedding cache had; None without a cache or lookups."""
        return self.cache_hits / self.cache_lookups if self.cache_lookups else None

    def to_dict(self) -> dict[str, Any]:
        rate = self.cache_hit_rate()
        cache = None if self.cache_lookups is None else {
            "looked_up": self.cache_lookups, "hits": self.cache_hits,
            "hit_rate": round(rate, 4) if rate is not None else None}
        return {
            "files": {"added": self.added, "updated": self.updated, "resumed": self.resumed,
                      "unchanged": self.unchanged, "removed": self.removed, "skipped": len(self.skipped),
                      "copies": self.copies},
            "chunks": {"embedded": self.chunks_embedded, "removed": self.chunks_removed, "total": self.chunks_total},
            "ocr_pages": self.ocr_pages,
            "languages": dict(sorted(self.languages.items(), key=lambda kv: (-kv[1], kv[0]))),
            "skipped": [asdict(s) for s in self.skipped],
            "seconds": round(self.seconds, 3),
            "chunks_per_second": round(self.chunks_embedded / self.embed_seconds, 1) if self.embed_seconds else None,
            "embedding_cache": cache,
        }


@dataclass
class Progress:
    """Sent to the progress callback when a run starts, at each phase and batch, and at least every
    ``TELL_EVERY`` seconds while files are walked or embedded.

    ``phase``: (waiting, while another indexer holds the collection: ``current`` says who) -> walking
    (counting the files to do) -> indexing (reading, chunking, embedding, committing) -> removing (files
    that are gone) -> saving (the vector index) -> done. ``eta_seconds`` comes from the bytes still to
    read in changed files; ``None`` until the first batch gives a rate. ``current``: the file being
    read, chunked or embedded."""

    files_done: int
    files_total: int
    chunks_embedded: int
    chunks_per_second: float
    eta_seconds: float | None
    current: str = ""
    phase: str = "indexing"
    # What is in the collection now, committed by this run: new or changed files whose every chunk is
    # committed, and chunks committed (``chunks_embedded`` also counts the batch being embedded, which a
    # stop or a crash drops). What an interrupted job reports.
    files_committed: int = 0
    chunks_committed: int = 0
    # Bytes of the new and changed files (the work to do; unchanged files cost nothing): done so far
    # (committed, or embedded in the batch under way) and in all. What the ETA is based on.
    bytes_done: int = 0
    bytes_total: int = 0
