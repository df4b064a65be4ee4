"""Filters: restrictions applied before ranking - a ``where`` document in the style of Chroma and
MongoDB, and the simple options (path glob, extension, metadata equality, modification time), which are
sugar for it.

This is the store-neutral form: :meth:`Filters.tree` validates them once (the same rules and messages
for every store and interface) and gives one tree of :class:`Cond`, :class:`And`, :class:`Or` and
:class:`Not`; each store translates that tree into its own terms (the embedded store into one SQL WHERE
fragment, ``indexer/stores/embedded/sql.py``; Postgres likewise, ``indexer/stores/postgres/sql.py``;
Qdrant into its filter conditions) and applies it before it ranks, so a filtered query returns its true
top-k instead of a filtered top-k. :func:`matches` is the plain-Python reading of the same tree: the
reference the stores are tested against.

The language (docs/filters.md)::

    {"year": {"$gte": 2024}, "$or": [{"ext": {"$in": ["pdf", "pptx"]}}, {"path": {"$glob": "legal/**"}}],
     "$not": {"tags": {"$contains": "draft"}}}

- a document is an AND of its keys; a key is a field or ``$and`` / ``$or`` (a list of documents) or
  ``$not`` (a document);
- a field's condition is a value (``$eq``), ``null`` (``$exists: false``) or an object of operators
  (an AND): ``$eq $ne $gt $gte $lt $lte $in $nin $exists $contains`` and ``$glob`` (path only);
  ``$exists`` is true for a value other than null or an empty list; ``$contains`` tests a metadata
  list's elements (a single value counts as a list of one);
- fields: ``path`` (a file's absolute path or a document's id), ``ext``, ``kind`` (file | doc),
  ``modified`` (unix time: a file's mtime, a document's indexing time), ``size`` (bytes), and every
  metadata key - a chunk's own (its ``page``, ``slide``, ``sheet``, ``message``) before its file's or
  document's. A metadata key named like a built-in is reached as ``metadata.<key>``;
- a list value matches when one of its elements does (``$eq``, ``$in``, ranges; ``$ne`` and ``$nin``
  when none does), as in MongoDB and Qdrant; booleans are not numbers; ranges compare numbers, and an
  ISO 8601 date operand is read as its unix time (UTC when it names no zone).

It sits beside ``indexer/search/`` rather than in it: the Store interface (``indexer/stores/base.py``) is
written in its terms and the ranking package is written against the Store interface, so a filter module
inside ``search/`` would make search and the stores import each other.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Union

from indexer.errors import InvalidInput, LimitExceeded
from indexer.limits import MAX_WHERE_DEPTH, MAX_WHERE_NODES, MAX_WHERE_STRING_CHARS, MAX_WHERE_VALUES

METADATA_KEY = re.compile(r"[A-Za-z0-9_.-]{1,128}")

#: The built-in fields and what their values are (a metadata key is any other name).
BUILTINS = {"path": "string", "ext": "string", "kind": "string", "modified": "number", "size": "number"}
COMPARISONS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")
RANGES = ("$gt", "$gte", "$lt", "$lte")
OPERATORS = (*COMPARISONS, "$in", "$nin", "$exists", "$contains", "$glob")
LOGICAL = ("$and", "$or", "$not")


@dataclass(frozen=True)
class Cond:
    """One condition: ``field`` (a built-in name, or ``metadata.<key>``), an operator without its ``$``
    (eq ne gt gte lt lte in nin exists contains glob) and its checked value (a tuple for in/nin)."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Union[Cond, And, Or, Not]  # noqa: UP007 - a runtime alias (X | Y of forward names fails at import)
EVERYTHING = And(())


def metadata_key(name: str) -> str | None:
    """The metadata key a field names (None for a built-in)."""
    if name.startswith("metadata."):
        return name[len("metadata."):]
    return None if name in BUILTINS else name


def timestamp(text: str) -> float | None:
    """An ISO 8601 date or date-time as unix time (UTC when it names no zone), None if it is not one."""
    if not re.match(r"\d{4}-?\d{2}", text):
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


