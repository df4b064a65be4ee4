"""Dense, keyword and hybrid search over one collection, with filters, snippets and score explanations.

Ranking happens at the level users ask about - a file or a document - while every hit still points to
its best chunk (offsets and a snippet). A source's score in one mode is the best score of its chunks.

- dense: cosine (inner product of unit vectors) from the FAISS index; filters restrict the candidate
  ids *before* ranking, so a filtered query returns its true top-k.
- keyword: SQLite FTS5 with bm25 over Porter-stemmed chunk text; the query's words are OR-ed, with
  English stopwords dropped (they carry no signal and only slow bm25 down).
- hybrid: a fusion of the dense and keyword rankings, each ``candidates`` (100) sources deep.
  The default, ``relative`` score fusion, is a convex combination of min-max normalized scores
  (Bruch et al., "An Analysis of Fusion Functions for Hybrid Retrieval", TOIS 2023; Weaviate's
  relativeScoreFusion, Elasticsearch's linear retriever with the minmax normalizer): each ranking's
  scores are mapped to [0, 1] over its own candidates (best -> 1, last -> 0), a source missing from a
  ranking gets 0 there, and ``score = sum_m w_m * norm_m / sum_m w_m`` with equal weights. Unlike rank
  fusion it keeps *how much* better a candidate is: a dense near-duplicate or a keyword hit matching
  every rare term keeps its lead instead of tying with the other ranking's top hit.
  ``fusion="rrf"`` gives reciprocal rank fusion (Cormack et al., 2009),
  ``score = sum_m w_m / (rrf_k + rank_m)``.

Chunk -> source aggregation is the best chunk's score in both rankings (max). Adding a share of the
other chunks' scores favours long documents for their length, and measured worse on BEIR SciFact
(where 71% of the documents span several chunks) at every share tried, in both modes.
"""

from __future__ import annotations

import functools
import json
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np

from indexer.errors import InvalidInput
from indexer.sentences import sentence_spans
from indexer.vectors import VectorIndex

Mode = Literal["dense", "keyword", "hybrid"]
MODES: tuple[str, ...] = ("dense", "keyword", "hybrid")
FUSIONS: tuple[str, ...] = ("relative", "rrf")

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most my
    myself no nor not now of off on once only or other our ours ourselves out over own same she should so
    some such than that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves""".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class Filters:
    """Restrictions applied before ranking. Empty fields restrict nothing."""

    path_glob: str | None = None  # relative: below the indexed folder ("docs/**"); absolute: the full path
    ext: Sequence[str] = ()  # e.g. ["md", ".txt"]
    metadata: dict[str, Any] = field(default_factory=dict)  # equality on document metadata
    modified_after: float | None = None  # unix time; files by mtime, documents by indexing time

    def is_empty(self) -> bool:
        return not (self.path_glob or self.ext or self.metadata or self.modified_after is not None)


@dataclass
class SearchOptions:
    k: int = 10
    offset: int = 0
    mode: str = "hybrid"
    filters: Filters = field(default_factory=Filters)
    explain: bool = False
    fusion: str = "relative"  # how hybrid combines the rankings: relative (min-max scores) | rrf (ranks)
    rrf_k: int = 60
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    candidates: int = 100  # depth of each ranking that hybrid fuses


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


# -- filters ---------------------------------------------------------------------------------------
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


def register_functions(con: sqlite3.Connection) -> None:
    con.create_function("path_glob", 3, lambda pat, path, root: int(glob_match(pat, path, root)),
                        deterministic=True)


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
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", key):
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


def allowed_chunk_ids(con: sqlite3.Connection, filters: Filters) -> np.ndarray | None:
    if filters.is_empty():
        return None
    where, params = filter_sql(filters)
    rows = con.execute(f"SELECT c.id FROM chunks c JOIN sources s ON s.id = c.source_id WHERE {where}", params)
    return np.fromiter((r[0] for r in rows), dtype=np.int64)


# -- the two rankings ---------------------------------------------------------------------------------
def keyword_query(text: str) -> str | None:
    """FTS5 MATCH expression: the query's words, quoted (so no FTS syntax leaks in), OR-ed."""
    words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]
    if not words:
        words = _WORD.findall(text.lower())
    if not words:
        return None
    return " OR ".join('"' + w.replace('"', "") + '"' for w in dict.fromkeys(words))


