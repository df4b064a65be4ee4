"""What the two SQL stores (embedded SQLite, Postgres) share when they translate a filter tree
(``indexer.filters``) into a WHERE fragment over ``sources s`` joined with ``chunks c``: the walk of
``$and``/``$or``/``$not``, the built-in fields' columns, and the rule that a copy's own path, extension
and mtime match for its content. Each store supplies only its dialect: the literal for true, how a
condition on one source's field or on a metadata key is written, and its placeholders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from indexer.filters import And, Cond, Node, Not, Or, metadata_key

COLUMNS = {"path": "s.key", "ext": "s.ext", "kind": "s.kind", "size": "s.size",
           "modified": "(CASE WHEN s.kind = 'file' THEN s.mtime ELSE s.indexed_at END)"}
SQL_OPS = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
# What a copy has of its own (``sources.same_as``: the same content at another path); its size, kind and
# metadata are its content's.
COPY_FIELDS = ("path", "ext", "modified")

Leaf = Callable[[Cond, list[Any]], str]


def tree_sql(node: Node, params: list[Any], *, true: str, source: Leaf,
             metadata: Callable[[Cond, str, list[Any]], str], sources: str = "sources") -> str:
    """``node`` as SQL, its parameters appended to ``params`` in order. ``source(cond, params)``: a
    condition on a built-in field of one source row ``s``; ``metadata(cond, key, params)``: on a metadata
    key; ``true``: the dialect's literal for an empty ``$and``; ``sources``: the sources table."""
    def walk(n: Node) -> str:
        if isinstance(n, And):
            return "(" + " AND ".join(walk(i) for i in n.items) + ")" if n.items else true
        if isinstance(n, Or):
            return "(" + " OR ".join(walk(i) for i in n.items) + ")"
        if isinstance(n, Not):
            return f"(NOT {walk(n.item)})"
        key = metadata_key(n.field)
        if key is None:
            return _or_copies(n, params, source, sources)
        return metadata(n, key, params)

    return walk(node)


def _or_copies(c: Cond, params: list[Any], source: Leaf, sources: str) -> str:
    """A condition on a built-in field; on a copy's own fields, matched by the source or any of its
    copies (a list of paths matches when one does, like any list). The ids are one uncorrelated
    subquery, evaluated once (a correlated EXISTS per chunk cost 30x more for an extension filter in the
    embedded store: ``benchmarks/duplicates.py``)."""
    if c.field not in COPY_FIELDS or c.op == "exists":
        return source(c, params)
    own: list[Any] = []
    clause = source(c, own)
    params.extend([*own, *own])
    return (f"(s.id IN (SELECT s.id FROM {sources} s WHERE {clause} UNION ALL "
            f"SELECT s.same_as FROM {sources} s WHERE s.same_as IS NOT NULL AND {clause}))")
