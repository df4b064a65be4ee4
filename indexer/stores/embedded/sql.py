"""All of the embedded store's SQL that is not its schema: the WHERE fragment of a search's filters
(:func:`filter_sql`, with the SQL function it needs) and the FTS5 MATCH expression of a keyword
query (:func:`keyword_query`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from indexer.analysis.languages import Analyzer
from indexer.analysis.words import STOPWORDS, WORD
from indexer.facets import Facet, folder_at
from indexer.filters import Cond, Filters, glob_match
from indexer.stores.sql_filters import COLUMNS, SQL_OPS, tree_sql


def filter_sql(filters: Filters) -> tuple[str, list[Any]]:
    """A WHERE fragment over ``sources s`` joined with ``chunks c``, and its parameters: the checked
    tree of ``filters`` (``Filters.tree``; ``InvalidInput`` for what it refuses), with the meaning of
    ``indexer.filters.matches``. Every fragment is true or false, never NULL, so ``NOT`` holds."""
    params: list[Any] = []
    return tree_sql(filters.tree(), params, true="1", source=_source_sql, metadata=_metadata_sql), params


def _source_sql(c: Cond, params: list[Any]) -> str:
    """A condition on a built-in field of one source row ``s``."""
    col = COLUMNS[c.field]
    if c.op == "glob":
        params.append(c.value)
        return "(s.kind = 'file' AND path_glob(?, s.key, s.root))"
    if c.op == "exists":  # built-ins always have a value
        return "1" if c.value else "0"
    if c.op in ("in", "nin"):
        params.extend(c.value)
        return f"({col} {'NOT ' if c.op == 'nin' else ''}IN ({','.join('?' * len(c.value))}))"
    params.append(c.value)
    return f"({col} <> ?)" if c.op == "ne" else f"({col} {SQL_OPS[c.op]} ?)"


def _value_sql(op: str, x: Any, params: list[Any], v: Callable[[], str], t: Callable[[], str]) -> str:
    """A JSON value ``v()`` of type ``t()`` (json_type's names) against ``x``: typed, booleans are not
    numbers. ``v`` and ``t`` add their own parameters, so each is called where its SQL goes."""
    if op in ("in", "nin"):
        return "(" + " OR ".join(_value_sql("eq", y, params, v, t) for y in x) + ")"
    if isinstance(x, bool):
        return f"{t()} = '{'true' if x else 'false'}'"
    value = v()
    params.append(x)
    if isinstance(x, str):
        return f"({value} = ? AND {t()} = 'text')"
    return f"({value} {SQL_OPS['eq' if op in ('ne', 'contains') else op]} ? AND {t()} IN ('integer', 'real'))"


# The metadata a key is read from: a chunk's own (its page, slide, message) when it has the key, else its
# file's or document's. Most chunks have none ('{}'): comparing the text first spares parsing it.
_DOC = "(CASE WHEN c.metadata <> '{}' AND COALESCE(json_type(c.metadata, ?), 'null') <> 'null' " \
       "THEN c.metadata ELSE s.metadata END)"


def _metadata_sql(c: Cond, key: str, params: list[Any]) -> str:
    """A metadata condition on the key's value and type, searching a list element by element (json_each)
    only when the value is one. Inline, not a subquery reading the value once: SQLite runs a correlated
    subquery per row. An equality over 100k chunks (/tmp script, 2 loaded cores): json_each over every
    value 656 ms, a subquery 530 ms, this 460 ms; the former typeless ``json_extract(...) = ?`` (which
    took true for 1 and missed list elements) 255 ms."""
    path = '$."' + key + '"'

    def read(fn: str) -> Callable[[], str]:
        def sql() -> str:
            params.extend([path, path])
            return f"{fn}({_DOC}, ?)"
        return sql

    v, t = read("json_extract"), read("json_type")
    if c.op == "exists":
        sql = f"(COALESCE({t()}, 'null') <> 'null' AND NOT ({t()} = 'array' AND {v()} = '[]'))"
        return sql if c.value else f"(NOT {sql})"
    scalar = _value_sql(c.op, c.value, params, v, t)
    array = f"{t()} = 'array' AND EXISTS (SELECT 1 FROM json_each({v()}) e WHERE "
    element = _value_sql(c.op, c.value, params, lambda: "e.value", lambda: "e.type")
    # CASE: a missing key reads NULL, here false (so NOT holds); and a CASE condition short-circuits
    # (COALESCE's argument would not, running json_each over a string)
    sql = f"(CASE WHEN {scalar} OR ({array}{element})) THEN 1 ELSE 0 END)"
    return f"(NOT {sql})" if c.op in ("ne", "nin") else sql


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