class _Parser:
    """Reads a ``where`` document into a tree, counting its nodes; every error names where it is."""

    def __init__(self) -> None:
        self.nodes = 0

    def fail(self, at: str, expected: str, got: Any = ..., limit: bool = False) -> InvalidInput:
        message = f"{at}: {expected}" + ("" if got is ... else f", got {_show(got)}")
        return (LimitExceeded if limit else InvalidInput)(message, field=at)

    def count(self, at: str) -> None:
        self.nodes += 1
        if self.nodes > MAX_WHERE_NODES:
            raise self.fail(at, f"a where document may hold at most {MAX_WHERE_NODES} conditions and operators "
                            "in all; split the query or use $in", limit=True)

    def doc(self, doc: Any, at: str, depth: int) -> Node:
        if depth > MAX_WHERE_DEPTH:
            raise self.fail(at, f"$and, $or and $not may nest at most {MAX_WHERE_DEPTH} levels deep", limit=True)
        if not isinstance(doc, Mapping):
            raise self.fail(at, "expected an object of fields and $and/$or/$not", doc)
        items: list[Node] = []
        for key, value in doc.items():
            where = f"{at}.{key}"
            if not isinstance(key, str):
                raise self.fail(at, "expected field names as keys", key)
            self.count(where)
            if key in ("$and", "$or"):
                if not isinstance(value, list) or not value:
                    raise self.fail(where, "expected a non-empty list of where documents", value)
                parts = tuple(self.doc(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value))
                items.append(And(parts) if key == "$and" else Or(parts))
            elif key == "$not":
                items.append(Not(self.doc(value, where, depth + 1)))
            elif key.startswith("$"):
                raise self.fail(where, f"unknown operator {key}: a where document's keys are fields or "
                                f"{', '.join(LOGICAL)}")
            else:
                items.append(self.field(key, value, where))
        return items[0] if len(items) == 1 else And(tuple(items))

    def field(self, name: str, cond: Any, at: str) -> Node:
        key = metadata_key(name)
        if key is not None and not METADATA_KEY.fullmatch(key):
            raise self.fail(at, "expected a field name of letters, digits, '_', '.' or '-' (1-128 characters)")
        if not isinstance(cond, Mapping):
            if cond is None:
                return Cond(name, "exists", False)
            return self.cond(name, "$eq", cond, at)
        if not cond:
            raise self.fail(at, "expected a value or an object of operators", cond)
        items = []
        for op, value in cond.items():
            self.count(f"{at}.{op}")
            items.append(self.cond(name, op, value, f"{at}.{op}"))
        return items[0] if len(items) == 1 else And(tuple(items))

    def scalar(self, name: str, op: str, value: Any, at: str) -> Any:
        """A comparison operand, checked for the field (a date read as unix time where a number is due)."""
        kind = BUILTINS.get(name) if metadata_key(name) is None else None
        ranged = op in RANGES
        if isinstance(value, str) and len(value) > MAX_WHERE_STRING_CHARS:
            raise self.fail(at, f"expected a string of at most {MAX_WHERE_STRING_CHARS} characters",
                            value[:20] + "...", limit=True)
        if kind == "number" or ranged:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if not math.isfinite(value):
                    raise self.fail(at, "expected a finite number", value)
                return value
            t = timestamp(value) if isinstance(value, str) else None
            if t is None:
                want = "a number or an ISO 8601 date"
                raise self.fail(at, f"expected {want}" + (" (ranges compare numbers and dates)"
                                                          if kind == "string" else ""), value)
            return t
        if kind == "string":
            if not isinstance(value, str):
                raise self.fail(at, "expected a string", value)
            if name == "kind" and value not in ("file", "doc"):
                raise self.fail(at, 'expected "file" or "doc"', value)
            if name == "ext" and value:
                return value.lower() if value.startswith(".") else "." + value.lower()
            return value
        if isinstance(value, bool) or isinstance(value, str):
            return value
        if isinstance(value, (int, float)):
            if not math.isfinite(value):
                raise self.fail(at, "expected a finite number", value)
            return value
        raise self.fail(at, "expected a string, number or boolean", value)

    def cond(self, name: str, op: str, value: Any, at: str) -> Node:
        if op not in OPERATORS:
            hint = " ($not goes around a where document: {\"$not\": {...}})" if op in LOGICAL else ""
            raise self.fail(at, f"unknown operator {op}: expected one of {', '.join(OPERATORS)}{hint}")
        bare = op[1:]
        if op in COMPARISONS:
            if value is None and op in ("$eq", "$ne"):
                return Cond(name, "exists", op == "$ne")
            return Cond(name, bare, self.scalar(name, op, value, at))
        if op in ("$in", "$nin"):
            if not isinstance(value, list) or not value:
                raise self.fail(at, "expected a non-empty list of values", value)
            if len(value) > MAX_WHERE_VALUES:
                raise self.fail(at, f"expected at most {MAX_WHERE_VALUES} values, got {len(value)}", limit=True)
            values: list[Any] = []
            for i, v in enumerate(value):
                x = self.scalar(name, "$eq", v, f"{at}[{i}]")
                if not any(_same(x, y) for y in values):  # not dict.fromkeys: True and 1 are one key there
                    values.append(x)
            return Cond(name, bare, tuple(values))
        if op == "$exists":
            if not isinstance(value, bool):
                raise self.fail(at, "expected true or false", value)
            return Cond(name, "exists", value)
        if op == "$contains":
            if metadata_key(name) is None:
                raise self.fail(at, f"$contains tests a metadata list; {name} is not one (use $eq or $glob)")
            return Cond(name, "contains", self.scalar(name, "$eq", value, at))
        if name != "path":  # $glob
            raise self.fail(at, f"$glob matches the path field only, not {name}")
        if not isinstance(value, str) or not value or len(value) > MAX_WHERE_STRING_CHARS:
            raise self.fail(at, f"expected a glob pattern of 1-{MAX_WHERE_STRING_CHARS} characters, "
                            "e.g. \"docs/**/*.md\"", value)
        return Cond(name, "glob", value)


