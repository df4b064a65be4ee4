"""The full text of an indexed file or document, with its chunks' offsets (to open a hit in place).

Documents keep their text in the catalog. Files do not (they stay on disk), so a file is read again
through the readers when it is unchanged since indexing (same sha256) and lies under a folder the
caller allows; otherwise its text is stitched from the stored chunks, which cover it with overlaps,
so the offsets of every hit still point at the same characters.
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
from indexer.readers import SkipFile, read_file

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


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    real = Path(os.path.realpath(path))
    return any(real == r or real.is_relative_to(r) for r in roots)


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
    text, origin, stale = _file_text(coll, key, sha, chunks, readable_roots) if kind == "file" \
        else (stored or "", "catalog", False)
    shown = text[:max_chars]
    spans = [{"id": c[0], "start": c[1], "end": c[2]} for c in chunks if c[1] < len(shown)]
    return SourceText(id=key, kind=kind, text=shown, chars=len(text), truncated=len(text) > len(shown),
                      origin=origin, stale=stale, metadata=src.metadata, chunks=spans)


def _file_text(coll: Collection, key: str, sha: str, chunks: list[tuple[int, int, int, str]],
               roots: Sequence[Path]) -> tuple[str, str, bool]:
    path = Path(key)
    stitched = lambda: stitch([(c[1], c[2], c[3]) for c in chunks])  # noqa: E731
    try:
        if not path.is_file():
            return stitched(), "chunks", True
        if not _inside(path, roots):
            return stitched(), "chunks", False
        if path.stat().st_size > coll.limits.max_file_bytes or _sha256_file(path) != sha:
            return stitched(), "chunks", True
        return read_file(path, max_bytes=coll.limits.max_file_bytes), "disk", False
    except (OSError, SkipFile):
        return stitched(), "chunks", True
