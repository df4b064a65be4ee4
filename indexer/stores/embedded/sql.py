"""All of the embedded store's SQL that is not its schema: the WHERE fragment of a search's filters
(:func:`filter_sql`, with the SQL function it needs) and the FTS5 MATCH expression of a keyword
query (:func:`keyword_query`)."""

from __future__ import annotations

from typing import Any

from indexer.analysis.languages import Analyzer
from indexer.analysis.words import STOPWORDS, WORD
from indexer.filters import And, Cond, Filters, Node, Not, Or, glob_match, metadata_key


def filter_sql(filters: Filters) -> tuple[str, list[Any]]:
    """A WHERE fragment over ``sources s`` joined with ``chunks c``, and its parameters: the checked
    tree of ``filters`` (``Filters.tree``; ``InvalidInput`` for what it refuses), with the meaning of
    ``indexer.filters.matches``. Every fragment is true or false, never NULL, so ``NOT`` holds."""
    params: list[Any] = []
    return _node_sql(filters.tree(), params), params


_COLUMNS = {"path": "s.key", "ext": "s.ext", "kind": "s.kind", "size": "s.size",
            "modified": "(CASE WHEN s.kind = 'file' THEN s.mtime ELSE s.indexed_at END)"}
_SQL_OPS = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _node_sql(node: Node, params: list[Any]) -> str:
    if isinstance(node, And):
        return "(" + " AND ".join(_node_sql(n, params) for n in node.items) + ")" if node.items else "1"
    if isinstance(node, Or):
        return "(" + " OR ".join(_node_sql(n, params) for n in node.items) + ")"
    if isinstance(node, Not):
        return f"(NOT {_node_sql(node.item, params)})"
    key = metadata_key(node.field)
    if key is None:
        return _builtin_sql(node, params)
    return _metadata_sql(node, key, params)


def _builtin_sql(c: Cond, params: list[Any]) -> str:
    col = _COLUMNS[c.field]
    if c.op == "glob":
        params.append(c.value)
        return "(s.kind = 'file' AND path_glob(?, s.key, s.root))"
    if c.op == "exists":  # built-ins always have a value
        return "1" if c.value else "0"
    if c.op in ("in", "nin"):
        params.extend(c.value)
        return f"({col} {'NOT ' if c.op == 'nin' else ''}IN ({','.join('?' * len(c.value))}))"
    params.append(c.value)
    return f"({col} <> ?)" if c.op == "ne" else f"({col} {_SQL_OPS[c.op]} ?)"


def _element_sql(op: str, x: Any, params: list[Any]) -> str:
    """One JSON element ``e`` (a row of json_each) against ``x``: typed, booleans are not numbers."""
    if op in ("in", "nin"):
        return "(" + " OR ".join(_element_sql("eq", y, params) for y in x) + ")"
    if isinstance(x, bool):
        return f"e.type = '{'true' if x else 'false'}'"
    params.append(x)
    if isinstance(x, str):
        return "(e.type = 'text' AND e.value = ?)"
    return f"(e.type IN ('integer', 'real') AND e.value {_SQL_OPS['eq' if op in ('ne', 'contains') else op]} ?)"


def _metadata_sql(c: Cond, key: str, params: list[Any]) -> str:
    path = '$."' + key + '"'
    # A chunk's own metadata (its page, slide, message) first, then its file's or document's.
    doc = "(CASE WHEN COALESCE(json_type(c.metadata, ?), 'null') <> 'null' THEN c.metadata ELSE s.metadata END)"
    if c.op == "exists":
        params.extend([path, path, path, path, path, path])
        sql = (f"(COALESCE(json_type({doc}, ?), 'null') <> 'null' AND "
               f"NOT (json_type({doc}, ?) = 'array' AND json_array_length({doc}, ?) = 0))")
        return sql if c.value else f"(NOT {sql})"
    # Each element of a list (json_each yields a scalar itself as one row; an object's members, whose
    # keys are text, are left out: an object equals no scalar).
    params.extend([path, path])
    sql = f"EXISTS (SELECT 1 FROM json_each({doc}, ?) e WHERE typeof(e.key) <> 'text' AND {{}})"
    sql = sql.format(_element_sql(c.op, c.value, params))
    return f"(NOT {sql})" if c.op in ("ne", "nin") else sql


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
