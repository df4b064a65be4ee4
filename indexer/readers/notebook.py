"""Jupyter notebooks (nbformat): markdown and code cells in order; outputs are left out.

Outputs are left out on purpose: they are mostly numbers, tracebacks and base64 images, and they
change on every run. Offsets point into the extracted text: each cell's source is one block; one
part per cell (``cell``: 1-based, ``cell_type``). ``title`` is the first markdown heading.
"""

from __future__ import annotations

import re

from indexer.readers.base import Extracted, ReadLimits, SkipFile, TextBuilder, summarize
from indexer.readers.text import decode_bytes

_HEADING = re.compile(r"^#{1,6}[ \t]+(.+)$", re.MULTILINE)


def read_notebook(data: bytes, limits: ReadLimits) -> Extracted:
    import nbformat
    import nbformat.reader

    try:
        # Read and upgrade to v4 without schema validation: text extraction needs only cells and
        # sources, and validation costs ~7x the reading (4 s for 50,000 cells) and warns on old files.
        nb = nbformat.convert(nbformat.reader.reads(decode_bytes(data)), 4)
    except Exception as exc:  # nbformat raises json, validation and version errors alike
        raise SkipFile("unreadable", f"not a valid Jupyter notebook ({summarize(exc)})") from exc
    out = TextBuilder(limits)
    title = ""
    for number, cell in enumerate(nb.get("cells", []), start=1):
        kind = cell.get("cell_type", "")
        if kind not in ("markdown", "code"):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if kind == "markdown" and not title and (m := _HEADING.search(source)):
            title = m.group(1).strip()
        out.part(cell=number, cell_type=kind)
        out.add(source)
    language = nb.get("metadata", {}).get("language_info", {}).get("name", "") or \
        nb.get("metadata", {}).get("kernelspec", {}).get("language", "")
    return out.build({"title": title, "language": language, "cells": len(nb.get("cells", []))})
