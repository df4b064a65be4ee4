"""Copies (duplicates) in the Qdrant store: a file with another file's content is a source point with no
chunks whose ``same_as`` names the canonical file (see ``SourceWrite.copy_of``).

The canonical's chunk points carry, for filters, the extensions and mtimes of the canonical and its copies
as lists in ``ext`` and ``modified`` (:func:`refresh_copies`). Replacing or deleting a canonical first
promotes its first copy by path that the write keeps (:func:`promote_copy`). A hit on a canonical names
its copies' paths (:func:`also_at`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qdrant_client import models

from indexer.stores.base import ALSO_AT_MAX, SourceWrite
from indexer.stores.qdrant.points import Points, _f, _h63, _m, source_point


def copies_of(store: Points, key: str, fields: Sequence[str]) -> list[dict[str, Any]]:
    """The source payloads of file ``key``'s copies, by path."""
    return sorted(store._scroll(_f(_m("type", "source"), _m("same_as", key)), ["key", *fields]),
                  key=lambda p: p["key"])


def promote_copy(store: Points, kind: str, key: str, leaving: set[str], refresh: set[str]) -> None:
    """Before source (kind, key) is replaced or deleted: if it is a canonical file with copies the
    write keeps (not in ``leaving``), the first by path takes its chunks (their sid, key and root are
    set to the copy's; same ids and gen) and the others point at it."""
    if kind != "file":
        return
    src = store._sources([(kind, key)]).get((kind, key))
    if src is None or src.get("same_as"):
        return
    copies = [c for c in copies_of(store, key, ["sid", "root"]) if c["key"] not in leaving]
    if not copies:
        return
    heir = copies[0]
    # The heir's source point first (its gen is the chunks'), then the chunks, then the other copies.
    heir_point = {**src, "sid": heir["sid"], "key": heir["key"], "root": heir["root"], "same_as": None,
                  **{f: h for f, h in store._sources([("file", heir["key"])]).get(("file", heir["key"]), {}).items()
                     if f in ("ext", "size", "mtime", "sha256", "indexed_at")}}
    store._call("upsert", store.alias, [models.PointStruct(id=source_point("file", heir["key"]), vector={},
                                                          payload=heir_point)], wait=True, what="promote a copy")
    store._call("set_payload", store.alias, {"sid": heir["sid"], "key": heir["key"], "root": heir["root"]},
                points=_f(_m("sid", src["sid"]), _m("type", "chunk")), wait=True, what="promote a copy")
    others = [source_point("file", c["key"]) for c in copies[1:]]
    if others:
        store._call("set_payload", store.alias, {"same_as": heir["key"]}, points=others, wait=True,
                    what="promote a copy")
    refresh.add(heir["key"])


def copy_point(store: Points, u: SourceWrite, writing: dict[str, SourceWrite], now: float) -> models.PointStruct:
    """The source point of copy ``u`` (see ``SourceWrite.copy_of``): its canonical is a file this write
    stores, or one stored (a copy's canonical if ``copy_of`` is itself a copy)."""
    assert u.copy_of is not None
    new = writing.get(u.copy_of)
    if new is not None:
        canonical, sha, partial, metadata = new.key, new.sha256, new.partial, new.metadata
    else:
        got = store._sources([("file", u.copy_of)], ["kind", "key", "sha256", "partial", "same_as", "metadata"])
        p = got.get(("file", u.copy_of), {})
        canonical, sha, partial = str(p.get("same_as") or u.copy_of), str(p.get("sha256")), bool(p.get("partial"))
        metadata = p.get("metadata", {})
    if sha != u.sha256 or partial:
        raise ValueError(f"{u.key}: no complete file {u.copy_of} with sha256 {u.sha256} to be a copy of")
    return models.PointStruct(id=source_point("file", u.key), vector={}, payload={
        "type": "source", "sid": _h63("file", u.key), "gen": 0, "kind": "file", "key": u.key, "root": u.root,
        "ext": u.ext, "size": u.size, "mtime": u.mtime, "sha256": u.sha256, "metadata": metadata, "text": None,
        "indexed_at": now, "partial": False, "chunks": 0, "same_as": canonical})


def refresh_copies(store: Points, key: str) -> None:
    """Set the ext and modified of canonical file ``key``'s chunks to its own and its copies' (lists
    when it has copies), so a filter on a copy's extension or mtime finds the content."""
    src = store._sources([("file", key)], ["kind", "key", "sid", "ext", "mtime", "same_as"]).get(("file", key))
    if src is None or src.get("same_as"):
        return
    copies = copies_of(store, key, ["ext", "mtime"])
    values: dict[str, Any] = {"ext": src["ext"], "modified": src["mtime"]}
    if copies:
        values = {"ext": [src["ext"], *sorted({c["ext"] for c in copies} - {src["ext"]})],  # its own first
                  "modified": [src["mtime"], *(c["mtime"] for c in copies)]}
    store._call("set_payload", store.alias, values, points=_f(_m("sid", src["sid"]), _m("type", "chunk")),
                wait=True, what="record copies")


def canonical_file(store: Points, sha256: str) -> str | None:
    keys = [p["key"] for p in store._scroll(_f(_m("type", "source"), _m("kind", "file"), _m("sha256", sha256)),
                                            ["key", "partial", "same_as"])
            if not p.get("partial") and not p.get("same_as")]
    return min(keys) if keys else None


def also_at(store: Points, files: Sequence[str]) -> dict[str, tuple[list[str], int]]:
    """Canonical file key -> (the first ``ALSO_AT_MAX`` of its copies' paths, by path; how many it has)."""
    also: dict[str, tuple[list[str], int]] = {}
    if files:
        copies = store._scroll(_f(_m("type", "source"), models.FieldCondition(
            key="same_as", match=models.MatchAny(any=list(files)))), ["key", "same_as"])
        for c in sorted(copies, key=lambda c: c["key"]):
            paths, n = also.get(c["same_as"], ([], 0))
            if len(paths) < ALSO_AT_MAX:
                paths.append(c["key"])
            also[c["same_as"]] = (paths, n + 1)
    return also
