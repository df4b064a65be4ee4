"""The text around a hit: a bounded window of a file's or a document's indexed text.

Read from the catalog, never from disk. A document keeps its whole text; a file's text is put back
together from its chunks, whose offsets are into the text its reader produced. So a hit's offsets
always line up with the window, the window shows what was indexed even when the file has changed or
moved since, and nothing outside the collection can be read through it. Characters between two
chunks that the tokenizer skipped (whitespace or control characters, only when chunks do not
overlap) come back as spaces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from indexer.collection import Collection
from indexer.errors import InvalidInput, SourceNotFound
from indexer.fulltext import stitch

KINDS = ("file", "doc")


@dataclass
class Passage:
    id: str  # the document id, or the file path
    kind: str  # "file" or "doc"
    path: str | None
    start: int  # character offsets of ``text`` in the source's indexed text
    end: int
    total_chars: int  # length of the source's indexed text
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _source_text(coll: Collection, source_id: str, kind: str | None) -> tuple[str, str, dict[str, Any]]:
    """(kind, indexed text, metadata) of a source; a file is preferred when a document has its id."""
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}, not {kind!r}", field="kind")
    src = coll.store.stored_source(source_id, (kind,) if kind else ("file", "doc"))
    if src is None:
        raise SourceNotFound(source_id, kind)
    text = src.text if src.text is not None else stitch([(c[1], c[2], c[3]) for c in src.chunks])
    return src.kind, text, src.metadata


def read_passage(coll: Collection, source_id: str, *, kind: str | None = None, start: int = 0,
                 end: int | None = None, context: int = 500, max_chars: int = 4000) -> Passage:
    """The indexed text of ``source_id`` from ``start - context`` to ``end + context``, at most
    ``max_chars`` characters. ``start``/``end`` are a hit's offsets (``start``/``end`` or
    ``span_start``/``span_end``); without ``end`` the window runs ``max_chars`` from ``start``.
    When the span and its context do not fit, the context shrinks first, then the span is cut
    at ``start + max_chars``."""
    if max_chars < 1:
        raise InvalidInput(f"max_chars must be at least 1, not {max_chars}", field="max_chars")
    if context < 0:
        raise InvalidInput(f"context must be 0 or more, not {context}", field="context")
    if start < 0:
        raise InvalidInput(f"start must be 0 or more, not {start}", field="start")
    if end is not None and end < start:
        raise InvalidInput(f"end ({end}) must not be before start ({start})", field="end")
    found_kind, text, metadata = _source_text(coll, source_id, kind)
    total = len(text)
    if start > total:
        raise InvalidInput(f"start {start} is past the end of {source_id!r} ({total} characters)", field="start")
    if end is None:
        lo, hi = start, start + max_chars
    else:
        end = min(end, total)
        spare = max_chars - (end - start)
        if spare <= 0:
            lo, hi = start, start + max_chars
        else:  # context on both sides; what one side cannot use (start or end of text) goes to the other
            room_before, room_after = min(context, start), min(context, total - end)
            before = min(room_before, max(spare // 2, spare - room_after))
            lo, hi = start - before, end + min(room_after, spare - before)
    hi = min(hi, total)
    return Passage(source_id, found_kind, source_id if found_kind == "file" else None, lo, hi, total,
                   text[lo:hi], metadata)
