"""What a collection may be called: one rule for every store and every interface (its name becomes a
folder, a snapshot's folder, a Qdrant alias, a URL segment).

A name must be a folder name on every system a snapshot may be restored onto. Windows (and SMB shares
served by it) reserve the device names CON, PRN, AUX, NUL, COM0-9 and LPT0-9 in any case and with any
extension (``nul.txt`` is the device too), and drop a trailing '.' or ' ' from a name, so such a
collection could be created here and never restored there: refused everywhere, with the same message.
"""

from __future__ import annotations

import re

from indexer.errors import InvalidInput

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"  # the characters and length (OpenAPI shows it too)
NAME_RE = re.compile(NAME_PATTERN)
NAME_RULE = ("use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit, not ending with '.', "
             "and not a Windows device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9, with any extension)")
_RESERVED = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?", re.IGNORECASE)


def name_problem(name: str, *, reserved_ok: bool = False) -> str | None:
    """Why ``name`` cannot name a collection, or None when it can. ``reserved_ok`` lets a Windows device
    name through (still a safe folder name here): what removing a collection made before the rule needs."""
    if not name:
        return "it is empty"
    if len(name) > 64:
        return f"it has {len(name)} characters"
    if not name[0].isascii() or not name[0].isalnum():
        return f"it starts with {name[0]!r}"
    if not NAME_RE.fullmatch(name):
        bad = next(c for c in name if not (c.isascii() and (c.isalnum() or c in "_.-")))
        return f"it contains {bad!r}"
    if reserved_ok:
        return None
    if name.endswith("."):
        return "it ends with '.', which Windows drops"
    if _RESERVED.fullmatch(name):
        return "it is a Windows device name"
    return None


def validate_name(name: str, *, reserved_ok: bool = False) -> str:
    """``name``, or :class:`InvalidInput` with the one message every interface shows."""
    problem = name_problem(name, reserved_ok=reserved_ok)
    if problem is not None:
        raise InvalidInput(f"Collection name {name[:80]!r} is not allowed ({problem}): {NAME_RULE}.", field="name")
    return name


def is_valid_name(name: str) -> bool:
    return name_problem(name) is None
