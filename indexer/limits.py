"""The limits, in one place: a search request's (the library's rules in ``indexer.search.options`` check
them, and the interfaces - HTTP schemas, MCP tools, settings' defaults - show the same values) and a
collection's indexing limits (:class:`Limits`).

Standard library only, so the settings and the CLI import it without loading the library.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_K = 1  # hits a search returns, at least
MIN_OFFSET = 0
DEFAULT_MAX_K = 1000  # the largest offset + k (SEMSEARCH_MAX_K)
DEFAULT_MAX_QUERY_CHARS = 2000  # SEMSEARCH_MAX_QUERY_CHARS
MAX_LIKE_CHARS = 4096  # a document id (512) or a file path (4096)
MIN_SIMILARITY, MAX_SIMILARITY = -1, 1  # the range of a cosine (min_similarity)
# Title and file-name matches in the keyword ranking (indexer.search.rankings.boost_fields): the default
# is what measured no worse on SciFact and the shipped corpus (benchmarks/field_boost.py).
DEFAULT_FIELD_BOOST = 0.0
MAX_FIELD_BOOST = 10.0

# What a request's filters may hold (the interfaces refuse more before a store translates them).
MAX_GLOB_CHARS = 1024
MAX_EXTS = 50
MAX_EXT_CHARS = 32
MAX_METADATA_FILTERS = 32
# A ``where`` document (indexer/filters.py): how deep $and/$or/$not may nest, how many conditions and
# operators it may hold in all, and how many values one $in/$nin may list.
MAX_WHERE_DEPTH = 8
MAX_WHERE_NODES = 100
MAX_WHERE_VALUES = 100
MAX_WHERE_STRING_CHARS = 4096
MAX_WHERE_JSON_CHARS = 16384  # a where document as JSON text (a GET parameter, a CLI option)


@dataclass
class Limits:
    """Every indexing limit is a setting (see app.settings for the SEMSEARCH_ names)."""

    max_file_bytes: int = 20 * 1024 * 1024
    chunk_overlap: int = 32  # tokens shared by consecutive windows
    batch_chunks: int = 256  # chunks embedded and committed together
    embed_batch_size: int = 32
    # A folder run commits what it has embedded at least this often (seconds; 0: only by size), so an
    # interrupted run keeps all but the last few seconds of work (see indexer.sync).
    commit_seconds: float = 5.0
    when_busy: str = "wait"  # another indexer holds the collection (Store.indexing_lock): wait | refuse
    checkpoint_every: int = 50_000  # logged vector changes before the FAISS file is rewritten
    # 0: a write is checkpointed into catalog.sqlite3 before it is acknowledged (the default; about two
    # fsyncs per write, see benchmarks/wal_checkpoint.py). > 0: at most this often, with the acknowledged
    # write's number kept in catalog.sqlite3-acked so an open without its -wal is refused, not empty.
    wal_checkpoint_seconds: float = 0.0
    # OCR of images and scanned PDF pages (indexer.readers.ocr; the collection's language picks the engine's)
    ocr: bool = True  # False: images are skipped as unsupported and scanned pages stay empty
    ocr_command: str = "tesseract"  # the engine's program (name on PATH, or a path)
    ocr_languages: str = ""  # the engine's language names ("deu+eng"); empty: the collection's language
    ocr_max_pixels: int = 50_000_000  # width x height of one image (a PDF page is rendered within it)
    ocr_max_pages: int = 100  # pages recognised in one file
    ocr_page_seconds: float = 60.0  # time to recognise one page
    max_k: int = DEFAULT_MAX_K  # the largest offset + k a search may ask for
    max_query_chars: int = DEFAULT_MAX_QUERY_CHARS

# Facets (``indexer.facets``): how many values a facet lists, and how deep a folder facet goes.
DEFAULT_FACET_TOP = 10
MAX_FACET_TOP = 100
MAX_FACET_DEPTH = 8
# A facet restricted by a query counts over this many of its best hits (the sources ranked first).
DEFAULT_FACET_HITS = 100
