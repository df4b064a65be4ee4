"""Copies (duplicates) in the Postgres store: a file with another file's content is a source row with no
chunks whose ``same_as`` is the canonical file's id (see ``SourceWrite.copy_of``). Replacing or deleting
a canonical first promotes its first copy by path (:func:`promote_copy`); a hit on a canonical names its
copies' paths (:func:`also_at`). Every function runs on the caller's connection and tables (``tables()``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from indexer.stores.base import ALSO_AT_MAX, SourceWrite


def promote_copy(con: psycopg.Connection[Any], t: dict[str, str], sid: int) -> None:
    """Before source ``sid`` is replaced or deleted: its first copy by path (if any) takes its chunks
    (the same ids) and the other copies point at it (see ``SourceWrite.copy_of``)."""
    got = con.execute(f"SELECT id FROM {t['sources']} WHERE same_as = %s ORDER BY key LIMIT 1", (sid,)).fetchone()
    if got is None:
        return
    heir = int(got[0])
    con.execute(f"UPDATE {t['chunks']} SET source_id = %s WHERE source_id = %s", (heir, sid))
    con.execute(f"UPDATE {t['sources']} SET same_as = NULL WHERE id = %s", (heir,))
    con.execute(f"UPDATE {t['sources']} SET same_as = %s WHERE same_as = %s", (heir, sid))


def insert_copy(con: psycopg.Connection[Any], t: dict[str, str], u: SourceWrite, now: float) -> None:
    """Store file ``u`` as a copy of file ``u.copy_of``: its own row, the canonical's metadata, no chunks."""
    got = con.execute(f"SELECT id, sha256, partial, same_as FROM {t['sources']} WHERE kind = 'file' AND key = %s",
                      (u.copy_of,)).fetchone()
    if got is None or got[1] != u.sha256 or got[2]:
        raise ValueError(f"{u.key}: no complete file {u.copy_of} with sha256 {u.sha256} to be a copy of")
    canonical = got[3] if got[3] is not None else got[0]
    con.execute(f"INSERT INTO {t['sources']} (kind, key, root, ext, size, mtime, sha256, metadata, text, "
                "indexed_at, partial, same_as) SELECT 'file', %s, %s, %s, %s, %s, %s, metadata, NULL, %s, false, "
                f"id FROM {t['sources']} WHERE id = %s",
                (u.key, u.root, u.ext, u.size, u.mtime, u.sha256, now, canonical))


def also_at(con: psycopg.Connection[Any], t: dict[str, str], files: Sequence[int]) -> dict[int, tuple[list[str], int]]:
    """Canonical source id -> (the first ``ALSO_AT_MAX`` of its copies' paths, by path; how many it has)."""
    also: dict[int, tuple[list[str], int]] = {}
    if files:
        for sid, key in con.execute(f"SELECT same_as, key FROM {t['sources']} WHERE same_as = ANY(%s) "
                                    "ORDER BY same_as, key", (list(files),)).fetchall():
            paths, n = also.get(int(sid), ([], 0))
            if len(paths) < ALSO_AT_MAX:
                paths.append(key)
            also[int(sid)] = (paths, n + 1)
    return also


def canonical_file(con: psycopg.Connection[Any], t: dict[str, str], sha256: str) -> str | None:
    """The stored file (not a copy, not partial) first by path with content ``sha256``."""
    got = con.execute(f"SELECT key FROM {t['sources']} WHERE sha256 = %s AND kind = 'file' AND "
                      "same_as IS NULL AND NOT partial ORDER BY key LIMIT 1", (sha256,)).fetchone()
    return None if got is None else str(got[0])
