"""Turn one file into text, by type, or say clearly why it is skipped.

``read_file`` is the only entry point the indexer needs. It checks the type (extension, or a few
well-known extension-less names), the size (``os.stat``, before reading), then reads and decodes.
Anything that cannot be indexed raises :class:`SkipFile` with a stable ``reason`` and a ``detail``
a person can act on.

Offsets: for plain-text formats the returned string is exactly the decoded file (a leading BOM
dropped, nothing else changed: no newline or whitespace normalisation), so character offsets into
it are offsets into the file's text. HTML and PDF return derived text.
"""

from __future__ import annotations

import codecs
import io
import logging
import os
import re
import stat
from html.parser import HTMLParser
from pathlib import Path

logger = logging.getLogger(__name__)

PLAIN_TEXT_EXTENSIONS: frozenset[str] = frozenset({".txt", ".md", ".markdown", ".rst"})
HTML_EXTENSIONS: frozenset[str] = frozenset({".html", ".htm"})
PDF_EXTENSIONS: frozenset[str] = frozenset({".pdf"})
SOURCE_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".py", ".js", ".ts", ".tsx", ".jsx", ".go", ".rs", ".java", ".c", ".h", ".cpp", ".hpp", ".cc",
        ".cs", ".rb", ".php", ".swift", ".kt", ".scala", ".sh", ".bash", ".sql", ".yaml", ".yml",
        ".toml", ".json", ".csv", ".tsv", ".ini", ".cfg", ".xml", ".tex", ".log",
    }
)  # fmt: skip
SUPPORTED_EXTENSIONS: frozenset[str] = (
    PLAIN_TEXT_EXTENSIONS | HTML_EXTENSIONS | PDF_EXTENSIONS | SOURCE_EXTENSIONS
)
# Extension-less files accepted by name (compared case-insensitively), read as plain text.
SUPPORTED_FILENAMES: frozenset[str] = frozenset({"readme", "license", "makefile", "dockerfile", "changelog"})

SKIP_REASONS: frozenset[str] = frozenset({"binary", "too_large", "unreadable", "unsupported", "empty"})

_SNIFF_BYTES = 8192
# C0 control characters that do not occur in ordinary text (tab, LF, VT, FF, CR, BS and ESC do).
_CONTROL_BYTES: frozenset[int] = frozenset(range(0x20)) - {0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1B} | {0x7F}
_CONTROL_CHARS: frozenset[str] = frozenset(chr(b) for b in _CONTROL_BYTES)
# Max share of control characters in UTF-8 text, and in text that is not valid UTF-8 (stricter:
# random bytes without NUL are ~11% control bytes; Latin-1 or cp1252 prose has next to none).
_UTF8_CONTROL_RATIO = 0.10
_NON_UTF8_CONTROL_RATIO = 0.05

_FALLBACK_ERRORS = "semsearch-latin1"


def _latin1_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: map each undecodable byte to the Latin-1 character of the same value."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


codecs.register_error(_FALLBACK_ERRORS, _latin1_fallback)


