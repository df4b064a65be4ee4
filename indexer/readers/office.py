"""Office Open XML: Word (python-docx), PowerPoint (python-pptx), Excel (openpyxl, read-only).

Each container is checked by ``archive.open_zip`` before the library sees it (zip bombs), and
the libraries parse XML without resolving entities (python-docx/pptx use lxml with
``resolve_entities=False``; openpyxl uses defusedxml when installed, which it is).

Text and offsets (offsets point into this extracted text, not into the zip):
- .docx: body paragraphs and tables in document order, one block each; headings are paragraphs
  like the others, a table row is its cells joined by `` | ``.
- .pptx: per slide, a ``Slide N: title`` line, the other shapes' text, then ``Notes: ...``; one
  part per slide with ``slide`` and ``slide_title``.
- .xlsx: per sheet, a ``Sheet: name`` line then one line per row (cells joined by `` | ``); one
  part per sheet with ``sheet``. At most ``max_cells`` cells over all sheets.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

from indexer.readers.archive import open_zip
from indexer.readers.base import Extracted, ReadLimits, SkipFile, TextBuilder


def iso(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


def core_metadata(props: Any) -> dict[str, Any]:
    """title/author/created/modified/subject/keywords of OOXML core properties (docProps/core.xml)."""
    author = getattr(props, "author", None) or getattr(props, "creator", None)  # docx/pptx vs openpyxl
    return {"title": props.title, "author": author, "created": iso(props.created),
            "modified": iso(props.modified), "subject": props.subject, "keywords": props.keywords}


def _row_text(cells: list[str]) -> str:
    out: list[str] = []
    for cell in cells:
        cell = " ".join(cell.split())
        if cell and (not out or out[-1] != cell):  # merged cells repeat their text
            out.append(cell)
    return " | ".join(out)


# -- Word --------------------------------------------------------------------------------------------
def read_docx(data: bytes, limits: ReadLimits) -> Extracted:
    import docx
    from docx.table import Table

    open_zip(data, limits, what="Word document")
    document = docx.Document(io.BytesIO(data))
    out = TextBuilder(limits)
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            out.add("\n".join(_row_text([cell.text for cell in row.cells]) for row in block.rows))
        else:
            out.add(block.text)
    return out.build(core_metadata(document.core_properties))


# -- PowerPoint --------------------------------------------------------------------------------------
def _shape_texts(shapes: Any, depth: int = 0) -> Iterator[str]:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            if depth < 8:  # groups nest; a hostile deck could nest them without end
                yield from _shape_texts(shape.shapes, depth + 1)
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            yield shape.text_frame.text
        elif getattr(shape, "has_table", False) and shape.has_table:
            yield "\n".join(_row_text([cell.text for cell in row.cells]) for row in shape.table.rows)


def read_pptx(data: bytes, limits: ReadLimits) -> Extracted:
    import pptx

    open_zip(data, limits, what="PowerPoint deck")
    deck = pptx.Presentation(io.BytesIO(data))
    out = TextBuilder(limits)
    count = 0
    for number, slide in enumerate(deck.slides, start=1):
        count = number
        title_shape = slide.shapes.title
        title = " ".join(title_shape.text_frame.text.split()) if title_shape is not None else ""
        out.part(slide=number, slide_title=title)
        out.add(f"Slide {number}: {title}" if title else f"Slide {number}")
        title_id = title_shape.shape_id if title_shape is not None else None
        for text in _shape_texts(shape for shape in slide.shapes if shape.shape_id != title_id):
            out.add(text)
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text.strip()
            if notes:
                out.add("Notes: " + notes)
    return out.build({**core_metadata(deck.core_properties), "slides": count})


# -- Excel -------------------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return iso(value)


def read_xlsx(data: bytes, limits: ReadLimits) -> Extracted:
    import openpyxl

    open_zip(data, limits, what="Excel workbook")
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        out = TextBuilder(limits)
        cells = 0
        names = []
        for sheet in book.worksheets:
            names.append(sheet.title)
            out.part(sheet=sheet.title)
            lines = [f"Sheet: {sheet.title}"]
            # The <dimension> a file declares may be huge or false: ignore it, so rows are not
            # padded to it, and count the cells that are really there.
            if hasattr(sheet, "reset_dimensions"):
                sheet.reset_dimensions()
            for row in sheet.iter_rows(values_only=True):
                cells += len(row)
                if cells > limits.max_cells:
                    raise SkipFile("over_limit", f"the workbook has more than {limits.max_cells:,} cells "
                                                 f"(limit reached in sheet {sheet.title!r})")
                line = _row_text([_cell(v) for v in row])
                if line:
                    lines.append(line)
            out.add("\n".join(lines))
        return out.build({**core_metadata(book.properties), "sheets": len(names)})
    finally:
        book.close()
