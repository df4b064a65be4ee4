"""Filters: restrictions applied before ranking (path glob, extension, metadata, modification time).

They become one SQL WHERE fragment over ``sources s``; dense search turns it into the set of chunk
ids FAISS may return, keyword search adds it to its FTS5 query, so a filtered query returns its true
top-k instead of a filtered top-k.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from indexer.errors import InvalidInput

METADATA_KEY = re.compile(r"[A-Za-z0-9_.-]{1,128}")


@dataclass
class Filters:
    """Restrictions applied before ranking. Empty fields restrict nothing."""

    path_glob: str | None = None  # relative: below the indexed folder ("docs/**"); absolute: the full path
    ext: Sequence[str] = ()  # e.g. ["md", ".txt"]
    metadata: dict[str, Any] = field(default_factory=dict)  # equality on document metadata
    modified_after: float | None = None  # unix time; files by mtime, documents by indexing time

    def is_empty(self) -> bool:
        return not (self.path_glob or self.ext or self.metadata or self.modified_after is not None)




@functools.lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Shell-style glob with ``**``: ``*`` and ``?`` stay within one folder, ``**`` crosses folders."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + re.escape(body[1:]) if body[0] == "!" else re.escape(body)) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def glob_match(pattern: str, path: str | None, root: str = "") -> bool:
    """Absolute patterns match the absolute path; relative ones match the path below the indexed folder."""
    if path is None:
        return False
    if not pattern.startswith("/") and root and path.startswith(root.rstrip("/") + "/"):
        path = path[len(root.rstrip("/")) + 1 :]
    return glob_regex(pattern).match(path) is not None


def filter_sql(filters: Filters) -> tuple[str, list[Any]]:
    """A WHERE fragment over ``sources s`` joined with ``chunks c``, and its parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if filters.path_glob:
        clauses.append("s.kind = 'file' AND path_glob(?, s.key, s.root)")
        params.append(filters.path_glob)
    if filters.ext:
        exts = [e.lower() if e.startswith(".") else "." + e.lower() for e in filters.ext]
        clauses.append(f"s.ext IN ({','.join('?' * len(exts))})")
        params.extend(exts)
    for key, value in filters.metadata.items():
        if not METADATA_KEY.fullmatch(key):
            raise InvalidInput(f"metadata filter key {key!r} must match [A-Za-z0-9_.-]{{1,128}}",
                               field="filters.metadata")
        if isinstance(value, (dict, list)):
            raise InvalidInput(f"metadata filter {key!r} must be a string, number, boolean or null",
                               field="filters.metadata")
        path = '$."' + key + '"'
        # A chunk's own metadata (its page, slide, message) first, then its file's or document's.
        value_sql = "COALESCE(json_extract(c.metadata, ?), json_extract(s.metadata, ?))"
        if value is None:
            clauses.append(f"{value_sql} IS NULL")
            params.extend([path, path])
        else:
            clauses.append(f"{value_sql} = ?")
            params.extend([path, path, int(value) if isinstance(value, bool) else value])
    if filters.modified_after is not None:
        clauses.append("(CASE WHEN s.kind = 'file' THEN s.mtime ELSE s.indexed_at END) > ?")
        params.append(filters.modified_after)
    return (" AND ".join(clauses) or "1"), params


def path_glob_sql(pattern: str, path: str, root: str) -> int:
    """``path_glob(pattern, key, root)`` as the catalog registers it for :func:`filter_sql`."""
    return int(glob_match(pattern, path, root))

SQL_FUNCTIONS = {"path_glob": (3, path_glob_sql)}  # what filter_sql needs registered on the connection
