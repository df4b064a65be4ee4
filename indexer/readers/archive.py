"""Zip containers (OOXML, ODF, ePub) checked before anything is decompressed, and safe XML.

``open_zip`` reads only the zip directory and refuses a container with too many members, a
declared uncompressed total over the limit, or a member that inflates more than ``max_ratio``
times (a zip bomb). zipfile never inflates a member past its declared size (it stops and checks
the CRC), so once the directory passed, reading is bounded. No library checks this for us:
python-docx, python-pptx, openpyxl, odfpy and ebooklib all open the archive and inflate members
without limits.

XML parsed here goes through defusedxml (no entity expansion, no external entities, no DTD
tricks) and is checked for nesting depth.
"""

from __future__ import annotations

import io
import zipfile
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from indexer.readers.base import ReadLimits, SkipFile, human_size, summarize

_RATIO_FLOOR = 1024 * 1024  # members smaller than this may compress as well as they like
_MARKUP = (".xml", ".xhtml", ".html", ".htm", ".opf", ".ncx", ".rels")


def open_zip(data: bytes, limits: ReadLimits, *, what: str) -> zipfile.ZipFile:
    """The zip directory of ``data``, checked against ``limits``; SkipFile if it is not a sane zip."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise SkipFile("unreadable",
                       f"not a valid {what} file: the zip container is broken ({summarize(exc)})") from exc
    members = archive.infolist()
    if len(members) > limits.max_members:
        raise SkipFile("over_limit", f"the {what} container has {len(members):,} members, over the "
                                     f"{limits.max_members:,}-member limit")
    total = sum(m.file_size for m in members)
    if total > limits.max_unpacked_bytes:
        raise SkipFile("over_limit", f"the {what} would unpack to {human_size(total)}, over the "
                                     f"{human_size(limits.max_unpacked_bytes)} limit (a zip bomb?)")
    for m in members:
        if m.file_size > _RATIO_FLOOR and m.file_size > limits.max_ratio * max(m.compress_size, 1):
            raise SkipFile("over_limit", f"member {m.filename!r} of the {what} inflates "
                                         f"{m.file_size // max(m.compress_size, 1):,}x, over the "
                                         f"{limits.max_ratio}x limit (a zip bomb?)")
        if m.file_size > limits.max_xml_bytes and m.filename.lower().endswith(_MARKUP):
            raise SkipFile("over_limit", f"member {m.filename!r} of the {what} is {human_size(m.file_size)} of "
                                         f"XML, over the {human_size(limits.max_xml_bytes)} limit")
    return archive


def read_member(archive: zipfile.ZipFile, name: str, *, what: str) -> bytes:
    try:
        return archive.read(name)
    except KeyError as exc:
        raise SkipFile("unreadable", f"not a valid {what} file: {name!r} is missing") from exc
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise SkipFile("unreadable", f"{name!r} in the {what} cannot be unpacked ({summarize(exc)})") from exc


def parse_xml(data: bytes, limits: ReadLimits, *, what: str) -> Element:
    """Parse ``data`` with defusedxml; SkipFile if malformed, entity-laden or nested too deep."""
    try:
        root = SafeET.fromstring(data)
    except DefusedXmlException as exc:
        raise SkipFile("over_limit", f"{what} uses XML entities or DTDs, which are refused ({summarize(exc)})") from exc
    except SafeET.ParseError as exc:
        raise SkipFile("unreadable", f"{what} is not well-formed XML ({summarize(exc)})") from exc
    check_depth(root, limits, what=what)
    return root


def check_depth(root: Element, limits: ReadLimits, *, what: str) -> None:
    """SkipFile if elements nest deeper than ``limits.max_xml_depth`` (iterative: no recursion limit)."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limits.max_xml_depth:
            raise SkipFile("over_limit", f"{what} nests XML elements over {limits.max_xml_depth} deep")
        stack.extend((child, depth + 1) for child in node)


def local(tag: str) -> str:
    """``{namespace}name`` -> ``name``."""
    return tag.rsplit("}", 1)[-1]
