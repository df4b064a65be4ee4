"""All of the embedded store's SQL that is not its schema: the WHERE fragment of a search's filters
(:func:`filter_sql`, with the SQL function it needs) and the FTS5 MATCH expression of a keyword
query (:func:`keyword_query`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from indexer.analysis.languages import Analyzer
from indexer.analysis.words import STOPWORDS, WORD
from indexer.facets import Facet, folder_at
from indexer.filters import Filters, glob_match


def filter_sql(filters: Filters) -> tuple[str, list[Any]]:
    """A WHERE fragment over ``sources s`` joined with ``chunks c``, and its parameters. ``InvalidInput``
    for filters that :meth:`Filters.check` refuses."""
    filters = filters.check()
    clauses: list[str] = []
    params: list[Any] = []
    if filters.path_glob:
        clauses.append("s.kind = 'file' AND path_glob(?, s.key, s.root)")
        params.append(filters.path_glob)
    if filters.ext:
        clauses.append(f"s.ext IN ({','.join('?' * len(filters.ext))})")
        params.extend(filters.ext)
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
        clauses.append("(CASE WHEN s.kind = 'file' THEN s.mtime ELSE s.indexed_at END) > ?")
        params.append(filters.modified_after)
    return (" AND ".join(clauses) or "1"), params


def path_glob_sql(pattern: str, path: str, root: str) -> int:
    """``path_glob(pattern, key, root)`` as the catalog registers it for :func:`filter_sql`."""
    return int(glob_match(pattern, path, root))


def facet_value_sql(facet: Facet) -> tuple[str, list[Any]]:
    """The SQL expression of a source's (or, for metadata, a chunk's) value of ``facet``, over ``sources s``
    joined with ``chunks c``, and its parameters; NULL where it has none. Metadata values are JSON text
    (``"a"``, ``3``, ``true``), so a boolean stays a boolean."""
    modified = "(CASE WHEN s.kind = 'file' THEN s.mtime ELSE s.indexed_at END)"
    if facet.field == "ext":
        return "(CASE WHEN s.kind = 'file' AND s.ext <> '' THEN s.ext END)", []
    if facet.field == "folder":
        return "(CASE WHEN s.kind = 'file' THEN folder_at(s.key, s.root, ?) END)", [facet.depth]
    if facet.field in ("year", "month"):
        return f"strftime(?, {modified}, 'unixepoch')", ["%Y" if facet.field == "year" else "%Y-%m"]
    path = '$."' + facet.key + '"'
    # The chunk's own value first, then its source's, as filter_sql compares them (most chunks have no
    # metadata of their own: '{}' is skipped without parsing). Lists and objects are left out by facet_sql.
    return ("(CASE WHEN c.metadata <> '{}' AND json_extract(c.metadata, ?) IS NOT NULL THEN c.metadata -> ? "
            "ELSE s.metadata -> ? END)", [path] * 3)


def facet_sql(facet: Facet, filters: Filters, sources: Sequence[int] | None) -> tuple[str, list[Any]]:
    """``SELECT value, sources`` per value of ``facet`` over the sources that match ``filters`` (and are
    among ``sources``, when given): distinct sources per value, so a source with many chunks counts once."""
    value, vparams = facet_value_sql(facet)
    where, wparams = filter_sql(filters)
    within = ""
    if sources is not None:
        within = f" AND s.id IN ({','.join('?' * len(sources))})" if sources else " AND 0"
    matching = f"FROM chunks c JOIN sources s ON s.id = c.source_id WHERE {where}{within}"
    if facet.field != "metadata":  # a source's own value: computed once per source, not once per chunk
        return (f"SELECT v, count(*) FROM (SELECT {value} AS v FROM sources s WHERE s.id IN "
                f"(SELECT c.source_id {matching})) WHERE v IS NOT NULL GROUP BY v",
                [*vparams, *wparams, *(sources or ())])
    return (f"SELECT v, count(*) FROM (SELECT DISTINCT s.id, {value} AS v {matching}) WHERE v IS NOT NULL "
            "AND json_type(v) IN ('text', 'integer', 'real', 'true', 'false') GROUP BY v",
            [*vparams, *wparams, *(sources or ())])


def facet_total_sql(filters: Filters, sources: Sequence[int] | None) -> tuple[str, list[Any]]:
    """How many sources match ``filters`` (among ``sources``, when given)."""
    where, params = filter_sql(filters)
    within = ""
    if sources is not None:
        within = f" AND s.id IN ({','.join('?' * len(sources))})" if sources else " AND 0"
    return (f"SELECT count(DISTINCT s.id) FROM chunks c JOIN sources s ON s.id = c.source_id WHERE {where}{within}",
            [*params, *(sources or ())])


# What filter_sql and facet_sql need registered on the connection.
SQL_FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "path_glob": (3, path_glob_sql), "folder_at": (3, folder_at)}


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
