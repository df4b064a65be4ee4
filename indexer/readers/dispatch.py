"""Pick the reader for a file, check its size, and never let a reader take the caller down.

The extension picks a format reader; a file without one, or with an extension no reader claims
(``BSD``, ``GPL-3``, ``todo``, ``CHANGES.v2``), is sniffed by content: a PDF or RTF signature
picks that reader, anything else is read as text if it is text, refused as ``binary`` (with what
it looks like) if not. Only extensions that name a binary format no reader handles (archives,
executables, legacy Office ...) are refused up front, without touching the file. Images (PNG, JPEG,
TIFF, WebP, GIF, BMP) are read by OCR (``ocr.py``), or skipped saying what to install.

A single compressed file (``.gz``, ``.bz2``, ``.xz``, ``.zst``) is decompressed within the zip limits
(``compressed.py``) and read as the name without that suffix says: ``NEWS.gz`` as text,
``manual.pdf.gz`` as a PDF, ``ls.1.gz`` as a man page; ``photo.png.gz`` or ``src.tar.gz`` are refused
by name like ``photo.png`` and ``src.tar``. Man pages (``.1``-``.9`` with an optional section suffix,
``.n``, ``.man``) are read by ``man.py``.
"""

from __future__ import annotations

import importlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

from indexer.readers.base import DEFAULT_LIMITS, Extracted, ReadCancelled, ReadLimits, SkipFile, human_size, summarize
from indexer.readers.compressed import DECOMPRESSORS, decompress
from indexer.readers.man import MAN_SUFFIX, read_man
from indexer.readers.ocr import IMAGE_EXTENSIONS
from indexer.readers.text import read_org, read_text

Reader = Callable[[bytes, ReadLimits, int], Extracted]

PLAIN_TEXT_EXTENSIONS: frozenset[str] = frozenset({".txt", ".md", ".markdown", ".rst", ".org"})
SOURCE_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".py", ".js", ".ts", ".tsx", ".jsx", ".go", ".rs", ".java", ".c", ".h", ".cpp", ".hpp", ".cc",
        ".cs", ".rb", ".php", ".swift", ".kt", ".scala", ".sh", ".bash", ".sql", ".yaml", ".yml",
        ".toml", ".json", ".csv", ".tsv", ".ini", ".cfg", ".xml", ".tex", ".log",
    }
)  # fmt: skip



def _reader(module: str, name: str, *, limits: bool = True) -> Reader:
    """The reader ``indexer.readers.<module>.<name>``, imported when a file of its format is first
    read: a command that reads no such file (``semsearch remove``, an unchanged re-index) loads none of
    the format libraries (ebooklib, pypdfium2, defusedxml ... are a tenth of the CLI's start-up)."""

    def read(data: bytes, lim: ReadLimits, depth: int) -> Extracted:
        fn = getattr(importlib.import_module(f"indexer.readers.{module}"), name)
        return fn(data, lim) if limits else fn(data)

    return read


def _eml(data: bytes, lim: ReadLimits, depth: int) -> Extracted:
    from indexer.readers.mail import read_eml

    return read_eml(data, lim, depth, read_attachment=_read_attachment)


def _mbox(data: bytes, lim: ReadLimits, depth: int) -> Extracted:
    from indexer.readers.mail import read_mbox

    return read_mbox(data, lim, read_attachment=_read_attachment)


_READERS: dict[str, Reader] = {
    ".html": _reader("html", "read_html", limits=False),
    ".htm": _reader("html", "read_html", limits=False),
    ".xhtml": _reader("html", "read_html", limits=False),
    ".pdf": _reader("pdf", "read_pdf"),
    ".docx": _reader("office", "read_docx"),
    ".pptx": _reader("office", "read_pptx"),
    ".xlsx": _reader("office", "read_xlsx"),
    ".xlsm": _reader("office", "read_xlsx"),
    ".odt": _reader("odf", "read_odf"),
    ".ods": _reader("odf", "read_odf"),
    ".odp": _reader("odf", "read_odf"),
    ".epub": _reader("epub", "read_epub"),
    ".ipynb": _reader("notebook", "read_notebook"),
    ".eml": _eml,
    ".mbox": _mbox,
    ".rtf": _reader("rtf", "read_rtf", limits=False),
    ".org": lambda d, lim, depth: read_org(d),
    # images: OCR (ocr.py), which skips them as unsupported, saying what to install, without the engine
    **{ext: _reader("ocr", "read_image") for ext in IMAGE_EXTENSIONS},
}
SUPPORTED_EXTENSIONS: frozenset[str] = PLAIN_TEXT_EXTENSIONS | SOURCE_EXTENSIONS | frozenset(_READERS)
# Kept for callers of the old module: these names were the only extension-less files read; now
# every file is sniffed by content, so this is informational.
SUPPORTED_FILENAMES: frozenset[str] = frozenset({"readme", "license", "makefile", "dockerfile", "changelog"})