def _group_by_source(con: sqlite3.Connection, chunk_scores: list[tuple[int, float]]
                     ) -> list[tuple[int, float, int]]:
    """[(chunk_id, score)] best first -> [(source_id, score, best_chunk_id)] best first."""
    if not chunk_scores:
        return []
    ids = [c for c, _ in chunk_scores]
    src: dict[int, int] = {}
    for i in range(0, len(ids), 900):
        part = ids[i : i + 900]
        src.update(con.execute(f"SELECT id, source_id FROM chunks WHERE id IN ({','.join('?' * len(part))})",
                               part).fetchall())
    best: dict[int, tuple[float, int]] = {}
    for cid, score in chunk_scores:
        sid = src.get(cid)
        if sid is not None and sid not in best:
            best[sid] = (score, cid)
    return sorted(((s, sc, c) for s, (sc, c) in best.items()), key=lambda t: (-t[1], t[0]))


def dense_ranking(con: sqlite3.Connection, index: VectorIndex, qvec: np.ndarray, depth: int,
                  allowed: np.ndarray | None) -> list[tuple[int, float, int]]:
    """Top ``depth`` sources by their best chunk's cosine. Fetches chunks until ``depth`` distinct
    sources are found or the index is exhausted."""
    want = depth * 3 + 10
    limit = index.ntotal if allowed is None else len(allowed)
    while True:
        hits = index.search(qvec, want, allowed)[0]
        ranked = _group_by_source(con, hits)
        if len(ranked) >= depth or len(hits) < want or want >= limit:
            return ranked[:depth]
        want *= 4


def keyword_ranking(con: sqlite3.Connection, text: str, depth: int, filters: Filters
                    ) -> list[tuple[int, float, int]]:
    match = keyword_query(text)
    if match is None:
        return []
    where, params = filter_sql(filters)
    want = depth * 3 + 10
    while True:
        rows = con.execute(
            "SELECT f.rowid, -bm25(chunks_fts) AS score FROM chunks_fts f "
            "JOIN chunks c ON c.id = f.rowid JOIN sources s ON s.id = c.source_id "
            f"WHERE chunks_fts MATCH ? AND {where} ORDER BY bm25(chunks_fts) LIMIT ?",
            [match, *params, want],
        ).fetchall()
        ranked = _group_by_source(con, [(r[0], float(r[1])) for r in rows])
        if len(ranked) >= depth or len(rows) < want:
            return ranked[:depth]
        want *= 4


def min_max(scores: Sequence[float]) -> list[float]:
    """Scores mapped linearly to [0, 1]: the best -> 1, the worst -> 0; all equal -> all 1."""
    if not scores:
        return []
    lo, hi = min(scores), max(scores)
    if hi <= lo:
        return [1.0] * len(scores)
    return [(s - lo) / (hi - lo) for s in scores]


def fuse(rankings: dict[str, list[tuple[int, float, int]]], weights: dict[str, float], rrf_k: int = 60, *,
         method: str = "relative") -> list[tuple[int, float, int, dict[str, Any]]]:
    """Fuse per-mode rankings of sources (best first) into one.

    ``relative``: ``sum_m w_m * minmax_m(score) / sum_m w_m``, a source absent from a ranking counting 0
    there. ``rrf``: ``sum_m w_m / (rrf_k + rank_m)``. Returns (source_id, fused score, best chunk,
    per-mode detail ``{mode: {"rank", "score"[, "normalized"]}}``), best first, ties by source id.
    """
    if method not in FUSIONS:
        raise InvalidInput(f"fusion must be one of {', '.join(FUSIONS)}, not {method!r}", field="fusion")
    for mode, w in weights.items():
        if mode in rankings and not (w >= 0 and np.isfinite(w)):
            raise InvalidInput(f"{mode}_weight must be a finite number >= 0, not {w!r}", field=f"{mode}_weight")
    total_weight = sum(weights[mode] for mode in rankings) or 1.0
    fused: dict[int, float] = {}
    detail: dict[int, dict[str, Any]] = {}
    chunk_of: dict[int, int] = {}
    for mode, ranking in rankings.items():
        norm = min_max([score for _, score, _ in ranking]) if method == "relative" else []
        for rank, (sid, score, cid) in enumerate(ranking, start=1):
            if method == "relative":
                part = weights[mode] * norm[rank - 1] / total_weight
                detail.setdefault(sid, {})[mode] = {"rank": rank, "score": score, "normalized": norm[rank - 1]}
            else:
                part = weights[mode] / (rrf_k + rank)
                detail.setdefault(sid, {})[mode] = {"rank": rank, "score": score}
            fused[sid] = fused.get(sid, 0.0) + part
            chunk_of.setdefault(sid, cid)  # dense is fused first: its best chunk wins ties of passage
    return sorted(((sid, sc, chunk_of[sid], detail[sid]) for sid, sc in fused.items()),
                  key=lambda t: (-t[1], t[0]))


