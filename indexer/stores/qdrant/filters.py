"""The Qdrant store's translation of a search's filters (``Filters.tree``) into Qdrant's own filter
conditions, with the meaning of ``indexer.filters.matches``.

Chunk points carry ``kind``, ``key`` (the path or id), ``ext``, ``modified`` and ``meta`` (the chunk's
metadata over its source's), so most conditions are payload conditions Qdrant applies inside its search.
Two are not expressible on a chunk's payload: a path glob (Qdrant has no pattern match) and ``size``
(kept on the source point only). Each such condition is answered first over the source points (one per
file or document, not per chunk) and becomes ``sid`` in the matching sources: still a condition of the
search itself, so a filtered search returns its true top-k, not a filtered top-k.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qdrant_client import models

from indexer.filters import EVERYTHING, And, Cond, Filters, Node, Not, Or, matches, metadata_key
from indexer.stores.qdrant.points import Points, _f, _h63, _m

_PAYLOAD = {"path": "key", "ext": "ext", "kind": "kind", "modified": "modified"}
NOTHING = models.Filter(must_not=[_m("type", "chunk")])  # a search only ever meets chunk points
ALL = models.Filter(must=[_m("type", "chunk")])


def filter_conditions(tree: Node, source_ids: Callable[[Cond], list[int]]) -> models.Filter | None:
    """A Qdrant filter for ``tree`` (None: every chunk). ``source_ids(cond)``: the ``sid`` of the sources
    a condition on a glob or a size holds for (the store scans its source points)."""
    if tree == EVERYTHING:
        return None
    got = _node(tree, source_ids)
    return got if isinstance(got, models.Filter) else models.Filter(must=[got])


def chunk_filter(store: Points, filters: Filters) -> models.Filter | None:
    """The Qdrant filter for ``filters`` (None: every chunk).

    No ``type == chunk`` condition: a search names a vector (``dense`` or ``keyword``) and only
    chunk points have vectors, so source and meta points never come back. Without a condition,
    an unfiltered search is a plain vector search: local mode evaluates a filter point by point in
    Python (~50 us a point, most of a query's time on SciFact), and a server skips the payload index."""
    return filter_conditions(filters.tree(), lambda cond: _source_ids(store, cond))


def _source_ids(store: Points, cond: Cond) -> list[int]:
    """The sources a condition Qdrant cannot put on a chunk (a glob, a size) holds for, by a scan
    of the source points (one per file or document) with the reference reading of the condition.
    A copy that matches stands for its canonical file (whose chunks it shares)."""
    fields = ["sid", "kind", "key", "root", "ext", "size", "mtime", "indexed_at", "same_as"]
    scope = _f(_m("type", "source"), *([_m("kind", "file")] if cond.op == "glob" else []))  # a glob: files only
    return [_h63("file", p["same_as"]) if p.get("same_as") else p["sid"] for p in store._scroll(scope, fields)
            if matches(cond, {**p, "path": p["key"], "metadata": {},
                              "modified": p["mtime"] if p["kind"] == "file" else p["indexed_at"]})]


def _node(node: Node, source_ids: Callable[[Cond], list[int]]) -> Any:
    if isinstance(node, And):
        return models.Filter(must=[_node(n, source_ids) for n in node.items]) if node.items else ALL
    if isinstance(node, Or):
        return models.Filter(should=[_node(n, source_ids) for n in node.items])
    if isinstance(node, Not):
        return models.Filter(must_not=[_node(node.item, source_ids)])
    key = metadata_key(node.field)
    if key is None and node.field not in _PAYLOAD or node.op == "glob":
        sids = source_ids(node)
        return models.FieldCondition(key="sid", match=models.MatchAny(any=sids)) if sids else NOTHING
    field = _PAYLOAD[node.field] if key is None else f"meta.{key}"
    op, x = node.op, node.value
    if op == "exists":
        if key is None:  # a built-in always has a value
            return ALL if x else NOTHING
        empty = models.IsEmptyCondition(is_empty=models.PayloadField(key=field))
        return models.Filter(must_not=[empty]) if x else empty
    if op in ("ne", "nin"):
        return models.Filter(must_not=[_values(field, "in", x if op == "nin" else (x,))])
    if op in ("eq", "contains", "in"):
        return _values(field, "in", x if op == "in" else (x,))
    return models.FieldCondition(key=field, range=models.Range(**{op: x}))


def _values(field: str, op: str, values: tuple[Any, ...]) -> Any:
    """Any of ``values``: strings as one MatchAny, booleans each a MatchValue, numbers each an exact
    Range (a MatchValue of 3 would miss a stored 3.0, and a Range skips booleans)."""
    strings = [v for v in values if isinstance(v, str)]
    conds: list[Any] = [models.FieldCondition(key=field, match=models.MatchAny(any=strings))] if strings else []
    for v in values:
        if isinstance(v, bool):
            conds.append(models.FieldCondition(key=field, match=models.MatchValue(value=v)))
        elif not isinstance(v, str):
            conds.append(models.FieldCondition(key=field, range=models.Range(gte=v, lte=v)))
    return conds[0] if len(conds) == 1 else models.Filter(should=conds)
