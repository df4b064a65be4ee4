"""Token-aware chunking with character offsets back into the source text.

A chunk is a window of at most ``max_tokens`` model tokens (the model's window minus [CLS]/[SEP]),
so nothing is silently truncated at embedding time. Windows overlap by about ``overlap`` tokens,
and both ends prefer natural boundaries: a window ends at a paragraph break, else a sentence end,
else a line break, if one lies in its last half; the next window starts at a sentence start inside
the overlap when there is one. Offsets come from the model's own tokenizer, so a hit points to the
exact characters of the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"[.!?;:][\"')\]]*$")


@dataclass(frozen=True)
class Chunk:
    ord: int  # position of the chunk in its file
    start: int  # character offset of the first character (inclusive)
    end: int  # character offset after the last character (exclusive)
    text: str  # text[start:end]
    tokens: int  # model tokens in the chunk (without [CLS]/[SEP])


def _boundary_strength(text: str, offsets: Sequence[tuple[int, int]], k: int) -> int:
    """How good a place the gap before token ``k`` is to cut: 3 paragraph, 2 sentence, 1 line, 0 none."""
    gap = text[offsets[k - 1][1] : offsets[k][0]]
    if "\n\n" in gap or "\n\r\n" in gap:
        return 3
    prev = text[offsets[k - 1][0] : offsets[k - 1][1]]
    if gap and _SENTENCE_END.search(prev):
        return 2
    if "\n" in gap:
        return 1
    return 0


def _glued(text: str, offsets: Sequence[tuple[int, int]], k: int) -> bool:
    """True when token ``k`` continues a word (a ``##`` piece): cutting before it splits the word."""
    return offsets[k][0] == offsets[k - 1][1] and text[offsets[k][0] : offsets[k][0] + 1].isalnum() \
        and text[offsets[k - 1][1] - 1 : offsets[k - 1][1]].isalnum()


def _word_start(text: str, offsets: Sequence[tuple[int, int]], k: int, floor: int) -> int:
    """Move ``k`` back to the first token of its word, but not below ``floor``."""
    while k > floor and _glued(text, offsets, k):
        k -= 1
    return k


def chunk_text(text: str, offsets: Sequence[tuple[int, int]], *, max_tokens: int, overlap: int) -> list[Chunk]:
    """Split ``text`` (with its token ``offsets``) into overlapping windows that fit the model."""
    if max_tokens < 8:
        raise ValueError(f"max_tokens must be >= 8, got {max_tokens}")
    overlap = max(0, min(overlap, max_tokens // 2))
    n = len(offsets)
    if n == 0:
        return []
    chunks: list[Chunk] = []
    i = 0
    while i < n:
        j = min(i + max_tokens, n)
        if j < n:
            # Search backwards through the second half of the window for the strongest boundary.
            best_k, best_s = j, 0
            for k in range(j, i + max_tokens // 2, -1):
                s = _boundary_strength(text, offsets, k)
                if s > best_s:
                    best_k, best_s = k, s
                    if s == 3:
                        break
            j = best_k if best_s else _word_start(text, offsets, j, i + 1)
        start, end = offsets[i][0], offsets[j - 1][1]
        chunks.append(Chunk(len(chunks), start, end, text[start:end], j - i))
        if j >= n:
            break
        # Next window: back up by the overlap, then move forward to a sentence start if one is near.
        nxt = _word_start(text, offsets, max(j - overlap, i + 1), i + 1)
        for k in range(nxt, j):
            if _boundary_strength(text, offsets, k) >= 2:
                nxt = k
                break
        i = nxt
    return chunks


SEGMENT_CHARS = 64 * 1024  # characters tokenized at a time by iter_chunks


def iter_chunks(text: str, tokenize: Callable[[str], Sequence[tuple[int, int]]], *, max_tokens: int, overlap: int,
                segment_chars: int = SEGMENT_CHARS) -> Iterator[Chunk]:
    """The chunks of ``text`` one segment at a time, so a big file never holds all its tokens at once.

    Each segment of about ``segment_chars`` characters ends at whitespace (where the tokenizer would
    split anyway) and is chunked with :func:`chunk_text`; its last chunk may be cut short by the
    segment's end, so it is dropped and the next segment starts where it started. Every other chunk
    is exactly what chunking the whole text gives (a window only looks at tokens inside it), and the
    result depends on the text alone, so a later run reproduces it chunk for chunk."""
    pos, ord_ = 0, 0
    while pos < len(text):
        end = len(text) if len(text) - pos <= segment_chars else _segment_end(text, pos, segment_chars)
        offsets = [(s + pos, e + pos) for s, e in tokenize(text[pos:end])]
        chunks = chunk_text(text, offsets, max_tokens=max_tokens, overlap=overlap)
        last = end >= len(text)
        keep = chunks if last or len(chunks) < 2 else chunks[:-1]
        for c in keep:
            yield Chunk(ord_, c.start, c.end, c.text, c.tokens)
            ord_ += 1
        if last:
            return
        pos = end if len(keep) == len(chunks) else chunks[-1].start


def _segment_end(text: str, pos: int, size: int) -> int:
    """Where the segment starting at ``pos`` ends: the last whitespace in its second half, else ``pos + size``."""
    end = pos + size
    for i in range(end, pos + size // 2, -1):
        if text[i - 1].isspace():
            return i
    return end
