"""RTF (striprtf): the document text; ``{\\info}`` title/author/subject as metadata.

Offsets point into the extracted text (control words dropped, ``\\par`` as line breaks), not
into the RTF source.
"""

from __future__ import annotations

import re

from striprtf.striprtf import rtf_to_text

from indexer.readers.base import Extracted, SkipFile, summarize

_INFO = {key: re.compile(r"\{\\" + key + r"\s+([^{}\\]*)\}") for key in ("title", "author", "subject", "keywords")}


def read_rtf(data: bytes) -> Extracted:
    source = data.decode("latin-1")  # RTF is 7-bit; \'xx escapes carry the code page bytes
    if not source.lstrip().startswith("{\\rtf"):
        raise SkipFile("unreadable", "not an RTF file: it does not start with {\\rtf")
    try:
        text = rtf_to_text(source, errors="replace")
    except Exception as exc:  # striprtf raises on unknown encodings and broken escapes
        raise SkipFile("unreadable", f"the RTF could not be converted ({summarize(exc)})") from exc
    info = source[:65536]
    metadata = {key: m.group(1).strip() for key, pattern in _INFO.items() if (m := pattern.search(info))}
    if not text.strip():
        raise SkipFile("empty", "the RTF has no text")
    return Extracted(text.strip("\n"), metadata)
