"""What every reader returns, how it refuses a file, and the limits it must keep.

A reader turns the bytes of one file into an :class:`Extracted`: the text a user sees (and
searches, and gets offsets into), the file-level metadata users filter on (title, author,
created, modified ...), and ``parts``: where each page, slide, sheet or message starts in that
text with its own metadata. A file that cannot be indexed raises :class:`SkipFile` with a stable
``reason`` and a ``detail`` a person can act on; readers never raise anything else for bad input
(the dispatcher turns an unexpected library error into ``unreadable``).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from indexer.limits import Limits

SKIP_REASONS: frozenset[str] = frozenset(
    {"binary", "too_large", "unreadable", "unsupported", "empty", "over_limit"})


class SkipFile(Exception):
    """The file cannot be indexed; ``reason`` is stable, ``detail`` is for people."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in SKIP_REASONS:
            raise ValueError(f"unknown skip reason {reason!r}; expected one of {sorted(SKIP_REASONS)}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Part:
    """A page, slide, sheet, chapter or message: where it starts in the text, and its metadata."""

    start: int  # character offset into Extracted.text
    metadata: dict[str, Any]


@dataclass
class Extracted:
    """One file's searchable text, its file-level metadata and its parts (in text order)."""

    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    parts: list[Part] = field(default_factory=list)

    def part_at(self, offset: int) -> Part | None:
        """The part that contains character ``offset`` (the last one starting at or before it)."""
        at = bisect.bisect_right([p.start for p in self.parts], offset)
        return self.parts[at - 1] if at else None

    def metadata_at(self, offsets: Sequence[int]) -> list[dict[str, Any]]:
        """The metadata of the part each of ``offsets`` (ascending, e.g. chunk starts) falls in."""
        if not self.parts:
            return []
        starts = [p.start for p in self.parts]
        out = []
        for offset in offsets:
            at = bisect.bisect_right(starts, offset)
            out.append(self.parts[at - 1].metadata if at else {})
        return out


class ReadCancelled(Exception):
    """The run reading the file was cancelled (``OcrOptions.cancel``) while a page was being recognised."""


@dataclass(frozen=True)
class OcrOptions:
    """How pictures of text are read (``indexer.readers.ocr``): images, and PDF pages without a text layer.

    The bounds are checked per file: an image over ``max_pixels``, a file with more pages to recognise
    than ``max_pages``, or a page still unrecognised after ``page_seconds`` is skipped with reason
    ``over_limit``. ``cancel`` and ``on_page`` belong to one indexing run: a set ``cancel`` stops the
    page being recognised (the engine's process is killed) and raises :class:`ReadCancelled`;
    ``on_page(done, total)`` is called after each recognised page, for progress."""

    enabled: bool = True  # False: images are skipped as unsupported, scanned PDF pages stay empty
    command: str = "tesseract"  # the engine's program, by name (on PATH) or path
    language: str = "en"  # the collection's language (an ISO 639-1 code, or "auto"): picks the engine's
    languages: str = ""  # the engine's own language names ("deu+eng"), overriding ``language``
    max_pixels: int = 50_000_000  # width x height of one image (a PDF page is rendered within it)
    max_pages: int = 100  # pages recognised in one file (scanned PDF pages, TIFF frames)
    page_seconds: float = 60.0  # time to recognise one page
    cancel: threading.Event | None = None
    on_page: Callable[[int, int], None] | None = None


@dataclass(frozen=True)
class ReadLimits:
    """Bounds against hostile input; a file over one is skipped with reason ``over_limit``.

    Archives (OOXML, ODF, ePub) are checked from the zip directory before anything is
    decompressed; zipfile then never inflates a member past its declared size.
    """

    max_members: int = 10_000  # entries in one zip container
    max_unpacked_bytes: int = 256 * 1024 * 1024  # sum of declared uncompressed sizes
    max_ratio: int = 200  # uncompressed/compressed size of one member (checked above 1 MiB)
    max_xml_bytes: int = 64 * 1024 * 1024  # one XML/HTML member (parsed in memory: ~10x its size)
    max_cells: int = 250_000  # non-empty cells read from one workbook (all sheets)
    max_text_chars: int = 20_000_000  # characters of extracted text
    max_xml_depth: int = 256  # element nesting in XML parsed here
    max_attachment_depth: int = 2  # mail inside mail inside mail
    ocr: OcrOptions = field(default_factory=OcrOptions)  # images and scanned pages

    @classmethod
    def of(cls, limits: Limits, language: str, *, cancel: threading.Event | None = None,
           on_page: Callable[[int, int], None] | None = None) -> ReadLimits:
        """What the readers need of a collection's limits: OCR's bounds and engine, and its language."""
        return cls(ocr=OcrOptions(enabled=limits.ocr, command=limits.ocr_command, language=language,
                                  languages=limits.ocr_languages, max_pixels=limits.ocr_max_pixels,
                                  max_pages=limits.ocr_max_pages, page_seconds=limits.ocr_page_seconds,
                                  cancel=cancel, on_page=on_page))


DEFAULT_LIMITS = ReadLimits()


def summarize(exc: BaseException) -> str:
    """``Type: message`` on one line, at most ~200 characters: a library error shown to a person."""
    message = " ".join(str(exc).split())
    if len(message) > 200:
        message = message[:197] + "..."
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    if n < 1024**3:
        return f"{n / 1024**2:.1f} MB"
    return f"{n / 1024**3:.1f} GB"


class TextBuilder:
    """Appends blocks of text separated by blank lines and records where each part starts.

    Readers of structured formats (slides, sheets, pages, messages) build their text with it, so
    part offsets are right by construction and the text-length limit is checked in one place.
    """

    def __init__(self, limits: ReadLimits = DEFAULT_LIMITS) -> None:
        self._pieces: list[str] = []
        self._length = 0
        self._limit = limits.max_text_chars
        self.parts: list[Part] = []

    def part(self, **metadata: Any) -> None:
        """Start a new part at the current end of the text."""
        sep = 2 if self._length else 0
        self.parts.append(Part(self._length + sep, {k: v for k, v in metadata.items() if v not in (None, "")}))

    def add(self, block: str) -> None:
        block = block.strip()
        if not block:
            return
        if self._length:
            self._pieces.append("\n\n")
            self._length += 2
        self._pieces.append(block)
        self._length += len(block)
        if self._length > self._limit:
            raise SkipFile("over_limit", f"the extracted text is over the {self._limit:,}-character limit")

    def build(self, metadata: dict[str, Any] | None = None) -> Extracted:
        text = "".join(self._pieces)
        # A part whose blocks were all empty would start past the end or at the next part: drop it.
        parts = [p for i, p in enumerate(self.parts)
                 if p.start < len(text) and (i + 1 == len(self.parts) or self.parts[i + 1].start > p.start)]
        return Extracted(text, clean_metadata(metadata or {}), parts)


def clean_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Drop empty values and strip strings, so filters compare what a user would type."""
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if isinstance(value, str):
            value = " ".join(value.split())
        if value in (None, "", [], {}):
            continue
        out[key] = value
    return out