# Binary formats without a reader: refused by name, before the file is opened.
BINARY_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".ico", ".heic", ".psd",
        ".zip", ".tgz", ".tbz2", ".txz", ".tzst", ".7z", ".rar", ".tar", ".jar", ".whl", ".apk",
        ".exe", ".dll", ".so", ".dylib", ".o", ".a", ".bin", ".class", ".pyc", ".wasm", ".iso", ".dmg",
        ".mp3", ".mp4", ".m4a", ".wav", ".flac", ".ogg", ".opus", ".mov", ".avi", ".mkv", ".webm",
        ".woff", ".woff2", ".ttf", ".otf", ".eot", ".sqlite", ".sqlite3", ".db", ".parquet", ".npy",
        ".pkl", ".pt", ".onnx", ".safetensors", ".faiss", ".doc", ".xls", ".ppt", ".msg", ".pages",
    }
)  # fmt: skip
# Read-only, never blocking in open() on a FIFO or device, never taking a terminal as controlling tty.
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
_LEGACY = {".doc": ".docx", ".xls": ".xlsx", ".ppt": ".pptx"}


def _inner_name(name: str) -> tuple[str, str]:
    """(the name without a compression suffix, that suffix): ``NEWS.gz`` -> (``NEWS``, ``.gz``)."""
    suffix = Path(name).suffix.lower()
    return (name[: -len(suffix)], suffix) if suffix in DECOMPRESSORS else (name, "")


def is_supported(path: Path) -> bool:
    """False only for a name that says "binary format without a reader" (also once decompressed:
    ``x.png.gz``); everything else is worth opening (a format reader, or sniffing whether the content
    is text)."""
    inner, compression = _inner_name(Path(path).name)
    suffix = Path(inner).suffix.lower()
    if compression and suffix in IMAGE_EXTENSIONS:  # (images compress themselves: a .png.gz is no scan)
        return False
    return suffix not in BINARY_EXTENSIONS | frozenset(DECOMPRESSORS)


def unsupported_detail(path: Path) -> str:
    inner, compression = _inner_name(Path(path).name)
    suffix = Path(inner).suffix.lower()
    if compression:
        if suffix in DECOMPRESSORS:
            return f"'{suffix}{compression}' files are not read (compressed twice)"
        what = "an archive of several files" if suffix == ".tar" else "an image, read by OCR only uncompressed" \
            if suffix in IMAGE_EXTENSIONS else "a binary format without a reader"
        return (f"'{suffix}{compression}' files are not a supported type ({compression} is decompressed, but "
                f"{suffix} is {what})")
    if suffix in _LEGACY:
        return f"{suffix!r} files are not a supported type (legacy binary Office; save as {_LEGACY[suffix]})"
    return f"{suffix!r} files are not a supported type (a binary format without a reader)"


def _sniffed_reader(data: bytes) -> Reader | None:
    head = data[:1024].lstrip()
    if head.startswith(b"%PDF-"):
        return _READERS[".pdf"]
    if head.startswith(b"{\\rtf"):
        return _READERS[".rtf"]
    return None


def _read_man(data: bytes, limits: ReadLimits, depth: int) -> Extracted:
    return read_man(data)


def _read_attachment(name: str, data: bytes, limits: ReadLimits, depth: int) -> Extracted:
    """A mail attachment goes through this dispatcher like a file (see ``mail.AttachmentReader``)."""
    return read_bytes(name, data, limits=limits, depth=depth)