class SkipFile(Exception):
    """The file cannot be indexed; ``reason`` is stable, ``detail`` is for people."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in SKIP_REASONS:
            raise ValueError(f"unknown skip reason {reason!r}; expected one of {sorted(SKIP_REASONS)}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _human_size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    if n < 1024**3:
        return f"{n / 1024**2:.1f} MB"
    return f"{n / 1024**3:.1f} GB"


def _too_large_detail(size: int, max_bytes: int) -> str:
    shown, limit = _human_size(size), _human_size(max_bytes)
    if shown == limit:  # e.g. one byte over: rounding would hide the difference
        shown, limit = f"{size} bytes", f"{max_bytes}-byte"
    return f"{shown} is over the {limit} limit (SEMSEARCH_MAX_FILE_BYTES)"


def _utf16_32_codec(data: bytes) -> str | None:
    """Codec name if ``data`` starts with a UTF-32 or UTF-16 byte order mark (UTF-32 checked first)."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def _is_utf8_prefix(sample: bytes) -> bool:
    """True if ``sample`` is valid UTF-8, allowing a multi-byte sequence cut off at the end."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def is_binary(data: bytes) -> bool:
    """Guess from the first 8 KiB whether ``data`` is binary rather than text.

    Binary if it contains a NUL byte (after a UTF-16/32 BOM: a NUL character), or if control
    characters other than whitespace, backspace and ESC are over 10% of the sample (5% when the
    sample is not valid UTF-8, as random bytes are).
    """
    sample = data[:_SNIFF_BYTES]
    if not sample:
        return False
    wide = _utf16_32_codec(sample)
    if wide is not None:
        text = sample.decode(wide, errors="replace")
        if "\x00" in text:
            return True
        controls = sum(1 for ch in text if ch in _CONTROL_CHARS)
        return controls > _UTF8_CONTROL_RATIO * max(len(text), 1)
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b in _CONTROL_BYTES)
    ratio = _UTF8_CONTROL_RATIO if _is_utf8_prefix(sample) else _NON_UTF8_CONTROL_RATIO
    return controls > ratio * len(sample)


def decode_bytes(data: bytes) -> str:
    """Decode file bytes to text; never raises. A leading BOM is dropped, nothing else changes.

    UTF-8/UTF-16/UTF-32 byte order marks select the codec. Without one, strict UTF-8 is tried;
    if that fails, text that is mostly valid UTF-8 (at least as many well-formed multi-byte
    characters as bad bytes) is decoded as UTF-8 with U+FFFD for the bad bytes, anything else
    as Windows-1252 (a superset of printable Latin-1), its five undefined bytes mapped as Latin-1.
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    wide = _utf16_32_codec(data)
    if wide is not None:
        # The "utf-16"/"utf-32" codecs read the BOM to pick the byte order and drop it.
        return data.decode(wide, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lenient = data.decode("utf-8", errors="replace")
    bad = lenient.count("\ufffd")
    multibyte = sum(1 for ch in lenient if ord(ch) > 0x7F) - bad
    if multibyte > 0 and multibyte >= bad:
        logger.debug("decoded as UTF-8 with %d replaced byte sequence(s)", bad)
        return lenient
    return data.decode("cp1252", errors=_FALLBACK_ERRORS)


# --- HTML -------------------------------------------------------------------------------------

_SKIP_CONTENT_TAGS = frozenset({"script", "style", "noscript", "template"})
# Block elements that end a paragraph (blank line) or just a line.
_PARAGRAPH_TAGS = frozenset(
    {
        "p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "table", "ul", "ol", "dl",
        "figure", "section", "article", "header", "footer", "aside", "main", "nav", "address",
        "form", "fieldset", "details", "hr", "title", "body",
    }
)  # fmt: skip
_LINE_TAGS = frozenset(
    {"div", "li", "dt", "dd", "tr", "caption", "figcaption", "summary", "option", "legend", "thead",
     "tbody", "tfoot"}
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_WHITESPACE_RUN = re.compile(r"[ \t\n\r\f\v]+")


class _TextExtractor(HTMLParser):
    """Collects visible text; block boundaries become newlines, other whitespace collapses."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._skip_depth = 0
        self._pre_depth = 0
        self._block_newlines = 0  # newlines owed because a block element started/ended
        self._br_newlines = 0  # newlines owed to <br>
        self._cell_gap = False

    # Output helpers

    def _at_line_start(self) -> bool:
        return not self._out or self._out[-1].endswith("\n")

    def _rstrip_spaces(self) -> None:
        while self._out:
            stripped = self._out[-1].rstrip(" ")
            if stripped:
                self._out[-1] = stripped
                return
            self._out.pop()

    def _emit(self, text: str, *, preformatted: bool) -> None:
        owed = max(self._block_newlines, self._br_newlines)
        if not preformatted:
            if owed or self._at_line_start() or (self._out and self._out[-1].endswith(" ")):
                text = text.lstrip(" ")
            if not text:
                return
        if self._out and owed:
            self._rstrip_spaces()
            if self._out:
                existing = len(self._out[-1]) - len(self._out[-1].rstrip("\n"))
                if owed > existing:
                    self._out.append("\n" * (owed - existing))
        elif self._cell_gap and self._out and not self._at_line_start() and not self._out[-1].endswith(" "):
            self._out.append(" ")
        self._block_newlines = self._br_newlines = 0
        self._cell_gap = False
        self._out.append(text)

    def _block(self, newlines: int) -> None:
        self._block_newlines = max(self._block_newlines, newlines)
        self._cell_gap = False

    # HTMLParser callbacks

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_CONTENT_TAGS:
            self._skip_depth += 1
        if self._skip_depth:
            return
        if tag == "br":
            self._br_newlines += 1
        elif tag in _PARAGRAPH_TAGS:
            self._block(2)
            if tag == "pre":
                self._pre_depth += 1
        elif tag in _LINE_TAGS:
            self._block(1)
        elif tag in _CELL_TAGS:
            self._cell_gap = True

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_CONTENT_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if self._skip_depth:
            return
        if tag in _PARAGRAPH_TAGS:
            self._block(2)
            if tag == "pre":
                self._pre_depth = max(0, self._pre_depth - 1)
        elif tag in _LINE_TAGS:
            self._block(1)
        elif tag in _CELL_TAGS:
            self._cell_gap = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/>, <hr/>, <p/>: a self-closing element is a start tag only (no double counting).
        if tag not in _SKIP_CONTENT_TAGS:
            self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if self._skip_depth or not data:
            return
        if self._pre_depth:
            self._emit(data, preformatted=True)
        else:
            self._emit(_WHITESPACE_RUN.sub(" ", data), preformatted=False)

    def text(self) -> str:
        self.close()
        return "".join(self._out).strip()


def html_to_text(html: str) -> str:
    """Visible text of an HTML document (stdlib parser).

    Drops markup and the content of script/style/noscript/template, unescapes entities, turns
    block elements into line breaks (paragraph-like ones into blank lines) and collapses other
    whitespace, except inside <pre>.
    """
    parser = _TextExtractor()
    parser.feed(html)
    return parser.text()


# --- PDF --------------------------------------------------------------------------------------


def _summarize(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    if len(message) > 200:
        message = message[:197] + "..."
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _pdf_to_text(data: bytes, path: Path) -> str:
    from pypdf import PasswordType, PdfReader  # local import: only PDF files pay for it

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise SkipFile("unreadable", "PDF is encrypted and needs a password")
        pages = list(reader.pages)
    except SkipFile:
        raise
    except Exception as exc:  # pypdf raises many types on malformed input
        raise SkipFile("unreadable", f"PDF could not be parsed ({_summarize(exc)})") from exc
    texts: list[str] = []
    failures: list[str] = []
    for number, page in enumerate(pages, start=1):
        try:
            texts.append(page.extract_text() or "")
        except Exception as exc:  # one bad page should not lose the rest of the document
            failures.append(f"page {number}: {_summarize(exc)}")
            logger.warning("%s: text of page %d could not be extracted (%s)", path, number, _summarize(exc))
            texts.append("")
    if pages and len(failures) == len(pages):
        raise SkipFile("unreadable", f"no page of the PDF could be read ({failures[0]})")
    return "\n\n".join(texts)


# --- entry point ------------------------------------------------------------------------------


def _check_supported(path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix in SUPPORTED_EXTENSIONS:
        return
    if not suffix and path.name.lower() in SUPPORTED_FILENAMES:
        return
    what = f"{suffix!r} files are" if suffix else f"{path.name!r} (no extension) is"
    raise SkipFile("unsupported", f"{what} not a supported type")


def read_file(path: Path, *, max_bytes: int) -> str:
    """Text of ``path`` by its type; raises :class:`SkipFile` if it must be skipped.

    ``max_bytes`` is the size limit (checked with ``os.stat`` before reading, and again while
    reading in case the file grew).
    """
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")
    path = Path(path)
    _check_supported(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise SkipFile("unreadable", f"cannot access the file ({exc.strerror or _summarize(exc)})") from exc
    if stat.S_ISDIR(st.st_mode):
        raise SkipFile("unreadable", "it is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise SkipFile("unreadable", "not a regular file (device, FIFO or socket)")
    if st.st_size > max_bytes:
        raise SkipFile("too_large", _too_large_detail(st.st_size, max_bytes))
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise SkipFile("unreadable", f"cannot read the file ({exc.strerror or _summarize(exc)})") from exc
    return read_data(data, path, max_bytes=max_bytes)


def read_data(data: bytes, path: Path, *, max_bytes: int) -> str:
    """Text of a file's bytes ``data`` (at most ``max_bytes`` + 1 of them, read by the caller from an
    open descriptor), by the type ``path`` names; raises :class:`SkipFile` like :func:`read_file`."""
    path = Path(path)
    _check_supported(path)
    if len(data) > max_bytes:
        detail = _too_large_detail(len(data), max_bytes)
        raise SkipFile("too_large", f"the file grew while being read; {detail}")
    if not data.strip():
        raise SkipFile("empty", "the file is empty" if not data else "the file contains only whitespace")

    suffix = path.suffix.lower()
    if suffix in PDF_EXTENSIONS:
        text = _pdf_to_text(data, path)
        if not text.strip():
            raise SkipFile("empty", "the PDF has no extractable text (scanned images without a text layer?)")
        return text

    if is_binary(data):
        raise SkipFile("binary", f"the content looks binary, not {suffix or 'plain'} text")
    text = decode_bytes(data)
    if suffix in HTML_EXTENSIONS:
        text = html_to_text(text)
    if not text.strip():
        what = "visible text" if suffix in HTML_EXTENSIONS else "non-whitespace text"
        raise SkipFile("empty", f"the file has no {what}")
    return text
