"""Hits: what a search returns - one per file or document, pointing at its best passage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from indexer.catalog import Catalog
from indexer.search.snippets import QueryTerms, make_snippet

Ranked = list[tuple[int, float, int, dict[str, Any] | None]]  # (source_id, score, chunk_id, explain detail)


@dataclass
class Hit:
    id: str  # the document id, or the file path
    kind: str  # "file" or "doc"
    path: str | None
    score: float
    chunk_id: int
    start: int  # character offsets of the best chunk in the source text
    end: int
    snippet: str  # the best passage, with the best matching span marked **like this**
    span_start: int  # character offsets of the marked span in the source text
    span_end: int
    metadata: dict[str, Any] = field(default_factory=dict)
    explain: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The hit as plain data (``explain`` only when set). Shallow, unlike ``dataclasses.asdict``,
        which deep-copies and costs more than the rest of turning a hit into JSON; the nested dicts
        are built fresh for every search, so nothing shared leaks out."""
        d = {f.name: getattr(self, f.name) for f in _HIT_FIELDS}
        if d["explain"] is None:
            del d["explain"]
        return d

    def __repr__(self) -> str:
        return f"Hit({self.score:.4f}, {self.id!r}, {self.start}:{self.end})"


_HIT_FIELDS = fields(Hit)


@dataclass
class Hits:
    hits: list[Hit]
    mode: str
    total_candidates: int = 0

    def to_list(self) -> list[dict[str, Any]]:
        return [h.to_dict() for h in self.hits]

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    def __getitem__(self, i: int) -> Hit:
        return self.hits[i]

    def __repr__(self) -> str:
        return f"Hits({self.mode}, {self.hits!r})"

def build_hits(catalog: Catalog, ranked: Ranked, query: str, *, explain: bool) -> list[Hit]:
    """Join ranked (source, score, chunk) rows with the catalog into hits. Rows deleted since the
    ranking was made are skipped, never shown half-way."""
    if not ranked:
        return []
    rows = catalog.hit_rows([r[2] for r in ranked])
    hits: list[Hit] = []
    terms = QueryTerms.of(query)
    for _sid, score, cid, detail in ranked:
        row = rows.get(cid)
        if row is None:
            continue
        _, start, end, text, kind, key, meta = row
        snippet, s0, s1 = make_snippet(text, start, query, terms=terms)
        hits.append(Hit(
            id=key, kind=kind, path=key if kind == "file" else None, score=float(score), chunk_id=cid,
            start=start, end=end, snippet=snippet, span_start=s0, span_end=s1, metadata=json.loads(meta),
            explain=detail if explain else None,
        ))
    return hits
