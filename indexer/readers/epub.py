"""ePub (ebooklib): the chapters in reading (spine) order, each turned into text like HTML.

ebooklib parses the package files with lxml and ``resolve_entities=False``; the container is
checked for zip bombs first. Offsets point into the extracted text: chapters in spine order, one
block each, with one part per chapter (``chapter``: 1-based, ``chapter_title``: its first
heading or title).
"""

from __future__ import annotations

import io
import re
from typing import Any

from indexer.readers.archive import open_zip
from indexer.readers.base import Extracted, ReadLimits, SkipFile, TextBuilder, summarize
from indexer.readers.html import html_to_text
from indexer.readers.text import decode_bytes

_HEADING = re.compile(r"<(h[1-3]|title)\b[^>]*>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def _dc(book: Any, name: str) -> str:
    values = book.get_metadata("DC", name)
    return "; ".join(str(v[0]) for v in values if v and v[0]) if values else ""


def read_epub(data: bytes, limits: ReadLimits) -> Extracted:
    import ebooklib
    from ebooklib import epub

    open_zip(data, limits, what="ePub")
    try:
        book = epub.read_epub(io.BytesIO(data), options={"ignore_ncx": True})
    except Exception as exc:  # ebooklib raises KeyError, EpubException, lxml and zip errors alike
        raise SkipFile("unreadable", f"not a valid ePub ({summarize(exc)})") from exc
    out = TextBuilder(limits)
    chapter = 0
    for idref, *_ in book.spine:
        item = book.get_item_with_id(idref)
        # The EPUB 3 navigation document is a table of contents, not a chapter.
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT or isinstance(item, epub.EpubNav):
            continue
        html = decode_bytes(item.get_content())
        text = html_to_text(html)
        if not text.strip():
            continue
        chapter += 1
        heading = _HEADING.search(html)
        title = " ".join(_TAG.sub("", heading.group(2)).split()) if heading else ""
        out.part(chapter=chapter, chapter_title=title)
        out.add(text)
    metadata = {"title": _dc(book, "title"), "author": _dc(book, "creator"), "created": _dc(book, "date"),
                "language": _dc(book, "language"), "chapters": chapter}
    return out.build(metadata)
