"""BM25 as sparse vectors, for stores without a full-text index of their own (Qdrant, Postgres).

A chunk's vector holds, per distinct term, BM25's saturated term frequency
``tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / AVG_WORDS))``; a query's vector holds 1 per distinct
term. Qdrant's IDF modifier multiplies each query term by the collection's inverse document frequency
at search time (the Postgres store multiplies by its own document frequencies, kept per term), so the
dot product is BM25 (Robertson & Zaragoza) with the collection's current IDF.
``AVG_WORDS`` is a constant, as in FastEmbed's ``Qdrant/bm25`` (which needs a model download; this
needs none): a running average would change the weights of chunks already written. Our chunks are
windows of at most 256 word pieces, about 150 words of English prose.

Terms are the collection's :class:`~indexer.analysis.languages.Analyzer` terms (the same the embedded
store's FTS5 table holds: stemmed per language, diacritics folded, CJK bigrams), hashed to 32-bit
indices (CRC32; a collision merges two terms, about one pair in 10^5 for a 1,000 term query against a
10^5 term vocabulary). Query words drop the language's stopwords.

``analyzer=None`` is the analysis of collections made before languages existed (kept so their stored
vectors and their queries still agree): lowercased, folded, *then* stemmed with Snowball English, English
stopwords, a CJK run one term.
"""

from __future__ import annotations

import functools
import unicodedata
import zlib
from collections import Counter

import snowballstemmer

from indexer.analysis.languages import Analyzer
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


@functools.lru_cache(maxsize=100_000)
def _hash(term: str) -> int:
    return zlib.crc32(term.encode())


def document_vector(text: str, analyzer: Analyzer | None = None) -> tuple[list[int], list[float]]:
    """(indices, values) of a chunk's BM25 term weights (``analyzer``: the chunk's document's, see
    ``Analyzer.for_document``; None: the legacy analysis)."""
    if analyzer is None:
        terms = [_term(w) for w in _words(text)]
    else:
        terms = [_hash(t) for t in analyzer.document_terms(text)]
    tf = Counter(terms)
    norm = K1 * (1 - B + B * len(terms) / AVG_WORDS)
    return list(tf), [n * (K1 + 1) / (n + norm) for n in tf.values()]


def query_vector(text: str, analyzer: Analyzer | None = None) -> tuple[list[int], list[float]]:
    """(indices, values) of a query: its terms without stopwords (all of them if that leaves none)."""
    if analyzer is None:
        words = _words(text)
        kept = [w for w in words if w not in STOPWORDS] or words
        terms = list(dict.fromkeys(_term(w) for w in kept))
    else:
        terms = list(dict.fromkeys(_hash(t) for t in analyzer.query_terms(text)))
    return terms, [1.0] * len(terms)
