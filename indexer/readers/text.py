"""Plain text: is it text at all (sniffing by content), which encoding, and the text itself.

Files are recognised as text by their content, not their name: a ``LICENSE``-style ``BSD`` or
``GPL-3``, notes named ``todo`` or ``CHANGES.v2`` are read like ``.txt``. Binary content is refused
with what it looks like (puremagic names the format from its magic bytes).

Offsets: the text is exactly the decoded file (a leading BOM dropped, nothing else changed: no
newline or whitespace normalisation), so a character offset is an offset into the file's text.
"""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata

import charset_normalizer
import puremagic

from indexer.readers.base import Extracted, SkipFile

logger = logging.getLogger(__name__)

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


# Scripts whose legacy 8-bit or multi-byte encodings charset-normalizer tells apart reliably. For
# Latin text its guesses (cp775, cp850 ...) are often wrong where Windows-1252 is right, so a guess
# is only taken when the text it gives is mostly letters of one of these scripts.
_NON_LATIN_SCRIPTS = frozenset({"CYRILLIC", "GREEK", "ARABIC", "HEBREW", "CJK", "HIRAGANA", "KATAKANA",
                                "HANGUL", "THAI", "DEVANAGARI", "ARMENIAN", "GEORGIAN"})


def _non_latin_guess(data: bytes) -> str | None:
    """Text of ``data`` in the encoding charset-normalizer finds, if that is a non-Latin script."""
    if len(data) < 32:
        return None
    best = charset_normalizer.from_bytes(data[:65536]).best()
    if best is None:
        return None
    try:
        text = data.decode(best.encoding, errors="replace")
    except LookupError:
        return None
    letters = [ch for ch in text[:4096] if ord(ch) > 0x7F and ch.isalpha()]
    if not letters:
        return None
    script = sum(1 for ch in letters if unicodedata.name(ch, "?").split()[0] in _NON_LATIN_SCRIPTS)
    return text if script >= 0.8 * len(letters) else None


def decode_bytes(data: bytes) -> str:
    """Decode file bytes to text; never raises. A leading BOM is dropped, nothing else changes.

    UTF-8/UTF-16/UTF-32 byte order marks select the codec. Without one, strict UTF-8 is tried;
    if that fails, text that is mostly valid UTF-8 (at least as many well-formed multi-byte
    characters as bad bytes) is decoded as UTF-8 with U+FFFD for the bad bytes; text in a legacy
    encoding of a non-Latin script (cp1251, Shift-JIS, ...) as charset-normalizer detects it;
    anything else as Windows-1252 (a superset of printable Latin-1), its five undefined bytes
    mapped as Latin-1.
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
    guessed = _non_latin_guess(data)
    if guessed is not None:
        return guessed
    return data.decode("cp1252", errors=_FALLBACK_ERRORS)


def describe_binary(data: bytes) -> str:
    """What binary ``data`` looks like, for a skip reason: a format name or "binary data"."""
    try:
        guesses = puremagic.magic_string(data[:_SNIFF_BYTES])
    except Exception:  # PureError when nothing matches; this only names the format in a message
        return "binary data"
    if not guesses:
        return "binary data"
    name, mime = getattr(guesses[0], "name", ""), getattr(guesses[0], "mime_type", "")
    if not name:
        return "binary data"
    return f"{name} ({mime})" if mime else name


_ORG_TITLE = re.compile(r"^#\+TITLE:[ \t]*(.+)$", re.IGNORECASE | re.MULTILINE)
_ORG_AUTHOR = re.compile(r"^#\+AUTHOR:[ \t]*(.+)$", re.IGNORECASE | re.MULTILINE)
_ORG_DATE = re.compile(r"^#\+DATE:[ \t]*(.+)$", re.IGNORECASE | re.MULTILINE)


def read_text(data: bytes, *, what: str = "plain text") -> Extracted:
    """Decoded text of a file sniffed (or named) as text; ``binary`` if its content is not."""
    if is_binary(data):
        raise SkipFile("binary", f"the content looks like {describe_binary(data)}, not {what}")
    text = decode_bytes(data)
    if not text.strip():
        raise SkipFile("empty", "the file has no non-whitespace text")
    return Extracted(text)


def read_org(data: bytes) -> Extracted:
    """Org-mode is plain text (kept verbatim, so offsets are file offsets); ``#+TITLE`` etc. are metadata."""
    doc = read_text(data, what="Org-mode text")
    head = doc.text[:16384]
    for key, pattern in (("title", _ORG_TITLE), ("author", _ORG_AUTHOR), ("date", _ORG_DATE)):
        m = pattern.search(head)
        if m:
            doc.metadata[key] = m.group(1).strip()
    return doc
