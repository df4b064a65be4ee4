"""Hits: what a search returns - one per file or document, pointing at its best passage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal, cast

from indexer.described import described
from indexer.search.options import Like, Mode, Query, SearchOptions
from indexer.search.snippets import QueryTerms, make_snippet

if TYPE_CHECKING:
    from indexer.stores.base import Store

Ranked = list[tuple[int, float, int, dict[str, Any] | None]]  # (source_id, score, chunk_id, explain detail)

#: Decimals a hit's scores keep in its plain-data (JSON) form. A float32 cosine's 7th significant digit
#: depends on how the sums ran (how many cores, which kernel, the batch a query shared), so the same
#: search in the CLI, over HTTP and over MCP could print different bytes; 4 decimals is what the page
#: and the CLI's table show, and far more than a ranking decision needs.
SCORE_DECIMALS = 4


def _rounded(value: Any) -> Any:
    """``value`` with every float in it (nested in an explain dict too) rounded to SCORE_DECIMALS."""
    if isinstance(value, float):
        return round(value, SCORE_DECIMALS)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


@dataclass
class Hit:
    id: str = described("Document id, or the file's path")
    kind: Literal["doc", "file"] = described("doc (added through the API) or file (indexed from a folder)")
    path: str | None = described("The file's path (null for documents)")
    root: str | None = described("The folder the file was indexed from, so its path can be shown relative to it "
                                 "(null for documents)")
    score: float = described("The rank score: dense: the cosine; keyword: bm25; hybrid: the fused score "
                        "(relative: 0..1 within this result list; rrf: a sum of 1/(60+rank))")
    cosine: float | None = described("Cosine similarity of the query's vector and the passage's, -1..1 "
                                "(comparable across queries: see the README on reading scores)")
    keyword: float | None = described("bm25 of the source's best passage for the query's words (higher is better); "
                                 "null where no word matched or the keyword ranking did not run")
    chunk_id: int = described("The passage's id in the collection")
    start: int = described("Character offset where the passage starts in the source text")
    end: int = described("Character offset where the passage ends")
    snippet: str = described("The passage's best sentence for the query, marked **like this**, with context")
    span_start: int = described("Character offset of the marked span in the source text")
    span_end: int = described("Character offset where the marked span ends")
    metadata: dict[str, Any] = described("The document's metadata ({} for files)", default_factory=dict)
    also_at: list[str] = described("Other paths of the same file content (copies and symlinks, stored once), "
                                   "by path, at most 20; [] for documents", default_factory=list)
    copies: int = described("How many other paths hold the same content (also_at lists the first 20)", default=0)
    explain: dict[str, Any] | None = described("Per-mode ranks and scores (only when explain was asked for)",
                                          default=None)

    def to_dict(self) -> dict[str, Any]:
        """The hit as plain data (``explain`` only when set). Shallow, unlike ``dataclasses.asdict``,
        which deep-copies and costs more than the rest of turning a hit into JSON; the nested dicts
        are built fresh for every search, so nothing shared leaks out. Scores are rounded to
        SCORE_DECIMALS, so every interface prints the same bytes for the same search."""
        d = {f.name: getattr(self, f.name) for f in _HIT_FIELDS}
        for name in ("score", "cosine", "keyword"):
            d[name] = _rounded(d[name])
        if d["explain"] is None:
            del d["explain"]
        else:
            d["explain"] = _rounded(d["explain"])
        return d

    def __repr__(self) -> str:
        cos = "-" if self.cosine is None else f"{self.cosine:.4f}"
        return f"Hit({self.score:.4f}, cosine {cos}, {self.id!r}, {self.start}:{self.end})"


_HIT_FIELDS = fields(Hit)


@dataclass
class Hits:
    hits: list[Hit]
    mode: Mode
    total_candidates: int = 0
    # The hits' source ids (opaque, store-given), for what counts over the hits (facets of a query).
    source_ids: list[int] = field(default_factory=list, repr=False, compare=False)

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

def build_hits(store: Store, ranked: Ranked, query: str, *, explain: bool,
               cosine: dict[int, float], keyword: dict[int, float]) -> list[Hit]:
    """Join ranked (source, score, chunk) rows with the store's chunk rows into hits, with each source's cosine
    and bm25 where known (``{source_id: score}``). Rows deleted since the ranking was made are
    skipped, never shown half-way."""
    if not ranked:
        return []
    rows = store.hit_rows([r[2] for r in ranked])
    hits: list[Hit] = []
    terms = QueryTerms.of(query, store.meta.analyzer())
    for sid, score, cid, detail in ranked:
        row = rows.get(cid)
        if row is None:
            continue
        start, end, text, kind, key = row.start, row.end, row.text, row.kind, row.key
        metadata = {**row.metadata, **row.chunk_metadata}  # the chunk's page/slide/message wins
        snippet, s0, s1 = make_snippet(text, start, query, terms=terms)
        hits.append(Hit(
            id=key, kind=cast(Literal["doc", "file"], kind), path=key if kind == "file" else None,
            root=(row.root or None) if kind == "file" else None, score=float(score),
            cosine=cosine.get(sid), keyword=keyword.get(sid), chunk_id=cid,
            start=start, end=end, snippet=snippet, span_start=s0, span_end=s1, metadata=metadata,
            explain=detail if explain else None, also_at=list(row.also_at), copies=row.copies,
        ))
    return hits


@dataclass
class SearchResponse:
    """The response to one search, as the HTTP API sends it and ``semsearch query --json`` prints it."""

    collection: str = described("The collection searched")
    query: str | None = described("The query's words (null for a like search)")
    like: str | None = described("The document id or file path whose neighbours these are (null for words)")
    mode: Mode = described("The ranking used: a like search is always dense")
    k: int = described("Page size asked for")
    offset: int = described("Hits skipped")
    min_similarity: float | None = described("Hits with a lower cosine were dropped (before paging)")
    total_candidates: int = described("Sources ranked (after min_similarity) before paging: at least offset + hits")
    hits: list[Hit] = described("Best first")

    def to_dict(self) -> dict[str, Any]:
        return {**{f.name: getattr(self, f.name) for f in _RESPONSE_FIELDS}, "hits": [h.to_dict() for h in self.hits]}

    def to_json(self) -> str:
        """Compact JSON, UTF-8 as is: the bytes every caller (HTTP, CLI) sends for this response."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


_RESPONSE_FIELDS = fields(SearchResponse)


def search_response(collection: str, query: Query, opts: SearchOptions, hits: Hits) -> SearchResponse:
    """The response to ``query``'s search with ``opts``."""
    return SearchResponse(
        collection=collection, query=query if isinstance(query, str) else None,
        like=query.id if isinstance(query, Like) else None, mode=hits.mode, k=opts.k, offset=opts.offset,
        min_similarity=opts.min_similarity, total_candidates=max(hits.total_candidates, opts.offset + len(hits)),
        hits=hits.hits)