def read_bytes(name: str, data: bytes, *, limits: ReadLimits = DEFAULT_LIMITS, depth: int = 0) -> Extracted:
    """Read ``data`` as the file ``name`` (used for files and for mail attachments); a compressed
    file as the name without its compression suffix (see the module's docstring)."""
    if not is_supported(Path(name)):
        raise SkipFile("unsupported", unsupported_detail(Path(name)))
    if not data.strip():
        raise SkipFile("empty", "the file is empty" if not data else "the file contains only whitespace")
    inner, compression = _inner_name(name)
    if compression:
        doc = read_bytes(inner, decompress(data, compression, limits), limits=limits, depth=depth)
        doc.metadata.setdefault("compression", DECOMPRESSORS[compression][0])
        return doc
    suffix = Path(name).suffix.lower()
    reader = _READERS.get(suffix) or (_read_man if MAN_SUFFIX.search(suffix) else None) or \
        (None if suffix in SUPPORTED_EXTENSIONS else _sniffed_reader(data))
    if reader is None:
        return read_text(data, what=f"{suffix} text" if suffix else "plain text")
    try:
        doc = reader(data, limits, depth)
    except (SkipFile, ReadCancelled):
        raise
    except RecursionError as exc:
        raise SkipFile("over_limit", "the file nests its structure too deeply to read") from exc
    except Exception as exc:  # any library error on a hostile or broken file skips the file, never the job
        raise SkipFile("unreadable", f"{suffix or 'the'} file could not be read ({summarize(exc)})") from exc
    if not doc.text.strip():
        raise SkipFile("empty", f"the {suffix or ''} file has no text".replace("  ", " "))
    return doc


def _too_large_detail(size: int, max_bytes: int) -> str:
    shown, limit = human_size(size), human_size(max_bytes)
    if shown == limit:  # e.g. one byte over: rounding would hide the difference
        shown, limit = f"{size} bytes", f"{max_bytes}-byte"
    return f"{shown} is over the {limit} limit (SEMSEARCH_MAX_FILE_BYTES)"


def read_document(path: Path, *, max_bytes: int, limits: ReadLimits = DEFAULT_LIMITS) -> Extracted:
    """Text, metadata and parts of ``path``; raises :class:`SkipFile` if it must be skipped.

    ``max_bytes`` is the size limit (checked with ``fstat`` on the open descriptor before reading, and
    again while reading in case the file grew). A symlink given as ``path`` is followed: the caller
    named it; reads confined to a folder go through ``indexer.walk.open_file``.
    """
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")
    path = Path(path)
    if not is_supported(path):
        raise SkipFile("unsupported", unsupported_detail(path))
    # One descriptor, opened without blocking (a FIFO or a device opens at once instead of waiting for
    # a writer), is checked with fstat and then read: checking the path and opening it again by name
    # would let another file be swapped in between.
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise SkipFile("unreadable", f"cannot access the file ({exc.strerror or summarize(exc)})") from exc
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise SkipFile("unreadable", "it is a directory, not a file")
        if not stat.S_ISREG(st.st_mode):
            raise SkipFile("unreadable", "not a regular file (device, FIFO or socket)")
        if st.st_size > max_bytes:
            raise SkipFile("too_large", _too_large_detail(st.st_size, max_bytes))
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        try:
            data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise SkipFile("unreadable", f"cannot read the file ({exc.strerror or summarize(exc)})") from exc
    return read_data(data, path, max_bytes=max_bytes, limits=limits)


def read_data(data: bytes, path: Path, *, max_bytes: int, limits: ReadLimits = DEFAULT_LIMITS) -> Extracted:
    """Text, metadata and parts of a file's bytes ``data`` (at most ``max_bytes`` + 1 of them, read by
    the caller, e.g. from a descriptor opened without following symlinks), by the type ``path``
    names; raises :class:`SkipFile` like :func:`read_document`."""
    path = Path(path)
    if not is_supported(path):
        raise SkipFile("unsupported", unsupported_detail(path))
    if len(data) > max_bytes:
        raise SkipFile("too_large", f"the file grew while being read; {_too_large_detail(len(data), max_bytes)}")
    return read_bytes(path.name, data, limits=limits)


def read_file(path: Path, *, max_bytes: int) -> str:
    """The searchable text of ``path`` (see :func:`read_document` for metadata and parts)."""
    return read_document(path, max_bytes=max_bytes).text
