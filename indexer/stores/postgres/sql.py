"""The Postgres store's translations: a search's filters into one WHERE fragment (:func:`filter_sql`),
a path glob into a POSIX regular expression, and the BM25 terms of a text into term ids."""

from __future__ import annotations

import json
from typing import Any

from indexer.analysis.bm25 import document_vector, query_vector
from indexer.analysis.languages import Analyzer
from indexer.facets import Facet
from indexer.filters import Filters, glob_regex
from indexer.stores.postgres.schema import TERM_SPACE


def glob_posix(pattern: str) -> str:
    """The project's glob (``indexer.filters.glob_regex``: ``*``, ``?``, ``[...]``, ``**``) as a Postgres
    regular expression: the same translation, anchored, with Python's ``\\Z`` as ``$``. Python escapes
    only punctuation (``re.escape``), which Postgres's ARE syntax reads as the literal character too."""
    source = glob_regex(pattern).pattern
    assert source.endswith(r"\Z")
    return "^" + source[:-2] + "$"


def filter_sql(filters: Filters) -> tuple[str, list[Any]]:
    """A WHERE fragment over ``sources s`` joined with ``chunks c`` and its parameters (``%s``), or
    ``("", [])`` when nothing is restricted. ``InvalidInput`` for filters :meth:`Filters.check` refuses."""
    filters = filters.check()
    clauses: list[str] = []
    params: list[Any] = []
    if filters.path_glob:
        # Absolute patterns match the whole path; relative ones the path below the indexed folder.
        if filters.path_glob.startswith("/"):
            clauses.append("s.kind = 'file' AND s.key ~ %s")
        else:
            clauses.append("s.kind = 'file' AND (CASE WHEN s.root <> '' AND left(s.key, length(rtrim(s.root, '/')) + 1)"
                           " = rtrim(s.root, '/') || '/' THEN substr(s.key, length(rtrim(s.root, '/')) + 2) "
                           "ELSE s.key END) ~ %s")
        params.append(glob_posix(filters.path_glob))
    if filters.ext:
        clauses.append("s.ext = ANY(%s)")
        params.append(list(filters.ext))
    for key, value in filters.metadata.items():
        # A chunk's own metadata (its page, slide, message) first, then its file's or document's; a JSON
        # null counts as missing, as in the embedded store.
        got = "COALESCE(jsonb_strip_nulls(c.metadata) -> %s, s.metadata -> %s)"
        if value is None:
            clauses.append(f"({got} IS NULL OR {got} = 'null'::jsonb)")
            params.extend([key, key, key, key])
        else:
            clauses.append(f"{got} = %s::jsonb")
            params.extend([key, key, json.dumps(value)])
    if filters.modified_after is not None:
        clauses.append("(CASE WHEN s.kind = 'file' THEN s.mtime ELSE s.indexed_at END) > %s")
        params.append(filters.modified_after)
    return " AND ".join(clauses), params


def facet_value_sql(facet: Facet) -> tuple[str, list[Any]]:
    """The SQL expression of a source's (for metadata, a chunk's) value of ``facet`` over ``sources s``
    joined with ``chunks c``, and its parameters; NULL where it has none. The twin of the embedded
    store's (``indexer/stores/embedded/sql.py``): the folder as ``indexer.facets.folder_at`` cuts it."""
    if facet.field == "ext":
        return "(CASE WHEN s.kind = 'file' AND s.ext <> '' THEN s.ext END)", []
    if facet.field == "folder":
        base = "rtrim(s.root, '/')"
        rel = (f"(CASE WHEN {base} <> '' AND left(s.key, length({base}) + 1) = {base} || '/' "
               f"THEN substr(s.key, length({base}) + 2) ELSE ltrim(s.key, '/') END)")
        parts = f"string_to_array({rel}, '/')"
        return (f"(CASE WHEN s.kind = 'file' THEN COALESCE(NULLIF(array_to_string(({parts})"
                f"[1:LEAST(%s, cardinality({parts}) - 1)], '/'), ''), '.') END)", [facet.depth])
    if facet.field in ("year", "month"):
        modified = "(CASE WHEN s.kind = 'file' THEN s.mtime ELSE s.indexed_at END)"
        return (f"to_char(to_timestamp({modified}) AT TIME ZONE 'UTC', %s)",
                ["YYYY" if facet.field == "year" else "YYYY-MM"])
    got = "COALESCE(jsonb_strip_nulls(c.metadata) -> %s, s.metadata -> %s)"  # as filter_sql compares them
    return (f"(CASE WHEN jsonb_typeof({got}) IN ('string', 'number', 'boolean') THEN {got} END)",
            [facet.key] * 4)


def fold(term: int) -> int:
    return term % TERM_SPACE


def chunk_terms(text: str, analyzer: Analyzer | None) -> dict[int, float]:
    """Term id -> BM25 saturated term frequency of a chunk (``indexer/analysis/bm25.py``; ``analyzer``:
    its document's, None for a legacy collection)."""
    out: dict[int, float] = {}
    for t, w in zip(*document_vector(text, analyzer), strict=True):
        out[fold(t)] = out.get(fold(t), 0.0) + w
    return out


def query_terms(text: str, analyzer: Analyzer | None) -> list[int]:
    return list(dict.fromkeys(fold(t) for t in query_vector(text, analyzer)[0]))

