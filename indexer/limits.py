"""The limits of a search request, in one place: the library's rules (``indexer.search.options``)
check them, and the interfaces (HTTP schemas, MCP tools, settings' defaults) show the same values.

Standard library only, so the settings and the CLI import it without loading the library.
"""

from __future__ import annotations

MIN_K = 1  # hits a search returns, at least
MIN_OFFSET = 0
DEFAULT_MAX_K = 1000  # the largest offset + k (SEMSEARCH_MAX_K)
DEFAULT_MAX_QUERY_CHARS = 2000  # SEMSEARCH_MAX_QUERY_CHARS
MAX_LIKE_CHARS = 4096  # a document id (512) or a file path (4096)
MIN_SIMILARITY, MAX_SIMILARITY = -1, 1  # the range of a cosine (min_similarity)

# What a request's filters may hold (the interfaces refuse more before a store translates them).
MAX_GLOB_CHARS = 1024
MAX_EXTS = 50
MAX_EXT_CHARS = 32
MAX_METADATA_FILTERS = 32
