"""Tests for indexer.readers: one file in, text or a clear SkipFile out."""

from __future__ import annotations

import codecs
import io
import os
import random
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader, PdfWriter

from indexer.readers import (
    SUPPORTED_EXTENSIONS,
    SkipFile,
    decode_bytes,
    html_to_text,
    is_binary,
    read_file,
)

MAX = 1024 * 1024


def make_pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF (Helvetica, one text line per page) with a correct xref table."""
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, text in enumerate(pages):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref_at = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref_at))
    return out.getvalue()


def encrypt_pdf(data: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_bytes(data.encode("utf-8"))
    else:
        path.write_bytes(data)
    return path


def skip_reason(path: Path, max_bytes: int = MAX) -> SkipFile:
    with pytest.raises(SkipFile) as info:
        read_file(path, max_bytes=max_bytes)
    return info.value


# --- formats ----------------------------------------------------------------------------------


def test_supported_extensions_are_lowercase_with_dot() -> None:
    assert all(ext.startswith(".") and ext == ext.lower() for ext in SUPPORTED_EXTENSIONS)
    for ext in (".txt", ".md", ".markdown", ".rst", ".html", ".htm", ".pdf", ".py", ".json", ".log", ".tsx"):
        assert ext in SUPPORTED_EXTENSIONS


@pytest.mark.parametrize(
    "name",
    ["a.txt", "a.md", "a.markdown", "a.rst", "a.py", "a.js", "a.ts", "a.tsx", "a.jsx", "a.go", "a.rs",
     "a.java", "a.c", "a.h", "a.cpp", "a.hpp", "a.cc", "a.cs", "a.rb", "a.php", "a.swift", "a.kt",
     "a.scala", "a.sh", "a.bash", "a.sql", "a.yaml", "a.yml", "a.toml", "a.json", "a.csv", "a.tsv",
     "a.ini", "a.cfg", "a.xml", "a.tex", "a.log", "UPPER.TXT", "README", "LICENSE", "Makefile",
     "Dockerfile", "CHANGELOG", "readme"],
)  # fmt: skip
def test_plain_text_formats_return_decoded_text_unchanged(tmp_path: Path, name: str) -> None:
    content = "  first line\r\nsecond <b>line</b> &amp; café\n\n\tindented\n"
    path = write(tmp_path, name, content)
    assert read_file(path, max_bytes=MAX) == content  # no stripping, no newline normalisation


def test_leading_utf8_bom_is_dropped_and_offsets_stay_aligned(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.md", codecs.BOM_UTF8 + b"# Title\nbody")
    text = read_file(path, max_bytes=MAX)
    assert text == "# Title\nbody"
    assert text[text.index("body") :] == "body"


def test_html_file_is_converted_to_text(tmp_path: Path) -> None:
    html = (
        "<!DOCTYPE html><html><head><title>Doc &amp; title</title>"
        "<style>p { color: red }</style><script>var x = '<p>not text</p>';</script></head>"
        "<body><h1>Heading</h1><p>First   paragraph\nwith &lt;entities&gt; &eacute; &#8212; &#x41;.</p>"
        "<p>Second paragraph</p><noscript>enable js</noscript><template><p>hidden</p></template>"
        "</body></html>"
    )
    text = read_file(write(tmp_path, "page.html", html), max_bytes=MAX)
    assert text == ("Doc & title\n\nHeading\n\nFirst paragraph with <entities> é — A.\n\nSecond paragraph")
    assert read_file(write(tmp_path, "page.htm", html), max_bytes=MAX) == text


def test_pdf_text_of_every_page_joined_by_blank_line(tmp_path: Path) -> None:
    path = write(tmp_path, "doc.pdf", make_pdf(["Hello PDF world", "Second page (with parens)"]))
    assert read_file(path, max_bytes=MAX) == "Hello PDF world\n\nSecond page (with parens)"


def test_pdf_encrypted_with_empty_user_password_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "open.pdf", encrypt_pdf(make_pdf(["Readable anyway"]), user_password=""))
    assert read_file(path, max_bytes=MAX) == "Readable anyway"


def test_pdf_without_text_is_empty(tmp_path: Path) -> None:
    path = write(tmp_path, "blank.pdf", make_pdf(["   "]))
    assert skip_reason(path).reason == "empty"


# --- HTML details -----------------------------------------------------------------------------


def test_html_to_text_drops_script_and_style_content() -> None:
    html = (
        "<div>keep<script type='text/javascript'>if (a < b && c > d) { alert('x') }</script>"
        "<style>body{}</style><SCRIPT>shout()</SCRIPT> this</div>"
    )
    text = html_to_text(html)
    assert text == "keep this"
    for dropped in ("alert", "body{}", "shout"):
        assert dropped not in text


def test_html_to_text_unescapes_entities() -> None:
    assert html_to_text("<p>5 &lt; 6 &amp;&amp; 7 &gt; 3 &quot;q&quot; &#39;s&#39; &nbsp;x &copy;</p>") == (
        "5 < 6 && 7 > 3 \"q\" 's' \u00a0x ©"
    )


def test_html_to_text_block_structure() -> None:
    html = (
        "<p>Para<br>line<br/><br>after</p><ul><li>a</li><li>b <b>bold</b>!</li></ul>"
        "<table><tr><td>c1</td><td>c2</td></tr><tr><th>c3</th><td>c4</td></tr></table>"
        "<pre>  x = 1\n  y = 2</pre>tail <span>in</span>line"
    )
    assert html_to_text(html) == (
        "Para\nline\n\nafter\n\na\nb bold!\n\nc1 c2\nc3 c4\n\n  x = 1\n  y = 2\n\ntail inline"
    )


def test_html_to_text_nested_skipped_elements_and_comments() -> None:
    html = "<p>a<!-- comment --></p><noscript><div><p>x</p></div></noscript><p>b</p>"
    assert html_to_text(html) == "a\n\nb"


def test_html_with_only_markup_is_empty(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.html", "<html><head><script>x()</script></head><body> </body></html>")
    assert skip_reason(path).reason == "empty"


# --- encodings --------------------------------------------------------------------------------


def test_decode_bad_utf8_bytes_never_raises() -> None:
    # Mostly UTF-8 with one stray byte: UTF-8 is kept, the bad byte becomes U+FFFD.
    assert decode_bytes(b"caf\xc3\xa9 \xff ok") == "café \ufffd ok"
    # Truncated multi-byte sequence at the end.
    assert decode_bytes(b"na\xc3\xafve \xe2\x82") == "naïve \ufffd"


def test_decode_latin1_and_cp1252() -> None:
    assert decode_bytes("café naïve Ørsted".encode("latin-1")) == "café naïve Ørsted"
    assert decode_bytes("“quoted” – €5".encode("cp1252")) == "“quoted” – €5"
    # 0x81 is undefined in cp1252: mapped like Latin-1 rather than raising.
    assert decode_bytes(b"a\x81b\xe9") == "a\x81bé"


def test_decode_utf16_with_bom() -> None:
    for codec in ("utf-16-le", "utf-16-be"):
        bom = codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE
        assert decode_bytes(bom + "héllo\r\nwörld".encode(codec)) == "héllo\r\nwörld"
    assert decode_bytes("utf-32 ✓".encode("utf-32")) == "utf-32 ✓"


def test_decode_utf8_bom() -> None:
    assert decode_bytes(codecs.BOM_UTF8 + "x\u00e9".encode()) == "x\u00e9"


def test_read_bad_utf8_file(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.txt", b"caf\xc3\xa9 \xff\xfe ok caf\xc3\xa9 na\xc3\xafve")
    assert read_file(path, max_bytes=MAX) == "café \ufffd\ufffd ok café naïve"


def test_read_latin1_file(tmp_path: Path) -> None:
    path = write(tmp_path, "latin.txt", "Größe: ½ café\n".encode("latin-1"))
    assert read_file(path, max_bytes=MAX) == "Größe: ½ café\n"


def test_read_utf16_file_with_bom_is_not_binary(tmp_path: Path) -> None:
    data = codecs.BOM_UTF16_LE + "Hello\nUTF-16 wörld\n".encode("utf-16-le")
    assert is_binary(data) is False
    assert read_file(write(tmp_path, "wide.txt", data), max_bytes=MAX) == "Hello\nUTF-16 wörld\n"


# --- binary -----------------------------------------------------------------------------------

PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"


def test_is_binary_detects_png_and_random_bytes() -> None:
    rng = random.Random(1234)
    assert is_binary(PNG_HEADER)
    assert is_binary(rng.randbytes(4096))
    # Random bytes without any NUL are still binary (~11% control bytes, not UTF-8).
    assert is_binary(bytes(rng.randint(1, 255) for _ in range(4096)))
    # Many control characters in otherwise ASCII data.
    assert is_binary(b"\x01\x02\x03\x04abc" * 100)


def test_is_binary_accepts_text() -> None:
    assert not is_binary(b"")
    assert not is_binary(b"plain ascii\twith tabs\r\nand CRLF\x0c")
    assert not is_binary("naïve café ✓ 日本語".encode())
    assert not is_binary("Größe café".encode("latin-1") * 50)
    assert not is_binary("Съешь же ещё этих мягких булок".encode("cp1251"))  # legacy 8-bit text
    assert not is_binary(b"\x1b[31mcolored log line\x1b[0m\n" * 20)
    assert not is_binary("é".encode() * 4095)  # 8 KiB cut could split a character: still UTF-8


def test_is_binary_only_looks_at_first_8_kib() -> None:
    assert not is_binary(b"a" * 8192 + b"\x00" * 10)


def test_binary_content_with_text_extension_is_skipped(tmp_path: Path) -> None:
    error = skip_reason(write(tmp_path, "image.txt", PNG_HEADER + bytes(range(256))))
    assert error.reason == "binary"
    error = skip_reason(write(tmp_path, "noise.py", random.Random(7).randbytes(2048)))
    assert error.reason == "binary"


# --- skips ------------------------------------------------------------------------------------


def test_too_large_is_checked_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "big.txt", "x" * 5000)

    def no_open(*args: object, **kwargs: object) -> None:
        raise AssertionError("file must not be opened")

    monkeypatch.setattr("builtins.open", no_open)
    error = skip_reason(path, max_bytes=1000)
    assert error.reason == "too_large"
    assert "SEMSEARCH_MAX_FILE_BYTES" in error.detail
    assert "4.9 KB is over the 1000 bytes limit" in error.detail


def test_too_large_detail_in_megabytes(tmp_path: Path) -> None:
    path = tmp_path / "huge.log"
    with open(path, "wb") as fh:  # sparse file: 3.2 MiB without writing it
        fh.truncate(int(3.2 * 1024 * 1024))
    error = skip_reason(path, max_bytes=1024 * 1024)
    assert error.detail == "3.2 MB is over the 1.0 MB limit (SEMSEARCH_MAX_FILE_BYTES)"


def test_exactly_max_bytes_is_allowed_and_one_more_is_not(tmp_path: Path) -> None:
    path = write(tmp_path, "edge.txt", "y" * 2048)
    assert read_file(path, max_bytes=2048) == "y" * 2048
    error = skip_reason(path, max_bytes=2047)
    assert error.reason == "too_large"
    assert "2048 bytes is over the 2047-byte limit" in error.detail


def test_unreadable_missing_and_dangling_paths(tmp_path: Path) -> None:
    assert skip_reason(tmp_path / "missing.txt").reason == "unreadable"
    link = tmp_path / "dangling.md"
    link.symlink_to(tmp_path / "nowhere.md")
    error = skip_reason(link)
    assert error.reason == "unreadable"
    assert "No such file" in error.detail


def test_unreadable_directory(tmp_path: Path) -> None:
    directory = tmp_path / "folder.txt"
    directory.mkdir()
    error = skip_reason(directory)
    assert error.reason == "unreadable"
    assert "directory" in error.detail


def test_unreadable_when_open_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root, so chmod 000 would not stop reading: make opening this file fail instead.
    path = write(tmp_path, "secret.txt", "hidden")
    real_open = os.open

    def denied(file: object, *args: Any, **kwargs: Any) -> int:
        if os.fspath(file) == os.fspath(path):  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(file, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", denied)
    error = skip_reason(path)
    assert error.reason == "unreadable"
    assert "Permission denied" in error.detail


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.4\nthis is not really a pdf", b"not a pdf at all", make_pdf(["cut short"])[:150]],
)
def test_broken_pdf_is_unreadable(tmp_path: Path, data: bytes) -> None:
    error = skip_reason(write(tmp_path, "broken.pdf", data))
    assert error.reason == "unreadable"
    assert error.detail.startswith("PDF could not be parsed (")


def test_encrypted_pdf_is_unreadable(tmp_path: Path) -> None:
    path = write(tmp_path, "locked.pdf", encrypt_pdf(make_pdf(["secret"]), user_password="s3cret"))
    error = skip_reason(path)
    assert error.reason == "unreadable"
    assert "encrypted" in error.detail


@pytest.mark.parametrize("name", ["photo.heic", "archive.zip", "data.bin", "old.doc"])
def test_binary_formats_without_a_reader_are_unsupported_by_name(tmp_path: Path, name: str) -> None:
    error = skip_reason(write(tmp_path, name, "text"))
    assert error.reason == "unsupported"
    assert "not a supported type" in error.detail


def test_legacy_office_refusal_says_what_to_do(tmp_path: Path) -> None:
    assert ".docx" in skip_reason(write(tmp_path, "old.doc", "text")).detail


def test_a_docx_that_is_not_a_zip_is_unreadable(tmp_path: Path) -> None:
    error = skip_reason(write(tmp_path, "notes.docx", "text"))
    assert error.reason == "unreadable"
    assert "zip container is broken" in error.detail


def test_unsupported_is_decided_before_touching_the_file(tmp_path: Path) -> None:
    assert skip_reason(tmp_path / "missing.exe").reason == "unsupported"


@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n  "])
def test_empty_and_whitespace_only_files(tmp_path: Path, data: bytes) -> None:
    assert skip_reason(write(tmp_path, "blank.md", data)).reason == "empty"


def test_whitespace_only_utf16_is_empty(tmp_path: Path) -> None:
    path = write(tmp_path, "blank16.txt", " \n \n".encode("utf-16"))
    assert skip_reason(path).reason == "empty"


def test_skipfile_carries_reason_and_detail() -> None:
    error = SkipFile("binary", "looks binary")
    assert (error.reason, error.detail) == ("binary", "looks binary")
    assert "looks binary" in str(error)
    with pytest.raises(ValueError):
        SkipFile("nope", "unknown reason")


def test_max_bytes_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        read_file(write(tmp_path, "a.txt", "x"), max_bytes=0)
