"""Real sample files made at test time by the libraries that write each format.

Each maker writes one file under ``folder`` and returns its path; the phrase passed in lands in
the file's body so a test can search for it.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from email.message import EmailMessage
from pathlib import Path

import nbformat
import openpyxl
from docx import Document
from ebooklib import epub
from odf.opendocument import OpenDocumentPresentation, OpenDocumentSpreadsheet, OpenDocumentText
from odf.style import MasterPage, PageLayout
from odf.table import Table, TableCell, TableRow
from odf.text import H, P
from pptx import Presentation


def make_docx(folder: Path, phrase: str, name: str = "report.docx") -> Path:
    doc = Document()
    doc.core_properties.title = "Quarterly field report"
    doc.core_properties.author = "Ada Lovelace"
    doc.core_properties.created = dt.datetime(2024, 3, 1, 9, 30)
    doc.add_heading("Field observations", level=1)
    doc.add_paragraph("The survey team walked the northern transect twice.")
    doc.add_paragraph(phrase)
    table = doc.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Site", "Count"
    table.cell(1, 0).text, table.cell(1, 1).text = "North ridge", "42"
    path = folder / name
    doc.save(str(path))
    return path


def make_pptx(folder: Path, phrase: str, notes: str, name: str = "deck.pptx") -> Path:
    deck = Presentation()
    deck.core_properties.title = "Launch plan"
    deck.core_properties.author = "Grace Hopper"
    for number, (title, body) in enumerate([("Agenda", "Timeline and owners"), ("Budget", phrase)], start=1):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text_frame.text = body
        if number == 2:
            slide.notes_slide.notes_text_frame.text = notes
    path = folder / name
    deck.save(str(path))
    return path


def make_xlsx(folder: Path, phrase: str, name: str = "book.xlsx") -> Path:
    book = openpyxl.Workbook()
    first = book.active
    first.title = "Inventory"
    first.append(["Item", "Quantity", "Received"])
    first.append(["Copper wire", 12, dt.date(2024, 5, 2)])
    second = book.create_sheet("Remarks")
    second.append(["Note"])
    second.append([phrase])
    book.properties.title = "Stock book"
    book.properties.creator = "Lin Wei"
    path = folder / name
    book.save(str(path))
    return path


def _odf_page_layout(doc: OpenDocumentPresentation) -> MasterPage:
    layout = PageLayout(name="PL")
    doc.automaticstyles.addElement(layout)
    master = MasterPage(name="Default", pagelayoutname=layout)
    doc.masterstyles.addElement(master)
    return master


def make_odt(folder: Path, phrase: str, name: str = "letter.odt") -> Path:
    doc = OpenDocumentText()
    doc.text.addElement(H(outlinelevel=1, text="Letter to the council"))
    doc.text.addElement(P(text="Dear members of the council,"))
    doc.text.addElement(P(text=phrase))
    path = folder / name
    doc.save(str(path))
    return path


def make_ods(folder: Path, phrase: str, name: str = "sheet.ods") -> Path:
    doc = OpenDocumentSpreadsheet()
    table = Table(name="Readings")
    for values in (["Station", "Reading"], ["Harbour", phrase]):
        row = TableRow()
        for value in values:
            cell = TableCell(valuetype="string")
            cell.addElement(P(text=value))
            row.addElement(cell)
        table.addElement(row)
    doc.spreadsheet.addElement(table)
    path = folder / name
    doc.save(str(path))
    return path


def make_odp(folder: Path, phrase: str, name: str = "talk.odp") -> Path:
    from odf.draw import Frame, Page, TextBox

    doc = OpenDocumentPresentation()
    master = _odf_page_layout(doc)
    page = Page(name="Findings", masterpagename=master)
    frame = Frame(width="20cm", height="5cm", x="1cm", y="1cm")
    box = TextBox()
    box.addElement(P(text=phrase))
    frame.addElement(box)
    page.addElement(frame)
    doc.presentation.addElement(page)
    path = folder / name
    doc.save(str(path))
    return path


def make_epub(folder: Path, phrase: str, name: str = "novel.epub") -> Path:
    book = epub.EpubBook()
    book.set_identifier("sample-novel-1")
    book.set_title("The Lighthouse Keeper")
    book.set_language("en")
    book.add_author("Mara Quill")
    chapters = []
    for number, body in enumerate(["The storm arrived before dusk.", phrase], start=1):
        chapter = epub.EpubHtml(title=f"Chapter {number}", file_name=f"chap_{number}.xhtml", lang="en")
        chapter.content = f"<html><body><h1>Chapter {number}</h1><p>{body}</p></body></html>"
        book.add_item(chapter)
        chapters.append(chapter)
    book.toc = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *chapters]
    path = folder / name
    epub.write_epub(str(path), book)
    return path


def make_notebook(folder: Path, phrase: str, output: str, name: str = "analysis.ipynb") -> Path:
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("total = sum(range(10))\nprint(total)")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text=output)]
    nb.cells = [nbformat.v4.new_markdown_cell("# Soil analysis\n\n" + phrase), code]
    path = folder / name
    nbformat.write(nb, str(path))
    return path


def make_eml(folder: Path, phrase: str, name: str = "note.eml") -> Path:
    msg = EmailMessage()
    msg["Subject"] = "Gate code for the depot"
    msg["From"] = "Rosa Park <rosa@example.org>"
    msg["To"] = "team@example.org"
    msg["Date"] = "Tue, 05 Mar 2024 10:15:00 +0000"
    msg.set_content(phrase)
    path = folder / name
    path.write_bytes(bytes(msg))
    return path


def make_mbox(folder: Path, phrases: list[str], attachment: str, name: str = "archive.mbox") -> Path:
    out = io.BytesIO()
    for number, phrase in enumerate(phrases, start=1):
        msg = EmailMessage()
        msg["Subject"] = f"Weekly update {number}"
        msg["From"] = f"sender{number}@example.org"
        msg["To"] = "list@example.org"
        msg["Date"] = f"Mon, 0{number} Apr 2024 08:00:00 +0000"
        msg.set_content(phrase + "\n\nFrom the office, with regards.\n")
        if number == len(phrases):
            msg.add_attachment(attachment.encode(), maintype="text", subtype="plain", filename="minutes.txt")
            msg.add_attachment(b"\x89PNG\r\n\x1a\n" + bytes(200), maintype="image", subtype="png",
                               filename="chart.png")
        raw = bytes(msg).replace(b"\nFrom ", b"\n>From ")
        out.write(f"From sender{number}@example.org Mon Apr  {number} 08:00:00 2024\n".encode() + raw + b"\n")
    path = folder / name
    path.write_bytes(out.getvalue())
    return path


def make_rtf(folder: Path, phrase: str, name: str = "memo.rtf") -> Path:
    body = phrase.replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}")
    path = folder / name
    path.write_text("{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Times;}}{\\info{\\title Depot memo}{\\author Sam Reed}}"
                    "\\f0\\fs24 Memo to all staff.\\par " + body + "\\par}")
    return path


def make_org(folder: Path, phrase: str, name: str = "plan.org") -> Path:
    path = folder / name
    path.write_text(f"#+TITLE: Garden plan\n#+AUTHOR: Ivo Berg\n\n* Spring\n** TODO {phrase}\n")
    return path


def zip_bytes(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()