# -- snippets ---------------------------------------------------------------------------------------


STEM = 6  # snippet matching compares words by their first STEM letters ("planets" ~ "planet")


@dataclass(frozen=True)
class QueryTerms:
    """A query's terms (stopwords dropped, cut to STEM letters) and one regex over lowercased text
    finding the words that match one: the same word, or for a term of STEM letters, any word that
    starts with it."""

    terms: frozenset[str]
    regex: re.Pattern[str]

    @classmethod
    def of(cls, query: str) -> QueryTerms | None:
        terms = frozenset(w[:STEM] for w in _WORD.findall(query.lower()) if w not in STOPWORDS)
        if not terms:
            return None
        alts = sorted((re.escape(t) + (r"\w*" if len(t) == STEM else r"\b") for t in terms), key=len, reverse=True)
        return cls(terms, re.compile(r"\b(?:" + "|".join(alts) + ")"))

    def find(self, text: str) -> list[tuple[int, str]]:
        """(offset, term) of every matching word of ``text``."""
        low = text.lower()
        if len(low) == len(text):  # one C-level scan (case-folding the pattern instead is 2x slower)
            return [(m.start(), m.group()[:STEM]) for m in self.regex.finditer(low)]
        return [(m.start(), w) for m in _WORD.finditer(text) if (w := m.group().lower()[:STEM]) in self.terms]


def make_snippet(text: str, chunk_start: int, query: str, *, width: int = 320,
                 terms: QueryTerms | None = None) -> tuple[str, int, int]:
    """The best sentence of a chunk for ``query`` marked with ``**``, in about ``width`` characters of
    context. Returns (snippet, span_start, span_end) with the span's offsets in the source text.

    The best sentence has the most distinct query terms (ties: the earliest, the chunk's first
    sentence slightly preferred). ``terms`` is ``QueryTerms.of(query)``, passed in when one query
    makes many snippets."""
    if terms is None:
        terms = QueryTerms.of(query)
    found = terms.find(text) if terms is not None else []
    best = (-1.0, 0, len(text))
    at = 0
    for s, e in sentence_spans(text):
        if not _WORD.search(text, s, e):
            continue
        seen = set()
        while at < len(found) and found[at][0] < e:
            if found[at][0] >= s:
                seen.add(found[at][1])
            at += 1
        score = len(seen) + (0.001 if s == 0 else 0)
        if score > best[0]:
            best = (score, s, e)
    _, s, e = best
    while e > s and text[e - 1].isspace():
        e -= 1
    span = text[s:e]
    if len(span) > width:
        cut = span[:width].rsplit(" ", 1)[0] or span[:width]
        return ("**" + cut + "** …").replace("\n", " "), chunk_start + s, chunk_start + s + len(cut)
    room = max(0, width - len(span))
    left = text[max(0, s - room // 2) : s]
    right = text[e : e + room - len(left)]
    if s - len(left) > 0:
        left = "… " + left.split(" ", 1)[-1] if " " in left else "… " + left
    if e + len(right) < len(text):
        right = right.rsplit(" ", 1)[0] + " …" if " " in right else right + " …"
    snippet = (left + "**" + span + "**" + right).replace("\n", " ")
    return snippet.strip(), chunk_start + s, chunk_start + e


def build_hits(con: sqlite3.Connection, ranked: list[tuple[int, float, int, dict[str, Any] | None]],
               query: str, *, explain: bool) -> list[Hit]:
    """Join ranked (source, score, chunk) rows with the catalog into hits. Rows deleted since the
    ranking was made are skipped, never shown half-way."""
    if not ranked:
        return []
    cids = [r[2] for r in ranked]
    rows = {
        r[0]: r
        for r in con.execute(
            "SELECT c.id, c.start, c.end, c.text, s.kind, s.key, s.metadata, c.metadata FROM chunks c "
            f"JOIN sources s ON s.id = c.source_id WHERE c.id IN ({','.join('?' * len(cids))})", cids)
    }
    hits: list[Hit] = []
    terms = QueryTerms.of(query)
    for _sid, score, cid, detail in ranked:
        row = rows.get(cid)
        if row is None:
            continue
        _, start, end, text, kind, key, meta, chunk_meta = row
        metadata = {**json.loads(meta), **json.loads(chunk_meta)}  # the chunk's page/slide/message wins
        snippet, s0, s1 = make_snippet(text, start, query, terms=terms)
        hits.append(Hit(
            id=key, kind=kind, path=key if kind == "file" else None, score=float(score), chunk_id=cid,
            start=start, end=end, snippet=snippet, span_start=s0, span_end=s1, metadata=metadata,
            explain=detail if explain else None,
        ))
    return hits
