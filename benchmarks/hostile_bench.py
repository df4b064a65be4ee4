"""Hostile files against the readers: each is skipped with a reason, in what time and memory.

    .venv/bin/python benchmarks/hostile_bench.py [--json]

Makes the samples issue 17 names, with the libraries that write each format where one does: a zip
bomb .docx (a 1 GiB document.xml deflated to about 1 MB), a 1,000,000-cell .xlsx (a real
openpyxl workbook whose sheet is replaced by 1,000 x 1,000 cells), a truncated and a fake .epub
(ebooklib), an ODF "billion laughs" (nested entities) and an ODF nested 100,000 elements deep. Each
is read by ``read_document`` in a fresh child process, beside an ordinary .docx for the baseline,
and the child reports the skip reason, the seconds spent and its peak RSS (``VmHWM``, which
includes the imported libraries: compare with the baseline row). Prints the load average.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
from pathlib import Path
from indexer.readers import SkipFile, read_document
path = Path(sys.argv[1])
t0 = time.monotonic()
try:
    doc = read_document(path, max_bytes=64 << 20)
    reason, detail = "read", f"{len(doc.text):,} characters"
except SkipFile as e:
    reason, detail = e.reason, e.detail
seconds = time.monotonic() - t0
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"reason": reason, "detail": detail, "seconds": seconds, "peak_rss_mb": hwm / 1024}))
"""


def docx(path: Path, paragraphs: list[str]) -> bytes:
    import docx as python_docx

    doc = python_docx.Document()
    for text in paragraphs:
        doc.add_paragraph(text)
    doc.save(str(path))
    return path.read_bytes()


def zip_bomb_docx(folder: Path) -> Path:
    """An ordinary .docx whose word/document.xml is replaced by 1 GiB of whitespace, deflated."""
    source = docx(folder / "base.docx", ["ordinary text"])
    path = folder / "bomb.docx"
    with zipfile.ZipFile(io.BytesIO(source)) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename != "word/document.xml":
                dst.writestr(info, src.read(info))
        with dst.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(b'<?xml version="1.0"?><w:document xmlns:w="x"><w:body>')
            block = b" " * (1 << 20)
            for _ in range(1024):
                member.write(block)
            member.write(b"</w:body></w:document>")
    return path


def million_cell_xlsx(folder: Path) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["tiny"])
    book.save(str(folder / "base.xlsx"))
    row = b"<row>" + b"<c><v>7</v></c>" * 1000 + b"</row>"
    sheet = (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             b'<dimension ref="A1:ALL1000"/><sheetData>' + row * 1000 + b"</sheetData></worksheet>")
    path = folder / "million.xlsx"
    with zipfile.ZipFile(folder / "base.xlsx") as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename == "xl/worksheets/sheet1.xml":  # stored: the cell limit, not the ratio, stops it
                dst.writestr(info.filename, sheet, compress_type=zipfile.ZIP_STORED)
            else:
                dst.writestr(info.filename, src.read(info))
    return path


def broken_epubs(folder: Path) -> list[Path]:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("hostile-1")
    book.set_title("Cut short")
    chapter = epub.EpubHtml(title="One", file_name="one.xhtml", content="<h1>One</h1><p>" + "words " * 5000 + "</p>")
    book.add_item(chapter)
    book.spine = [chapter]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    whole = folder / "whole.epub"
    epub.write_epub(str(whole), book)
    data = whole.read_bytes()
    truncated, fake = folder / "truncated.epub", folder / "fake.epub"
    truncated.write_bytes(data[: len(data) // 2])
    fake.write_bytes(b"PK\x03\x04" + os.urandom(64 << 10))
    whole.unlink()
    return [truncated, fake]


def odt(folder: Path, name: str, content: bytes) -> Path:
    path = folder / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", b"application/vnd.oasis.opendocument.text", compress_type=zipfile.ZIP_STORED)
        z.writestr("content.xml", content)
    return path


def laughs() -> bytes:
    entities = b"".join(b'<!ENTITY %c "%s">' % (ord("b") + i, (b"&%c;" % (ord("a") + i)) * 10) for i in range(9))
    return b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "lol">' + entities + b"]><r>&j;</r>"


def samples(folder: Path) -> list[tuple[str, Path]]:
    normal = folder / "normal.docx"
    docx(normal, [f"Paragraph {i} of an ordinary report about harbour tides." for i in range(200)])
    out = [("baseline: an ordinary .docx", normal), ("zip bomb .docx (1 GiB inflated)", zip_bomb_docx(folder)),
           ("1,000,000-cell .xlsx", million_cell_xlsx(folder))]
    truncated, fake = broken_epubs(folder)
    out += [("truncated .epub", truncated), ("fake .epub (zip signature, random bytes)", fake),
            ("billion laughs .odt", odt(folder, "laughs.odt", laughs())),
            ("100,000-deep XML .odt", odt(folder, "deep.odt", b"<a>" * 100_000 + b"x" + b"</a>" * 100_000))]
    return out


def measure(path: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path)], env=env, capture_output=True, text=True,
                          timeout=600)
    if proc.returncode != 0:
        return {"reason": "crashed", "detail": proc.stderr.strip().splitlines()[-1:], "seconds": None,
                "peak_rss_mb": None}
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    args = parser.parse_args(argv)
    load_before = [round(x, 2) for x in os.getloadavg()]
    rows = []
    with tempfile.TemporaryDirectory(prefix="hostile-bench-") as tmp:
        for label, path in samples(Path(tmp)):
            rows.append({"sample": label, "bytes": path.stat().st_size, **measure(path)})
    load_after = [round(x, 2) for x in os.getloadavg()]
    hostile = rows[1:]
    ok = rows[0]["reason"] == "read" and all(r["reason"] in ("over_limit", "unreadable") for r in hostile)
    if args.json:
        print(json.dumps({"rows": rows, "passed": ok, "load_average_before": load_before,
                          "load_average_after": load_after, "cpus": os.cpu_count()}))
        return 0 if ok else 1
    print(f"{'sample':42} {'on disk':>10} {'seconds':>8} {'peak RSS':>9}  reason: detail")
    for r in rows:
        seconds = "-" if r["seconds"] is None else f"{r['seconds']:.2f}"
        rss = "-" if r["peak_rss_mb"] is None else f"{r['peak_rss_mb']:.0f} MB"
        print(f"{r['sample']:42} {r['bytes']:>10,} {seconds:>8} {rss:>9}  {r['reason']}: {r['detail']}")
    print(f"load average {load_before} before, {load_after} after ({os.cpu_count()} CPUs); "
          f"{'every hostile file skipped with a reason' if ok else 'FAILED: a hostile file was not skipped'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
