"""Duplicates within one collection: a new or changed file whose content (sha256) the collection
already holds complete, or that a file queued whole earlier in this run has, is stored as a *copy* of
that file (``SourceWrite.copy_of``): no reading, no chunks, no embedding. A hit shows one path and
names the others; replacing or deleting the canonical file hands its chunks to a copy (the stores do
that inside the write). Only identical bytes count: near-duplicates (a changed line, another
encoding) are indexed apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from indexer.stores.base import SourceWrite, Store
from indexer.walk import Candidate


class Copies:
    """What one run knows of duplicates: which path a file can be a copy of, and what must be committed
    before what."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.queued_sha: dict[str, str] = {}  # sha256 -> path of a file queued whole in this run
        # paths seen changed or gone in this run: their stored content may be going, not one to point at
        self.replacing: set[str] = set()
        # the canonical paths the pending copies point at: flushed before such a path is replaced
        self.targets: set[str] = set()

    def canonical(self, sha: str, key: str) -> str | None:
        """The path of a file with content ``sha`` that ``key`` can be stored as a copy of: one queued
        whole earlier in this run, else a complete one in the collection (unless this run changes it)."""
        got = self.queued_sha.get(sha)
        if got is None:
            got = self.store.canonical_file(sha)
            if got is not None and got in self.replacing:
                got = None  # its stored content is being replaced: this file's must be embedded
        return got if got != key else None

    def queued(self, sha: str, key: str) -> None:
        """``key`` was queued whole with content ``sha``: later files with it are its copies."""
        self.queued_sha.setdefault(sha, key)

    def write(self, cand: Candidate, sha: str, canonical: str, root: str) -> SourceWrite:
        """``cand`` as a copy of ``canonical`` (no chunks), to commit after the canonical's own pieces."""
        self.targets.add(canonical)
        return SourceWrite(kind="file", key=cand.key, sha256=sha, chunks=[], vectors=np.zeros((0, 0), np.float32),
                           ext=Path(cand.key).suffix.lower(), size=cand.size, mtime=cand.mtime, root=root,
                           copy_of=canonical)
