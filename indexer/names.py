"""What a collection may be called: one rule for every store (its name becomes a folder, a Qdrant alias,
a URL segment)."""

from __future__ import annotations

import re

from indexer.errors import InvalidInput

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"  # a collection's name (the API's schemas use this too)
NAME_RE = re.compile(NAME_PATTERN)


def validate_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise InvalidInput(
            f"Collection name {name!r} is not allowed: use 1-64 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit.", field="name")
    return name
