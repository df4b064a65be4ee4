"""Text recognised by content, encodings detected, binaries described; per-part metadata of readers."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import reader_samples as S
from pypdf import PdfWriter
from test_text_html_pdf import make_pdf

from indexer.readers import SkipFile, is_supported, read_bytes, read_document

MAX = 1 << 20


@pytest.mark.parametrize("name", ["BSD", "GPL-3", "Apache-2.0", "todo", "CHANGES.v2", "notes.xyz"])
def test_text_without_a_known_extension_is_read(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("Permission is granted to use this lantern schematic.\n")
    assert is_supported(path)
    assert read_document(path, max_bytes=MAX).text == "Permission is granted to use this lantern schematic.\n"


@pytest.mark.parametrize(("data", "looks_like"), [
    (b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 4, "ELF"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "image/png"),
    (bytes(range(256)) * 8, "binary data"),
])
def test_binary_content_without_extension_is_refused_saying_what_it_looks_like(data: bytes, looks_like: str) -> None:
    with pytest.raises(SkipFile) as info:
        read_bytes("GPL-3", data)
    assert info.value.reason == "binary" and looks_like in info.value.detail


def test_binary_extensions_are_refused_by_name_only() -> None:
    assert not is_supported(Path("photo.HEIC")) and not is_supported(Path("a/b/lib.so"))
    assert is_supported(Path("photo.JPG"))  # images are read by OCR (or skipped saying what to install)
    assert is_supported(Path("Makefile")) and is_supported(Path("report.docx"))


def test_pdf_and_rtf_without_extension_are_sniffed() -> None:
    assert "lantern" in read_bytes("scan-0001", make_pdf(["A lantern page"])).text
    assert read_bytes("memo", b"{\\rtf1\\ansi Hello lantern\\par}").text.strip() == "Hello lantern"


def test_legacy_cyrillic_text_is_decoded_by_detection() -> None:
    text = "Привет, это обычный текст на русском языке, достаточно длинный для определения."
    assert read_bytes("zametki", text.encode("cp1251")).text == text


def test_pdf_pages_are_parts_with_metadata() -> None:
    writer = PdfWriter(clone_from=io.BytesIO(make_pdf(["First page text", "Second page text"])))
    writer.add_metadata({"/Title": "Lamp manual", "/Author": "Ivo Berg", "/CreationDate": "D:20240131120000Z"})
    out = io.BytesIO()
    writer.write(out)
    doc = read_bytes("manual.pdf", out.getvalue())
    assert doc.metadata == {"title": "Lamp manual", "author": "Ivo Berg", "created": "2024-01-31T12:00:00",
                            "pages": 2}
    assert [p.metadata for p in doc.parts] == [{"page": 1}, {"page": 2}]
    second = doc.text.index("Second")
    assert doc.part_at(second).metadata == {"page": 2}  # type: ignore[union-attr]
    assert doc.metadata_at([0, second]) == [{"page": 1}, {"page": 2}]


def test_html_title_and_author_are_metadata() -> None:
    html = b'<html><head><title>Lamp &amp; wick</title><meta name="author" content="Ivo"></head><body><p>Hi</p></body>'
    doc = read_bytes("page.html", html)
    assert doc.metadata == {"title": "Lamp & wick", "author": "Ivo"} and doc.text == "Lamp & wick\n\nHi"


def test_part_offsets_point_at_their_text(tmp_path: Path) -> None:
    deck = read_document(S.make_pptx(tmp_path, "Budget phrase", "Some notes"), max_bytes=MAX)
    for part in deck.parts:
        assert deck.text[part.start :].startswith(f"Slide {part.metadata['slide']}: {part.metadata['slide_title']}")
    mbox = read_document(S.make_mbox(tmp_path, ["one", "two"], "attached words"), max_bytes=MAX)
    for part in mbox.parts:
        assert mbox.text[part.start :].startswith(f"Subject: {part.metadata['subject']}")
    assert "Attachments: minutes.txt (text/plain), chart.png (image/png)" in mbox.text
    assert "Attachment minutes.txt:\nattached words" in mbox.text


def test_text_inside_grouped_shapes_and_tables_of_a_slide_is_read(tmp_path: Path) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Grouped"
    group = slide.shapes.add_group_shape()
    group.shapes.add_textbox(Inches(1), Inches(1), Inches(3), Inches(1)).text_frame.text = "inside the group"
    table = slide.shapes.add_table(2, 2, Inches(1), Inches(3), Inches(4), Inches(1)).table
    table.cell(0, 0).text, table.cell(1, 1).text = "header cell", "body cell"
    path = tmp_path / "grouped.pptx"
    deck.save(str(path))
    text = read_document(path, max_bytes=MAX).text
    assert text.startswith("Slide 1: Grouped") and "inside the group" in text
    assert "header cell\nbody cell" in text


def test_an_nbformat_3_notebook_is_upgraded_and_read() -> None:
    v3 = (b'{"metadata": {}, "nbformat": 3, "nbformat_minor": 0, "worksheets": [{"cells": ['
          b'{"cell_type": "markdown", "metadata": {}, "source": ["# Old notebook\\n", "kept text"]},'
          b'{"cell_type": "code", "metadata": {}, "input": "x = 1", "language": "python", "outputs": []}]}]}')
    doc = read_bytes("old.ipynb", v3)
    assert doc.text == "# Old notebook\nkept text\n\nx = 1" and doc.metadata["title"] == "Old notebook"


def test_json_that_is_not_a_notebook_is_unreadable() -> None:
    with pytest.raises(SkipFile) as info:
        read_bytes("data.ipynb", b'{"a": 1}')
    assert info.value.reason == "unreadable" and "notebook" in info.value.detail


def test_html_mail_with_a_docx_attachment_reads_both(tmp_path: Path) -> None:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = "Plans", "a@example.org", "b@example.org"
    msg.set_content("<html><body><p>See the <b>attached</b> plan.</p></body></html>", subtype="html")
    docx = S.make_docx(tmp_path, "The attached plan moves the kiln to the east shed.").read_bytes()
    msg.add_attachment(docx, maintype="application", filename="plan.docx",
                       subtype="vnd.openxmlformats-officedocument.wordprocessingml.document")
    msg.add_attachment(b"PK\x03\x04 broken", maintype="application", subtype="zip", filename="junk.zip")
    doc = read_bytes("plans.eml", bytes(msg))
    assert "See the attached plan." in doc.text and "<b>" not in doc.text
    assert "Attachment plan.docx:\nField observations" in doc.text and "kiln to the east shed" in doc.text
    assert "junk.zip (application/zip)" in doc.text  # listed, not read
    assert doc.metadata["subject"] == "Plans" and doc.metadata["title"] == "Plans"
