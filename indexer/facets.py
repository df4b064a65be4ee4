"""Facets: how many files and documents have each value of a field, to narrow a search by a click.

A facet counts *sources* (files and documents), never chunks: a 40-page PDF counts once under ``.pdf``.
It is restricted by the same :class:`~indexer.filters.Filters` as a search (a source counts when one of
its chunks passes them, the same rule a search applies) and, optionally, by a query: then only the
sources of the query's best hits count (``indexer.search.recipe.ranked_sources`` ranks them first).

The fields (:func:`parse_facet` checks them, once, for every interface and store):

- ``ext``: the file's extension (``.pdf``); documents have none and are not counted;
- ``folder``: the file's folder below the indexed folder, its first ``depth`` levels (``contracts`` or
  ``contracts/2024``; ``.`` for files directly in it); documents are not counted;
- ``year`` / ``month``: of the modified time in UTC (``2024``, ``2024-03``): a file's mtime, a
  document's indexing time (the same time ``modified_after`` filters on);
- ``metadata.<key>``: the value of a metadata key (a chunk's own, e.g. its page, else its source's);
  strings, numbers and booleans count, lists and objects do not. A source with several values (pages)
  counts once under each.

Each store computes the counts in its own terms (``Store.facet_counts``): SQL ``GROUP BY`` in the
embedded and Postgres stores, a scroll of the matching chunk points in Qdrant (whose own facet API
counts points, that is chunks, not sources).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from dataclasses import field as dc_field
from typing import Any

from indexer.errors import InvalidInput, LimitExceeded
from indexer.filters import METADATA_KEY
from indexer.limits import DEFAULT_FACET_TOP, MAX_FACET_DEPTH, MAX_FACET_TOP

FIELDS = ("ext", "folder", "year", "month")  # and metadata.<key>
METADATA_PREFIX = "metadata."


@dataclass(frozen=True)
class Facet:
    """One checked facet request: the field (``ext``, ``folder``, ``year``, ``month`` or ``metadata``),
    the metadata key, the folder depth and how many values to list."""

    field: str
    key: str = ""  # the metadata key (field "metadata")
    depth: int = 1  # folder levels below the indexed folder (field "folder")
    top: int = DEFAULT_FACET_TOP

    @property
    def name(self) -> str:
        """The field as it was asked for (``metadata.topic``, ``folder``)."""
        return METADATA_PREFIX + self.key if self.field == "metadata" else self.field


def parse_facet(name: str, *, depth: int = 1, top: int = DEFAULT_FACET_TOP) -> Facet:
    """The facet ``name`` asks for, checked: ``InvalidInput`` names an unknown field, ``LimitExceeded``
    a ``top`` or ``depth`` over its limit."""
    if not isinstance(top, int) or top < 1:
        raise InvalidInput(f"top must be at least 1, not {top!r}", field="top")
    if top > MAX_FACET_TOP:
        raise LimitExceeded(f"top is {top}, over the limit of {MAX_FACET_TOP} values a facet lists", field="top")
    if not isinstance(depth, int) or depth < 1:
        raise InvalidInput(f"depth must be at least 1, not {depth!r}", field="depth")
    if depth > MAX_FACET_DEPTH:
        raise LimitExceeded(f"depth is {depth}, over the limit of {MAX_FACET_DEPTH} folder levels", field="depth")
    if name.startswith(METADATA_PREFIX):
        key = name[len(METADATA_PREFIX):]
        if not METADATA_KEY.fullmatch(key):
            raise InvalidInput(f"facet field {name!r}: the metadata key must match [A-Za-z0-9_.-]{{1,128}}",
                               field="field")
        return Facet("metadata", key=key, depth=depth, top=top)
    if name not in FIELDS:
        raise InvalidInput(f"unknown facet field {name!r}: use one of {', '.join(FIELDS)} or metadata.<key>",
                           field="field")
    return Facet(name, depth=depth, top=top)


@dataclass
class FacetValue:
    value: Any  # a string (ext, folder, year, month) or a metadata value (string, number, boolean)
    count: int  # files and documents with this value


@dataclass
class FacetCounts:
    """A facet's answer: its top values by count (ties by value), and how many sources matched in all
    (those without a value for the field included)."""

    field: str
    values: list[FacetValue] = dc_field(default_factory=list)
    sources: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def folder_at(key: str, root: str, depth: int) -> str:
    """A file's folder below ``root``, its first ``depth`` levels ("." directly in it). The embedded
    store registers it as an SQL function; Qdrant calls it on each source; Postgres has its SQL twin."""
    base = root.rstrip("/")
    rel = key[len(base) + 1:] if base and key.startswith(base + "/") else key.lstrip("/")
    parts = rel.split("/")[:-1][:depth]
    return "/".join(parts) or "."


def ranked(groups: Iterable[tuple[Any, int]], top: int) -> list[FacetValue]:
    """The ``top`` (value, count) pairs by count, ties by value (as JSON text, so numbers, booleans and
    strings sort together, and alike in every store). Pairs, not a dict: 1 and true are two values."""
    order = sorted(groups, key=lambda kv: (-kv[1], json.dumps(kv[0])))
    return [FacetValue(v, n) for v, n in order[:top]]
