"""The Postgres store's translations: a search's filters into one WHERE fragment (:func:`filter_sql`),
a path glob into a POSIX regular expression, and the BM25 terms of a text into term ids."""

from __future__ import annotations

import json
from typing import Any

from indexer.analysis.bm25 import document_vector, query_vector
from indexer.analysis.languages import Analyzer
from indexer.facets import Facet
from indexer.filters import EVERYTHING, Cond, Filters, glob_regex
from indexer.stores.postgres.schema import TERM_SPACE
from indexer.stores.sql_filters import COLUMNS, SQL_OPS, tree_sql


def glob_posix(pattern: str) -> str:
    """The project's glob (``indexer.filters.glob_regex``: ``*``, ``?``, ``[...]``, ``**``) as a Postgres
    regular expression: the same translation, anchored, with Python's ``\\Z`` as ``$``. Python escapes
    only punctuation (``re.escape``), which Postgres's ARE syntax reads as the literal character too."""
    source = glob_regex(pattern).pattern
    assert source.endswith(r"\Z")
    return "^" + source[:-2] + "$"


def filter_sql(filters: Filters, sources: str) -> tuple[str, list[Any]]:
    """A WHERE fragment over ``sources s`` joined with ``chunks c`` and its parameters (``%s``), or
    ``("", [])`` when nothing is restricted: the checked tree of ``filters`` (``Filters.tree``;
    ``InvalidInput`` for what it refuses) with the meaning of ``indexer.filters.matches``. Every
    fragment is true or false, never NULL, so ``NOT`` holds. ``sources``: the collection's sources table
    (a copy's path, extension and mtime match for its content)."""
    tree = filters.tree()
    if tree == EVERYTHING:
        return "", []
    params: list[Any] = []
    return tree_sql(tree, params, true="true", source=_source_sql, metadata=_metadata_sql, sources=sources), params


_RELATIVE = ("(CASE WHEN s.root <> '' AND left(s.key, length(rtrim(s.root, '/')) + 1) = rtrim(s.root, '/') || '/' "
             "THEN substr(s.key, length(rtrim(s.root, '/')) + 2) ELSE s.key END)")


def _source_sql(c: Cond, params: list[Any]) -> str:
    """A condition on a built-in field of one source row ``s``."""
    col = COLUMNS[c.field]
    if c.op == "glob":
        # Absolute patterns match the whole path; relative ones the path below the indexed folder.
        params.append(glob_posix(c.value))
        return f"(s.kind = 'file' AND {'s.key' if c.value.startswith('/') else _RELATIVE} ~ %s)"
    if c.op == "exists":  # built-ins always have a value
        return "true" if c.value else "false"
    if c.op in ("in", "nin"):
        params.append(list(c.value))
        return f"({'NOT ' if c.op == 'nin' else ''}{col} = ANY(%s))"
    params.append(c.value)
    return f"({col} <> %s)" if c.op == "ne" else f"({col} {SQL_OPS[c.op]} %s)"


def _metadata_sql(c: Cond, key: str, params: list[Any]) -> str:
    """A metadata condition on the key's value ``g`` (jsonb): equality by jsonb's typed ``=`` (true is not
    1; 1 is 1.0) and, for a list, containment (``@>``, which the GIN-less scan still answers without
    unnesting); ranges compare numbers, a list's element by element. NULL (a missing key) reads false."""
    # A chunk's own metadata (its page, slide, message) first, then its file's or document's; a JSON
    # null in a chunk's counts as missing, as in the embedded store.
    def g() -> str:
        params.extend([key, key])
        return "COALESCE(jsonb_strip_nulls(c.metadata) -> %s, s.metadata -> %s)"

    if c.op == "exists":
        sql = f"COALESCE({g()} NOT IN ('null'::jsonb, '[]'::jsonb), false)"
        return sql if c.value else f"(NOT {sql})"
    if c.op in ("eq", "ne", "contains", "in", "nin"):
        parts = []
        for x in (c.value if c.op in ("in", "nin") else (c.value,)):
            value = g()
            params.append(json.dumps(x))
            array = g()
            params.append(json.dumps([x]))
            parts.append(f"{value} = %s::jsonb OR {array} @> %s::jsonb")
        sql = f"COALESCE({' OR '.join(parts)}, false)"
        return f"(NOT {sql})" if c.op in ("ne", "nin") else sql
    op = SQL_OPS[c.op]
    typeof, number = g(), g()
    params.append(c.value)
    listed = g()
    params.append(c.value)
    return (f"(CASE jsonb_typeof({typeof}) WHEN 'number' THEN ({number})::numeric {op} %s WHEN 'array' THEN "
            f"EXISTS (SELECT 1 FROM jsonb_array_elements({listed}) AS e(v) "
            f"WHERE CASE WHEN jsonb_typeof(e.v) = 'number' THEN (e.v)::numeric {op} %s ELSE false END) "
            "ELSE false END)")


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

