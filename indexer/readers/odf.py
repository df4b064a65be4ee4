"""OpenDocument (.odt .ods .odp): content.xml and meta.xml read with defusedxml.

Why not odfpy for reading (the tests use it to make samples): it builds a DOM of the same XML
with no bound on depth or size and has no text extraction beyond ``teletype.extractText``; the
bounds (member sizes, nesting depth, repeated spreadsheet cells) need a walk of our own anyway,
and ElementTree over defusedxml is that walk with entity attacks refused.

Text and offsets (into this extracted text, not the zip):
- .odt: headings and paragraphs in document order, one block each.
- .ods: per sheet a ``Sheet: name`` line, then one line per row (cells joined by `` | ``); a
  repeated cell (``number-columns-repeated``) counts as that many cells against ``max_cells``.
- .odp: per slide a ``Slide N: name`` line, the frames' text, then ``Notes: ...``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element

from indexer.readers.archive import local, open_zip, parse_xml, read_member
from indexer.readers.base import Extracted, ReadLimits, SkipFile, TextBuilder

_NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "presentation": "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0",
    "meta": "urn:oasis:names:tc:opendocument:xmlns:meta:1.0",
    "dc": "http://purl.org/dc/elements/1.1/",
}
_TEXT = "{" + _NS["text"] + "}"
_TABLE = "{" + _NS["table"] + "}"
_DRAW = "{" + _NS["draw"] + "}"
_PRES = "{" + _NS["presentation"] + "}"


def paragraph_text(el: Element) -> str:
    """Text of a text:p / text:h: spans inline, text:s / text:tab / text:line-break as whitespace."""
    out: list[str] = [el.text or ""]
    for child in el:
        tag = local(child.tag)
        if tag == "s":
            out.append(" " * int(child.get(_TEXT + "c", "1") or 1))
        elif tag == "tab":
            out.append("\t")
        elif tag == "line-break":
            out.append("\n")
        elif tag not in ("note", "annotation", "tracked-changes"):
            out.append(paragraph_text(child))
        out.append(child.tail or "")
    return "".join(out)


def _paragraphs(el: Element, *, skip_notes: bool = True) -> Iterator[str]:
    """Every text:p / text:h under ``el`` in document order (not descending into them)."""
    stack = [el]
    while stack:
        node = stack.pop()
        if node.tag in (_TEXT + "p", _TEXT + "h"):
            yield paragraph_text(node)
            continue
        if skip_notes and node.tag == _PRES + "notes":
            continue
        stack.extend(reversed(list(node)))


def _metadata(archive: Any, limits: ReadLimits) -> dict[str, Any]:
    if "meta.xml" not in archive.namelist():
        return {}
    meta = parse_xml(read_member(archive, "meta.xml", what="OpenDocument"), limits, what="meta.xml")

    def find(path: str) -> str:
        el = meta.find(f"office:meta/{path}", _NS)
        return (el.text or "").strip() if el is not None else ""

    return {"title": find("dc:title"), "author": find("dc:creator") or find("meta:initial-creator"),
            "created": find("meta:creation-date"), "modified": find("dc:date"), "subject": find("dc:subject"),
            "keywords": find("meta:keyword")}


def _sheets(body: Element, out: TextBuilder, limits: ReadLimits) -> int:
    cells = 0
    sheets = body.findall(".//table:table", _NS)
    for sheet in sheets:
        name = sheet.get(_TABLE + "name", "")
        out.part(sheet=name)
        lines = [f"Sheet: {name}"]
        for row in sheet.iter(_TABLE + "table-row"):
            texts: list[str] = []
            for cell in row:
                if local(cell.tag) not in ("table-cell", "covered-table-cell"):
                    continue
                text = " ".join(" ".join(_paragraphs(cell)).split())
                if not text:  # repeated empty cells (LibreOffice pads rows to 16,384) cost nothing
                    continue
                repeat = int(cell.get(_TABLE + "number-columns-repeated", "1") or 1)
                cells += repeat
                if cells > limits.max_cells:
                    raise SkipFile("over_limit", f"the spreadsheet has more than {limits.max_cells:,} cells "
                                                 f"(limit reached in sheet {name!r})")
                texts.extend([text] * repeat)
            if texts:
                lines.append(" | ".join(texts))
        out.add("\n".join(lines))
    return len(sheets)


def _slides(body: Element, out: TextBuilder) -> int:
    pages = body.findall(".//draw:page", _NS)
    for number, page in enumerate(pages, start=1):
        name = page.get(_DRAW + "name", "")
        out.part(slide=number, slide_title=name)
        out.add(f"Slide {number}: {name}" if name else f"Slide {number}")
        for text in _paragraphs(page):
            out.add(text)
        notes = page.find("presentation:notes", _NS)
        if notes is not None:
            text = "\n".join(t for t in _paragraphs(notes, skip_notes=False) if t.strip())
            if text.strip():
                out.add("Notes: " + text)
    return len(pages)


def read_odf(data: bytes, limits: ReadLimits) -> Extracted:
    archive = open_zip(data, limits, what="OpenDocument")
    content = parse_xml(read_member(archive, "content.xml", what="OpenDocument"), limits, what="content.xml")
    body = content.find("office:body", _NS)
    if body is None:
        raise SkipFile("unreadable", "not a valid OpenDocument file: content.xml has no office:body")
    metadata = _metadata(archive, limits)
    out = TextBuilder(limits)
    kind = local(body[0].tag) if len(body) else ""
    if kind == "spreadsheet":
        metadata["sheets"] = _sheets(body, out, limits)
    elif kind == "presentation":
        metadata["slides"] = _slides(body, out)
    else:
        for text in _paragraphs(body):
            out.add(text)
    return out.build(metadata)