def load_where(text: str, at: str = "where") -> Any:
    """A ``where`` document from its JSON text (a URL parameter, a CLI option)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInput(f"{at}: expected a JSON object such as {{\"year\": {{\"$gte\": 2024}}}}, got text "
                           f"that is not JSON ({e.msg} at character {e.pos})", field=at) from None


def parse_where(where: Any, at: str = "where") -> Node:
    """A ``where`` document (or its JSON text) as a checked tree (``InvalidInput`` naming the place, the
    operator and what was expected; ``LimitExceeded`` over a limit of ``indexer.limits``)."""
    if where is None:
        return EVERYTHING
    return _Parser().doc(load_where(where, at) if isinstance(where, str) else where, at, 1)


@dataclass
class Filters:
    """Restrictions applied before ranking. Empty fields restrict nothing; all that are set must hold."""

    path_glob: str | None = None  # relative: below the indexed folder ("docs/**"); absolute: the full path
    ext: Sequence[str] = ()  # e.g. ["md", ".txt"]
    metadata: dict[str, Any] = field(default_factory=dict)  # equality on document metadata
    modified_after: float | None = None  # unix time; files by mtime, documents by indexing time
    where: Mapping[str, Any] | str | None = None  # the filter language (docs/filters.md); a str: its JSON

    def is_empty(self) -> bool:
        return not (self.path_glob or self.ext or self.metadata or self.modified_after is not None or self.where)

    def check(self) -> Filters:
        """These filters, checked (``InvalidInput`` names the bad key, operator or value), with the
        extensions normalized (lower case, with the dot)."""
        self.tree()
        return Filters(self.path_glob, [e.lower() if e.startswith(".") else "." + e.lower() for e in self.ext],
                       dict(self.metadata), self.modified_after, self.where)

    def tree(self) -> Node:
        """The checked tree of every restriction: the simple options turned into the same conditions as
        ``where`` (AND-ed with it). What every store translates."""
        items: list[Node] = []
        if self.path_glob:
            items.append(Cond("path", "glob", self.path_glob))
        if self.ext:
            exts = tuple(dict.fromkeys(e.lower() if e.startswith(".") else "." + e.lower() for e in self.ext))
            items.append(Cond("ext", "in", exts))
        for key, value in self.metadata.items():
            if not METADATA_KEY.fullmatch(key):
                raise InvalidInput(f"metadata filter key {key!r} must match [A-Za-z0-9_.-]{{1,128}}",
                                   field="filters.metadata")
            if isinstance(value, (dict, list)):
                raise InvalidInput(f"metadata filter {key!r} must be a string, number, boolean or null",
                                   field="filters.metadata")
            name = key if key not in BUILTINS else "metadata." + key
            items.append(Cond(name, "exists", False) if value is None else Cond(name, "eq", value))
        if self.modified_after is not None:
            items.append(Cond("modified", "gt", self.modified_after))
        if self.where:
            node = parse_where(self.where)
            items.extend(node.items if isinstance(node, And) else [node])
        return items[0] if len(items) == 1 else And(tuple(items))


# -- the reference: the same tree, read in plain Python ---------------------------------------------

def _same(a: Any, b: Any) -> bool:
    """JSON equality: booleans are not numbers, 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _compare(op: str, v: Any, x: Any) -> bool:
    if op == "eq":
        return _same(v, x)
    if op == "in":
        return any(_same(v, y) for y in x)
    if not (_number(v) and _number(x)):
        return False
    return {"gt": v > x, "gte": v >= x, "lt": v < x, "lte": v <= x}[op]


def matches(node: Node, row: Mapping[str, Any]) -> bool:
    """Whether a chunk passes ``node``. ``row``: its ``kind``, ``path`` (key), ``root``, ``ext``, ``size``,
    ``modified`` and ``metadata`` (its own metadata over its file's or document's, as the stores read it)."""
    if isinstance(node, And):
        return all(matches(n, row) for n in node.items)
    if isinstance(node, Or):
        return any(matches(n, row) for n in node.items)
    if isinstance(node, Not):
        return not matches(node.item, row)
    key = metadata_key(node.field)
    value = row["metadata"].get(key) if key is not None else row[node.field]
    op = node.op
    if op == "glob":
        return row["kind"] == "file" and glob_match(node.value, row["path"], row["root"])
    if op == "exists":
        return (value is not None and value != []) == node.value
    values = value if isinstance(value, list) else [value]
    if op == "contains":  # a single value counts as a list of one (Qdrant cannot tell them apart)
        return any(_same(v, node.value) for v in values)
    if op in ("ne", "nin"):
        return not any(_compare("eq" if op == "ne" else "in", v, node.value) for v in values)
    return any(_compare(op, v, node.value) for v in values)


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
