"""All of the embedded store's SQL that is not its schema: the WHERE fragment of a search's filters
(:func:`filter_sql`, with the SQL function it needs) and the FTS5 MATCH expression of a keyword
query (:func:`keyword_query`)."""

from __future__ import annotations

from typing import Any

from indexer.analysis.languages import Analyzer
from indexer.analysis.words import STOPWORDS, WORD
from indexer.filters import Filters, glob_match


def filter_sql(filters: Filters) -> tuple[str, list[Any]]:
    """A WHERE fragment over ``sources s`` joined with ``chunks c``, and its parameters. ``InvalidInput``
    for filters that :meth:`Filters.check` refuses."""
    filters = filters.check()
    clauses: list[str] = []
    params: list[Any] = []
    if filters.path_glob:
        _or_copies(clauses, params, "s.kind = 'file' AND path_glob(?, s.key, s.root)", [filters.path_glob])
    if filters.ext:
        _or_copies(clauses, params, f"s.ext IN ({','.join('?' * len(filters.ext))})", list(filters.ext))
    for key, value in filters.metadata.items():
        path = '$."' + key + '"'
        # A chunk's own metadata (its page, slide, message) first, then its file's or document's.
        value_sql = "COALESCE(json_extract(c.metadata, ?), json_extract(s.metadata, ?))"
        if value is None:
            clauses.append(f"{value_sql} IS NULL")
            params.extend([path, path])
        else:
            clauses.append(f"{value_sql} = ?")
            params.extend([path, path, int(value) if isinstance(value, bool) else value])
    if filters.modified_after is not None:
        _or_copies(clauses, params, "(CASE WHEN s.kind = 'file' THEN s.mtime ELSE s.indexed_at END) > ?",
                   [filters.modified_after])
    return (" AND ".join(clauses) or "1"), params


def _or_copies(clauses: list[str], params: list[Any], clause: str, values: list[Any]) -> None:
    """Add ``clause`` over ``sources s`` as matched by the source or by any of its copies (same content
    at other paths, ``sources.same_as``): a copy's path, extension and mtime stay filterable. The ids are
    one uncorrelated subquery, which SQLite evaluates once (a correlated EXISTS per chunk cost 30x more
    for an extension filter: ``benchmarks/duplicates.py``)."""
    clauses.append(f"s.id IN (SELECT s.id FROM sources s WHERE {clause} UNION ALL "
                   f"SELECT s.same_as FROM sources s WHERE s.same_as IS NOT NULL AND {clause})")
    params.extend([*values, *values])


def path_glob_sql(pattern: str, path: str, root: str) -> int:
    """``path_glob(pattern, key, root)`` as the catalog registers it for :func:`filter_sql`."""
    return int(glob_match(pattern, path, root))


SQL_FUNCTIONS = {"path_glob": (3, path_glob_sql)}  # what filter_sql needs registered on the connection


def keyword_query(text: str, analyzer: Analyzer | None) -> str | None:
    """FTS5 MATCH expression: the query's terms (``analyzer``'s; None: a legacy catalog's words, which
    FTS5's porter tokenizer stems), quoted (so no FTS syntax leaks in), OR-ed."""
    if analyzer is not None:
        words = analyzer.query_terms(text)
    else:
        words = [w for w in WORD.findall(text.lower()) if w not in STOPWORDS] or WORD.findall(text.lower())
    if not words:
        return None
    return " OR ".join('"' + w.replace('"', "") + '"' for w in dict.fromkeys(words))
