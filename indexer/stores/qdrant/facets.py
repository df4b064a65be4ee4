"""Facets and sort keys in the Qdrant store: counted over scrolls of the source or chunk points (with the
``gen`` rule of ``store.py``: only a source's visible version counts), and a source's sort key (its
modification time or, for a document, when it was indexed; then its key).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from qdrant_client import models

from indexer.facets import Facet, FacetCounts, folder_at, ranked
from indexer.filters import Filters
from indexer.stores.qdrant.filters import chunk_filter
from indexer.stores.qdrant.points import Points, _f, _m


def source_sort_keys(store: Points, ids: Sequence[int]) -> dict[int, tuple[float, str]]:
    if not ids:
        return {}
    sids = models.FieldCondition(key="sid", match=models.MatchAny(any=[int(i) for i in ids]))
    flt = _f(_m("type", "source"), sids)
    return {int(p["sid"]): (float(p["mtime"] if p["kind"] == "file" else p["indexed_at"]), p["key"])
            for p in store._scroll(flt, ["sid", "kind", "key", "mtime", "indexed_at"])}


def facet_counts(store: Points, facet: Facet, filters: Filters, sources: Sequence[int] | None = None) -> FacetCounts:
    """Counted here, over a scroll of the matching source points (when only source-level fields are
    asked and filtered) or chunk points: Qdrant's facet API counts points (chunks), needs a payload
    index per field and cannot cut a folder out of a path."""
    flt = chunk_filter(store, filters)
    if sources is not None and not sources:
        return FacetCounts(facet.name)
    within = [] if sources is None else [
        models.FieldCondition(key="sid", match=models.MatchAny(any=[int(i) for i in sources]))]
    if facet.field != "metadata" and not filters.metadata and filters.modified_after is None \
            and filters.where is None:
        # Only source-level conditions (ext, the glob's sids): count the source points, a tenth of
        # the chunks or less (local mode reads every point it scrolls in Python). A ``where`` is written
        # for chunk points (their payload), so it takes the chunk scroll below.
        by_value: Counter[str] = Counter()
        total = 0
        for p in store._scroll(_f(_m("type", "source"), *([flt] if flt is not None else []), *within),
                              ["sid", "kind", "key", "root", "ext", "mtime", "indexed_at", "chunks"]):
            if not p.get("chunks"):  # no chunk to match, as in the chunk scroll below and the SQL stores
                continue
            total += 1
            value = facet_value(facet, {**p, "modified": p["mtime"] if p["kind"] == "file" else p["indexed_at"]})
            if value is not None:
                by_value[json.dumps(value)] += 1
        return FacetCounts(facet.name, ranked([(json.loads(v), n) for v, n in by_value.items()], facet.top), total)
    conds: list[Any] = [_m("type", "chunk"), *([flt] if flt is not None else []), *within]
    seen: dict[int, tuple[str, str, int]] = {}  # sid -> (kind, key, gen) of the first chunk seen
    values: dict[tuple[int, int], set[str]] = {}  # (sid, gen) -> the JSON text of its values
    for p in store._scroll(_f(*conds), ["sid", "gen", "kind", "key", "root", "ext", "modified", "meta"]):
        sid, gen = int(p["sid"]), int(p["gen"])
        seen.setdefault(sid, (p["kind"], p["key"], gen))
        got = values.setdefault((sid, gen), set())
        value = facet_value(facet, p)
        if value is not None:
            got.add(json.dumps(value))
    current = store._sources([(kind, key) for kind, key, _ in seen.values()], ["kind", "key", "sid", "gen"])
    gens = {int(p["sid"]): int(p["gen"]) for p in current.values()}
    counts: Counter[str] = Counter()
    total = 0
    for (sid, gen), vals in values.items():
        if gens.get(sid) == gen:  # a visible version of its source (the gen rule)
            total += 1
            counts.update(vals)
    return FacetCounts(facet.name, ranked([(json.loads(v), n) for v, n in counts.items()], facet.top), total)


def facet_value(facet: Facet, p: dict[str, Any]) -> Any:
    """A chunk point's value of ``facet`` (None: it has none), as the SQL stores compute it: a file with
    copies lists their ext and modified after its own (``copies.refresh_copies``), and counts by its own."""
    p = {**p, **{k: p[k][0] for k in ("ext", "modified") if isinstance(p.get(k), list) and p[k]}}
    if facet.field == "ext":
        return p.get("ext") or None if p["kind"] == "file" else None
    if facet.field == "folder":
        return folder_at(p["key"], p.get("root") or "", facet.depth) if p["kind"] == "file" else None
    if facet.field in ("year", "month"):
        when = datetime.fromtimestamp(float(p["modified"]), tz=timezone.utc)
        return when.strftime("%Y" if facet.field == "year" else "%Y-%m")
    value = (p.get("meta") or {}).get(facet.key)
    return value if isinstance(value, (str, int, float, bool)) else None
