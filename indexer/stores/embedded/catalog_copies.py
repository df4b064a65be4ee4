"""The catalog's copies: a file whose content another file already holds is stored as a copy of it.

A copy has its own ``sources`` row (``same_as`` = the canonical file's id), the canonical's metadata,
and no chunks: a hit on the canonical lists it (``also_at``). When the canonical is replaced or
deleted, its first copy by path takes its chunks (``promote_copy``). The functions run on the
catalog's connections; the writes inside :meth:`Catalog.write`'s transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from indexer.stores.base import ALSO_AT_MAX, SourceWrite


def promote_copy(con: sqlite3.Connection, sid: int) -> None:
    """Before source ``sid`` is replaced or deleted (inside ``write``'s transaction): if it has copies,
    the first by path becomes the canonical source: it takes the chunks (their ids, so the vector
    index needs no change) and the other copies point at it. The content stays while a path has it."""
    copies = [r[0] for r in con.execute("SELECT id FROM sources WHERE same_as=? ORDER BY key", (sid,))]
    if not copies:
        return
    heir = copies[0]
    con.execute("UPDATE chunks SET source_id=? WHERE source_id=?", (heir, sid))
    con.execute("UPDATE sources SET same_as=NULL WHERE id=?", (heir,))
    con.execute("UPDATE sources SET same_as=? WHERE same_as=?", (heir, sid))


def insert_copy(con: sqlite3.Connection, u: SourceWrite, now: float) -> None:
    """Store file ``u`` as a copy of file ``u.copy_of`` (inside ``write``'s transaction): its own row,
    the canonical's metadata, no chunks. The canonical must hold the same content, complete."""
    row = con.execute("SELECT id, sha256, partial, same_as, metadata FROM sources WHERE kind='file' AND key=?",
                      (u.copy_of,)).fetchone()
    if row is None or row[1] != u.sha256 or row[2]:
        raise ValueError(f"{u.key}: no complete file {u.copy_of} with sha256 {u.sha256} to be a copy of")
    canonical, metadata = row[0], row[4]
    if row[3] is not None:  # a copy itself: point at its canonical
        canonical = row[3]
        metadata = con.execute("SELECT metadata FROM sources WHERE id=?", (canonical,)).fetchone()[0]
    con.execute(
        "INSERT INTO sources (kind, key, root, ext, size, mtime, sha256, metadata, text, indexed_at, partial, "
        "same_as) VALUES ('file', ?, ?, ?, ?, ?, ?, ?, NULL, ?, 0, ?)",
        (u.key, u.root, u.ext, u.size, u.mtime, u.sha256, metadata, now, canonical))


def canonical_file(con: sqlite3.Connection, sha256: str) -> str | None:
    """The path of the complete, canonical file with content ``sha256`` (the first by path), if any."""
    row = con.execute("SELECT key FROM sources WHERE sha256=? AND kind='file' AND same_as IS NULL "
                      "AND partial=0 ORDER BY key LIMIT 1", (sha256,)).fetchone()
    return None if row is None else str(row[0])


def also_at(con: sqlite3.Connection, source_ids: Iterable[int]) -> dict[int, tuple[list[str], int]]:
    """source id -> (the paths of its copies, the first ALSO_AT_MAX by path; how many there are)."""
    out: dict[int, tuple[list[str], int]] = {}
    wanted = list(dict.fromkeys(source_ids))
    for i in range(0, len(wanted), 900):
        part = wanted[i : i + 900]
        for sid, key in con.execute(
                f"SELECT same_as, key FROM sources WHERE same_as IN ({','.join('?' * len(part))}) "
                "ORDER BY same_as, key", part):
            paths, n = out.get(sid, ([], 0))
            if len(paths) < ALSO_AT_MAX:
                paths.append(key)
            out[sid] = (paths, n + 1)
    return out
