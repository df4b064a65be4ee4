"""The catalog's reads that the Store interface answers (see ``indexer.stores.base``): the sources a
folder sync compares against, the listing of documents and files, one stored source, the map's rows.

Functions over one of the catalog's reader connections (``Catalog.reader``); the reads a search makes
inside its snapshot, and those that build the vector index, stay on :class:`Catalog`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np

from indexer.stores.base import SourceRow, StoredSource


def file_states(con: sqlite3.Connection, prefix: str) -> dict[str, tuple[int, float, str, bool]]:
    rows = con.execute(
        "SELECT key, size, mtime, sha256, partial FROM sources WHERE kind='file' AND substr(key, 1, ?) = ?",
        (len(prefix), prefix))
    return {key: (size, mtime, sha, bool(partial)) for key, size, mtime, sha, partial in rows}


def has_source(con: sqlite3.Connection, kind: str, key: str) -> bool:
    return con.execute("SELECT 1 FROM sources WHERE kind=? AND key=?", (kind, key)).fetchone() is not None


def source_hashes(con: sqlite3.Connection, kind: str, keys: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i in range(0, len(keys), 900):
        part = list(keys[i : i + 900])
        out.update(con.execute(
            f"SELECT key, sha256 FROM sources WHERE kind=? AND key IN ({','.join('?' * len(part))})",
            [kind, *part]).fetchall())
    return out


def source_keys(con: sqlite3.Connection) -> dict[str, str]:
    return dict(con.execute("SELECT key, kind FROM sources").fetchall())


def list_sources(con: sqlite3.Connection, *, kind: str | None, offset: int, limit: int
                 ) -> tuple[list[SourceRow], int]:
    where = "WHERE s.kind = ?" if kind else ""
    params: list[Any] = [kind] if kind else []
    total = con.execute(f"SELECT COUNT(*) FROM sources s {where}", params).fetchone()[0]
    rows = con.execute(
        "SELECT s.id, s.kind, s.key, s.ext, s.size, s.mtime, s.sha256, s.metadata, s.indexed_at, "
        "(SELECT COUNT(*) FROM chunks c WHERE c.source_id = s.id), s.root, "
        f"(SELECT o.key FROM sources o WHERE o.id = s.same_as) FROM sources s {where} "
        "ORDER BY s.key LIMIT ? OFFSET ?", [*params, limit, offset]).fetchall()
    return [source_row(r) for r in rows], int(total)


def stored_source(con: sqlite3.Connection, key: str, kinds: Sequence[str]) -> StoredSource | None:
    con.execute("BEGIN")  # the source row and its chunks from one snapshot
    try:
        for kind in kinds:
            row = con.execute("SELECT id, sha256, text, metadata, COALESCE(same_as, id) FROM sources "
                              "WHERE kind=? AND key=?", (kind, key)).fetchone()
            if row is not None:  # (a copy's chunks are its canonical file's)
                chunks = con.execute("SELECT id, start, end, text FROM chunks WHERE source_id=? ORDER BY start",
                                     (row[4],)).fetchall()
                return StoredSource(int(row[0]), kind, key, row[1], row[2], json.loads(row[3]), chunks)
        return None
    finally:
        con.execute("COMMIT")


def chunk_ids(con: sqlite3.Connection) -> np.ndarray:
    return np.array([r[0] for r in con.execute("SELECT id FROM chunks ORDER BY id")], dtype=np.int64)


def map_rows(con: sqlite3.Connection, ids: Sequence[int], preview_chars: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(0, len(ids), 900):
        part = list(ids[i : i + 900])
        out += [{"chunk_id": r[0], "start": r[1], "end": r[2], "preview": r[3], "kind": r[5], "id": r[6],
                 "root": r[7], "vector": np.frombuffer(r[4], dtype="<f4")}
                for r in con.execute(
                    f"SELECT c.id, c.start, c.end, substr(c.text, 1, {int(preview_chars)}), c.vector, s.kind, "
                    f"s.key, s.root FROM chunks c JOIN sources s ON s.id = c.source_id WHERE c.id IN "
                    f"({','.join('?' * len(part))}) ORDER BY c.id", part)]
    return out


def source_row(r: sqlite3.Row | tuple[Any, ...]) -> SourceRow:
    return SourceRow(id=r[0], kind=r[1], key=r[2], ext=r[3], size=r[4], mtime=r[5], sha256=r[6],
                     metadata=json.loads(r[7]), indexed_at=r[8], chunks=r[9] if len(r) > 9 else 0,
                     root=r[10] if len(r) > 10 else "", copy_of=(r[11] or "") if len(r) > 11 else "")
