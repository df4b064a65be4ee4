"""The full text of an indexed file or document, with its chunks' offsets (to open a hit in place).

Documents keep their text in the catalog. Files do not (they stay on disk), so a file is read again
through the readers when it is unchanged since indexing (same sha256) and lies under a folder the
caller allows; otherwise its text is stitched from the stored chunks, which cover it with overlaps,
so the offsets of every hit still point at the same characters. A file whose text was recognised by
OCR (metadata ``ocr_pages``) is always stitched: recognising it again would take seconds a page.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from indexer.collection import Collection
from indexer.errors import DocumentNotFound, InvalidInput
from indexer.readers import SkipFile, read_data
from indexer.walk import key_bytes, open_file_under

KINDS = ("file", "doc")


@dataclass
class SourceText:
    id: str
    kind: str
    text: str  # at most max_chars characters from the start
    chars: int  # the whole text's length
    truncated: bool
    origin: str  # "catalog" (documents), "disk" (an unchanged file, read again), "chunks" (stitched)
    stale: bool  # a file that changed or disappeared since it was indexed (its text is the indexed one)
    metadata: dict[str, Any] = field(default_factory=dict)
    chunks: list[dict[str, int]] = field(default_factory=list)  # [{"id", "start", "end"}] within ``text``

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def stitch(chunks: Sequence[tuple[int, int, str]]) -> str:
    """The text that ``(start, end, text)`` chunks were cut from; gaps (whitespace the chunker
    skipped) become spaces so that every offset stays where it was."""
    out: list[str] = []
    pos = 0
    for start, end, text in sorted(chunks):
        if end <= pos:
            continue
        if start > pos:
            out.append(" " * (start - pos))
            pos = start
        out.append(text[pos - start :])
        pos = end
    return "".join(out)


def source_text(coll: Collection, key: str, *, kind: str = "file", max_chars: int = 1_000_000,
                readable_roots: Sequence[Path] = ()) -> SourceText:
    """The text of one file (``key`` = its absolute path) or document (``key`` = its id).

    ``readable_roots``: folders a file may be read from again; files elsewhere come from the chunks."""
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}, not {kind!r}", field="kind")
    if max_chars < 1:
        raise InvalidInput("max_chars must be at least 1", field="max_chars")
    src = coll.store.stored_source(key, (kind,))
    if src is None:
        raise DocumentNotFound(key)
    chunks, sha, stored = src.chunks, src.sha256, src.text
    if kind == "doc":
        text, origin, stale = stored or "", "catalog", False
    elif src.metadata.get("ocr_pages"):
        text, origin, stale = stitch([(c[1], c[2], c[3]) for c in chunks]), "chunks", False
    else:
        text, origin, stale = _file_text(coll, key, sha, chunks, readable_roots)
    shown = text[:max_chars]
    spans = [{"id": c[0], "start": c[1], "end": c[2]} for c in chunks if c[1] < len(shown)]
    return SourceText(id=key, kind=kind, text=shown, chars=len(text), truncated=len(text) > len(shown),
                      origin=origin, stale=stale, metadata=src.metadata, chunks=spans)


def _file_text(coll: Collection, key: str, sha: str, chunks: list[tuple[int, int, int, str]],
               roots: Sequence[Path]) -> tuple[str, str, bool]:
    """The file's text read again from disk, or stitched from its chunks. One descriptor does it all:
    ``open_file_under`` resolves the path once, checks the roots, opens it following no symlink and
    without blocking on a FIFO, and checks it is a regular file; the bytes read from it are the ones
    hashed and parsed. (Checking a path and then opening it again by name lets a symlink swapped in
    between lead outside the roots, and a FIFO hang the thread in open().)"""
    stitched = lambda: stitch([(c[1], c[2], c[3]) for c in chunks])  # noqa: E731
    max_bytes = coll.limits.max_file_bytes
    try:
        fd = open_file_under(os.fsdecode(key_bytes(key)), roots)
    except OSError:  # gone, replaced by a symlink or a folder, not a regular file: not what was indexed
        return stitched(), "chunks", True
    if fd is None:
        return stitched(), "chunks", False
    try:
        with os.fdopen(fd, "rb") as f:
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes or hashlib.sha256(data).hexdigest() != sha:
            return stitched(), "chunks", True
        return read_data(data, Path(key), max_bytes=max_bytes).text, "disk", False
    except (OSError, SkipFile):
        return stitched(), "chunks", True
