"""Snippets: the best sentence of a hit's passage for the query, marked ``**like this**``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.analysis.languages import Analyzer
from indexer.analysis.words import STOPWORDS, WORD
from indexer.sentences import sentence_spans

STEM = 6  # snippet matching compares words by their first STEM letters ("planets" ~ "planet")


@dataclass(frozen=True)
class QueryTerms:
    """A query's terms (stopwords dropped, cut to STEM letters) and one regex over lowercased text
    finding the words that match one: the same word, or for a term of STEM letters, any word that
    starts with it."""

    terms: frozenset[str]
    regex: re.Pattern[str]
    # Set for collections in another language than English: words match by the collection's keyword
    # analysis ("Häuser" ~ "Haus", CJK bigrams), so the marked sentence holds what the keyword index found.
    analyzer: Analyzer | None = None

    @classmethod
    def of(cls, query: str, analyzer: Analyzer | None = None) -> QueryTerms | None:
        if analyzer is not None and analyzer.language != "en":
            analysed = frozenset(analyzer.query_terms(query))
            return cls(analysed, re.compile(r"\w+"), analyzer) if analysed else None
        terms = frozenset(w[:STEM] for w in WORD.findall(query.lower()) if w not in STOPWORDS)
        if not terms:
            return None
        alts = sorted((re.escape(t) + (r"\w*" if len(t) == STEM else r"\b") for t in terms), key=len, reverse=True)
        return cls(terms, re.compile(r"\b(?:" + "|".join(alts) + ")"))

    def find(self, text: str) -> list[tuple[int, str]]:
        """(offset, term) of every matching word of ``text``."""
        if self.analyzer is not None:
            return [(at, t) for at, t in self.analyzer.for_document([text]).term_offsets(text) if t in self.terms]
        low = text.lower()
        if len(low) == len(text):  # one C-level scan (case-folding the pattern instead is 2x slower)
            return [(m.start(), m.group()[:STEM]) for m in self.regex.finditer(low)]
        return [(m.start(), w) for m in WORD.finditer(text) if (w := m.group().lower()[:STEM]) in self.terms]


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
        if not WORD.search(text, s, e):
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

