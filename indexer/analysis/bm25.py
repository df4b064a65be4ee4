"""BM25 as sparse vectors, for stores without a full-text index of their own (Qdrant, Postgres).

A chunk's vector holds, per distinct term, BM25's saturated term frequency
``tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / AVG_WORDS))``; a query's vector holds 1 per distinct
term. Qdrant's IDF modifier multiplies each query term by the collection's inverse document frequency
at search time (the Postgres store multiplies by its own document frequencies, kept per term), so the
dot product is BM25 (Robertson & Zaragoza) with the collection's current IDF.
``AVG_WORDS`` is a constant, as in FastEmbed's ``Qdrant/bm25`` (which needs a model download; this
needs none): a running average would change the weights of chunks already written. Our chunks are
windows of at most 256 word pieces, about 150 words of English prose.

Terms are what the embedded store's FTS5 tokenizer (``porter unicode61 remove_diacritics 2``) makes:
lowercased words without diacritics, stemmed (Snowball English, the Porter stemmer's successor),
hashed to 32-bit indices (CRC32; a collision merges two terms, about one pair in 10^5 for a 1,000
term query against a 10^5 term vocabulary). Query words drop English stopwords, as in the embedded store.
"""

from __future__ import annotations

import functools
import unicodedata
import zlib
from collections import Counter

import snowballstemmer

from indexer.analysis.words import STOPWORDS, WORD

K1 = 1.2
B = 0.75
AVG_WORDS = 150.0

_stemmer = snowballstemmer.stemmer("english")


@functools.lru_cache(maxsize=100_000)
def _term(word: str) -> int:
    return zlib.crc32(_stemmer.stemWord(word).encode())


def _words(text: str) -> list[str]:
    lower = text.lower()
    if lower.isascii():  # (most text: nothing to fold, and the per-character pass below is the slow part)
        return WORD.findall(lower)
    folded = unicodedata.normalize("NFKD", lower)
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return WORD.findall(plain)


def document_vector(text: str) -> tuple[list[int], list[float]]:
    """(indices, values) of a chunk's BM25 term weights."""
    words = _words(text)
    tf = Counter(_term(w) for w in words)
    norm = K1 * (1 - B + B * len(words) / AVG_WORDS)
    return list(tf), [n * (K1 + 1) / (n + norm) for n in tf.values()]


def query_vector(text: str) -> tuple[list[int], list[float]]:
    """(indices, values) of a query: its words without stopwords (all of them if that leaves none)."""
    words = _words(text)
    kept = [w for w in words if w not in STOPWORDS] or words
    terms = list(dict.fromkeys(_term(w) for w in kept))
    return terms, [1.0] * len(terms)
