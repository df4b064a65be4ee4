"""Turn one file into text, by format, or say clearly why it is skipped.

``read_document`` (text + metadata + parts) and ``read_file`` (text only) are the entry points;
``is_supported`` is the walk's cheap by-name decision. One module per format family:

- ``base``: the result type (:class:`Extracted`, :class:`Part`), :class:`SkipFile`, :class:`ReadLimits`
- ``dispatch``: extension / content sniffing -> reader; size checks; library errors -> SkipFile
- ``text`` (plain text, Org, encoding detection, binary sniffing), ``html``, ``pdf``,
  ``office`` (docx/pptx/xlsx), ``odf`` (odt/ods/odp), ``epub``, ``notebook``, ``mail`` (eml/mbox),
  ``rtf``; ``archive``: zip-bomb checks and safe XML for the container formats.
"""

from indexer.readers.base import SKIP_REASONS, Extracted, Part, ReadLimits, SkipFile
from indexer.readers.dispatch import (
    BINARY_EXTENSIONS,
    SUPPORTED_EXTENSIONS,
    SUPPORTED_FILENAMES,
    is_supported,
    read_bytes,
    read_data,
    read_document,
    read_file,
    unsupported_detail,
)
from indexer.readers.text import decode_bytes, is_binary


def __getattr__(name: str) -> object:  # html_to_text loads the HTML reader on first use (see dispatch._reader)
    if name == "html_to_text":
        from indexer.readers.html import html_to_text

        return html_to_text
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BINARY_EXTENSIONS", "SKIP_REASONS", "SUPPORTED_EXTENSIONS", "SUPPORTED_FILENAMES", "Extracted", "Part",
    "ReadLimits", "SkipFile", "decode_bytes", "html_to_text", "is_binary", "is_supported", "read_bytes",
    "read_data", "read_document", "read_file", "unsupported_detail",
]
