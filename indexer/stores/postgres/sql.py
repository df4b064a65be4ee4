"""The Postgres store's translations: a search's filters into one WHERE fragment (:func:`filter_sql`),
a path glob into a POSIX regular expression, and the BM25 terms of a text into term ids."""

from __future__ import annotations

import json
from typing import Any

from indexer.analysis.bm25 import document_vector, query_vector
from indexer.analysis.languages import Analyzer
from indexer.filters import Filters, glob_regex
from indexer.stores.postgres.schema import TERM_SPACE


def glob_posix(pattern: str) -> str:
    """The project's glob (``indexer.filters.glob_regex``: ``*``, ``?``, ``[...]``, ``**``) as a Postgres
    regular expression: the same translation, anchored, with Python's ``\\Z`` as ``$``. Python escapes
    only punctuation (``re.escape``), which Postgres's ARE syntax reads as the literal character too."""
    source = glob_regex(pattern).pattern
    assert source.endswith(r"\Z")
    return "^" + source[:-2] + "$"


def filter_sql(filters: Filters, sources: str = "sources") -> tuple[str, list[Any]]:
    """A WHERE fragment over ``sources s`` joined with ``chunks c`` and its parameters (``%s``), or
    ``("", [])`` when nothing is restricted. ``InvalidInput`` for filters :meth:`Filters.check` refuses.
    ``sources``: the collection's sources table (a copy's path, extension and mtime match for its content)."""
    filters = filters.check()
    clauses: list[str] = []
    params: list[Any] = []
    if filters.path_glob:
        # Absolute patterns match the whole path; relative ones the path below the indexed folder.
        if filters.path_glob.startswith("/"):
            path = "s.kind = 'file' AND s.key ~ %s"
        else:
            path = ("s.kind = 'file' AND (CASE WHEN s.root <> '' AND left(s.key, length(rtrim(s.root, '/')) + 1)"
                    " = rtrim(s.root, '/') || '/' THEN substr(s.key, length(rtrim(s.root, '/')) + 2) "
                    "ELSE s.key END) ~ %s")
        _or_copies(clauses, params, sources, path, [glob_posix(filters.path_glob)])
    if filters.ext:
        _or_copies(clauses, params, sources, "s.ext = ANY(%s)", [list(filters.ext)])
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
        _or_copies(clauses, params, sources, "(CASE WHEN s.kind = 'file' THEN s.mtime ELSE s.indexed_at END) > %s",
                   [filters.modified_after])
    return " AND ".join(clauses), params


def _or_copies(clauses: list[str], params: list[Any], sources: str, clause: str, values: list[Any]) -> None:
    """Add ``clause`` over ``sources s`` as matched by the source or by any of its copies (``same_as``):
    one uncorrelated subquery of source ids, evaluated once (as the embedded store's, where a correlated
    EXISTS per chunk cost 30x more: ``benchmarks/duplicates.py``)."""
    clauses.append(f"s.id IN (SELECT s.id FROM {sources} s WHERE {clause} UNION ALL "
                   f"SELECT s.same_as FROM {sources} s WHERE s.same_as IS NOT NULL AND {clause})")
    params.extend([*values, *values])


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

