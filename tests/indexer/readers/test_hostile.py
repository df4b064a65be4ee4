"""Hostile files are skipped with a reason, in bounded time, and the indexing job goes on."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest
import reader_samples as S

from indexer.collection import Collection
from indexer.readers import ReadLimits, SkipFile, read_bytes, read_document
from indexer.stores.embedded import EmbeddedBackend

GENEROUS_SECONDS = 60  # not a speed target: a hang or a full decompression would take far longer


def skip(name: str, data: bytes, limits: ReadLimits | None = None) -> SkipFile:
    started = time.monotonic()
    with pytest.raises(SkipFile) as info:
        read_bytes(name, data, **({"limits": limits} if limits else {}))
    assert time.monotonic() - started < GENEROUS_SECONDS
    return info.value


def docx_bomb() -> bytes:
    """A .docx whose document.xml inflates 64 MiB from ~64 KiB (a 1000x zip bomb)."""
    xml = b'<?xml version="1.0"?><w:document xmlns:w="x"><w:body>' + b" " * (64 << 20) + b"</w:body></w:document>"
    return S.zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": xml})


def test_zip_bomb_docx_is_refused_from_the_zip_directory() -> None:
    error = skip("bomb.docx", docx_bomb())
    assert error.reason == "over_limit"
    assert "word/document.xml" in error.detail and "zip bomb" in error.detail


def test_declared_unpacked_total_over_the_limit_is_refused(tmp_path: Path) -> None:
    data = S.make_docx(tmp_path, "ordinary text").read_bytes()
    error = skip("report.docx", data, ReadLimits(max_unpacked_bytes=10_000))
    assert error.reason == "over_limit" and "would unpack to" in error.detail


def test_an_xml_member_over_the_size_limit_is_refused() -> None:
    data = S.zip_bytes({"content.xml": b"<a>" + b"x" * 5000 + b"</a>"}, compression=zipfile.ZIP_STORED)
    error = skip("big.odt", data, ReadLimits(max_xml_bytes=4096))
    assert error.reason == "over_limit" and "content.xml" in error.detail and "of XML" in error.detail


def test_too_many_members_is_refused() -> None:
    data = S.zip_bytes({f"OEBPS/c{i}.xhtml": b"<p>x</p>" for i in range(300)})
    error = skip("many.epub", data, ReadLimits(max_members=100))
    assert error.reason == "over_limit" and "300 members" in error.detail


def million_cell_xlsx(tmp_path: Path) -> bytes:
    """A real workbook whose sheet XML is replaced by 1,000 rows x 1,000 cells (stored, not deflated,
    so the cell limit, not the compression ratio, is what stops it)."""
    source = S.make_xlsx(tmp_path, "tiny").read_bytes()
    row = b"<row>" + b"<c><v>7</v></c>" * 1000 + b"</row>"
    sheet = (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             b"<dimension ref=\"A1:ALL1000\"/><sheetData>" + row * 1000 + b"</sheetData></worksheet>")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename == "xl/worksheets/sheet1.xml":
                dst.writestr(info.filename, sheet, compress_type=zipfile.ZIP_STORED)
            else:
                dst.writestr(info, src.read(info))
    return out.getvalue()


def test_million_cell_workbook_stops_at_the_cell_limit(tmp_path: Path) -> None:
    error = skip("huge.xlsx", million_cell_xlsx(tmp_path))
    assert error.reason == "over_limit"
    assert "250,000 cells" in error.detail and "Inventory" in error.detail


@pytest.mark.parametrize("data", [
    S.zip_bytes({"mimetype": b"application/epub+zip"}),  # no META-INF/container.xml
    S.zip_bytes({"mimetype": b"application/epub+zip", "META-INF/container.xml": b"<container><rootfiles>"}),
    b"PK\x03\x04 this is not really a zip",
])
def test_malformed_epub_is_unreadable(data: bytes) -> None:
    assert skip("broken.epub", data).reason == "unreadable"


def test_truncated_epub_is_unreadable(tmp_path: Path) -> None:
    data = S.make_epub(tmp_path, "a chapter").read_bytes()
    assert skip("cut.epub", data[: len(data) // 2]).reason == "unreadable"


def odt_with_content(content: bytes) -> bytes:
    return S.zip_bytes({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": content})


def test_entity_expansion_in_odf_is_refused() -> None:
    laughs = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "lol">' + b"".join(
        b'<!ENTITY %c "%s">' % (ord("b") + i, (b"&%c;" % (ord("a") + i)) * 10) for i in range(9)
    ) + b"]><r>&j;</r>"
    error = skip("laughs.odt", odt_with_content(laughs))
    assert error.reason == "over_limit" and "entities" in error.detail


def test_deeply_nested_xml_is_refused() -> None:
    depth = 50_000
    nested = b'<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0">' \
             + b"<a>" * depth + b"</a>" * depth + b"</office:document-content>"
    error = skip("deep.odt", odt_with_content(nested))
    assert error.reason == "over_limit" and "deep" in error.detail


def test_broken_notebook_and_mail_are_skipped_not_raised() -> None:
    assert skip("n.ipynb", b'{"cells": [').reason == "unreadable"
    assert skip("m.mbox", b"no from line here\n").reason == "unreadable"
    assert skip("r.rtf", b"plain text pretending").reason == "unreadable"


def test_the_job_goes_on_past_hostile_files(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "docs"
    root.mkdir()
    (root / "bomb.docx").write_bytes(docx_bomb())
    (root / "huge.xlsx").write_bytes(million_cell_xlsx(tmp_path))
    (root / "broken.epub").write_bytes(b"PK\x03\x04 not a zip")
    (root / "fine.txt").write_text("The ferry timetable changes in October.")
    started = time.monotonic()
    with Collection.open(EmbeddedBackend(tmp_path / "data"), "hostile", embedder) as c:
        report = c.index_folder(root)
        hits = c.search("ferry timetable", k=1)
    assert time.monotonic() - started < GENEROUS_SECONDS
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert reasons == {"bomb.docx": "over_limit", "huge.xlsx": "over_limit", "broken.epub": "unreadable"}
    assert report.added == 1 and hits[0].path == str(root / "fine.txt")


def test_read_document_reports_reader_limits_on_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    path.write_bytes(docx_bomb())
    with pytest.raises(SkipFile) as info:
        read_document(path, max_bytes=10 << 20)
    assert info.value.reason == "over_limit"
