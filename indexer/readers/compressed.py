"""Single compressed files (``NEWS.gz``, ``manual.pdf.bz2``, ``ls.1.xz``, ``log.zst``): decompressed
within limits, then read as the name without the compression suffix says (``dispatch.read_bytes``).

The limits are the zip containers' (``archive.open_zip``): the output may not pass
``ReadLimits.max_unpacked_bytes``, nor ``max_ratio`` times the compressed size once it is past 1 MiB,
so a compression bomb is refused (``over_limit``) after reading at most that much, never inflated
whole. gzip, bzip2 and xz are the standard library's; zstd is the ``zstandard`` package (python-
zstandard, the maintained binding of the reference library). Each reader is read with a bounded
``read(n)``, which handles multi-member files (``cat a.gz b.gz``) like the command-line tools do.
Archives of several files (``.tar.gz``, ``.tgz``, ``.zip``) are not single files: they are refused
by name.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from collections.abc import Callable
from typing import IO, Any

from indexer.readers.base import ReadLimits, SkipFile, human_size, summarize

_RATIO_FLOOR = 1024 * 1024  # outputs smaller than this may compress as well as they like (as for zips)


def _zstd(raw: IO[bytes]) -> Any:
    import zstandard

    return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)


# suffix -> (what it is called, the reader over the compressed bytes)
DECOMPRESSORS: dict[str, tuple[str, Callable[[IO[bytes]], Any]]] = {
    ".gz": ("gzip", lambda raw: gzip.GzipFile(fileobj=raw)),
    ".bz2": ("bzip2", lambda raw: bz2.BZ2File(raw)),
    ".xz": ("xz", lambda raw: lzma.LZMAFile(raw)),
    ".zst": ("zstd", _zstd),
}


def decompress(data: bytes, suffix: str, limits: ReadLimits) -> bytes:
    """The content of the compressed file ``data`` (its suffix says how it is compressed), or SkipFile:
    ``over_limit`` for a bomb, ``unreadable`` for a broken or truncated stream."""
    what, opener = DECOMPRESSORS[suffix]
    ratio_cap = max(_RATIO_FLOOR, limits.max_ratio * len(data))
    cap = min(limits.max_unpacked_bytes, ratio_cap)
    try:
        with opener(io.BytesIO(data)) as stream:
            out = stream.read(cap + 1)
    except SkipFile:
        raise
    except Exception as exc:  # gzip.BadGzipFile, EOFError (truncated), lzma.LZMAError, zstandard.ZstdError ...
        raise SkipFile("unreadable", f"the {what} data is broken or cut short ({summarize(exc)})") from exc
    if len(out) > cap:
        if cap == ratio_cap:
            raise SkipFile("over_limit", f"the {what} file inflates more than {limits.max_ratio}x (over "
                                         f"{human_size(cap)} from {human_size(len(data))}; a compression bomb?)")
        raise SkipFile("over_limit", f"the {what} file unpacks to more than {human_size(cap)}, over the "
                                     f"{human_size(limits.max_unpacked_bytes)} limit (a compression bomb?)")
    return out
