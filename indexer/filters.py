"""Filters: restrictions applied before ranking (path glob, extension, metadata, modification time).

This is the store-neutral form: :meth:`Filters.check` validates them (the same rules for every
store) and gives the normalized values; each store translates them into its own terms (the embedded
store into one SQL WHERE fragment, ``indexer/stores/embedded/sql.py``; Qdrant into a payload filter)
and applies them before it ranks, so a filtered query returns its true top-k instead of a filtered
top-k.

It sits beside ``indexer/search/`` rather than in it: the Store interface (``indexer/stores/base.py``) is
written in its terms and the ranking package is written against the Store interface, so a filter module
inside ``search/`` would make search and the stores import each other.
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

    def check(self) -> Filters:
        """These filters, checked (``InvalidInput`` names the bad metadata key or value), with the
        extensions normalized (lower case, with the dot). What every store translates."""
        for key, value in self.metadata.items():
            if not METADATA_KEY.fullmatch(key):
                raise InvalidInput(f"metadata filter key {key!r} must match [A-Za-z0-9_.-]{{1,128}}",
                                   field="filters.metadata")
            if isinstance(value, (dict, list)):
                raise InvalidInput(f"metadata filter {key!r} must be a string, number, boolean or null",
                                   field="filters.metadata")
        return Filters(self.path_glob, [e.lower() if e.startswith(".") else "." + e.lower() for e in self.ext],
                       dict(self.metadata), self.modified_after)


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
