"""Language-aware keyword analysis: text -> the terms a keyword index holds and a keyword query asks for.

Every store's keyword side (the embedded store's FTS5 table, the Qdrant and Postgres stores' BM25
sparse vectors) and the query side call :class:`Analyzer`, so a document and a query always become
terms the same way:

1. lowercase (Unicode-aware), split into words (``\\w+``);
2. a run of CJK characters (Chinese, Japanese kana, Korean Hangul: written without spaces) becomes its
   overlapping character bigrams ("机器学习" -> 机器 器学 学习; a lone character stays itself), as
   Lucene's CJKAnalyzer does: no dictionary to download, and a two-character word inside a sentence is
   found;
3. any other word is stemmed with the collection language's Snowball stemmer (``snowballstemmer``;
   about 30 languages, no model), *then* folded to its base letters (NFKD, combining marks dropped):
   stemming first, because the stemmers expect the accents ("chevaux" -> "cheval", "Häuser" -> "haus"),
   folding after, so a query typed without accents still meets them ("ecole" ~ "école").

Queries drop the language's stopwords (small lists, below; none for languages without one), unless
that leaves nothing, and ask for each word's stem *and* the word itself (folded), which catches the
plurals a stemmer leaves apart from their singular. Documents keep every word, as stems.

``auto``: each document's language is detected (:func:`detect`, py3langid: a naive Bayes model of
byte n-grams shipped inside its 4.5 MB wheel, offline, 97 languages) and its words stemmed with that
language's stemmer; a query, too short to detect reliably, is stemmed with every stemmer and asks for
any of the stems (a word's stems in the other languages are mostly the word itself or rare).
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence

from indexer.analysis.words import STOPWORDS as ENGLISH_STOPWORDS
from indexer.analysis.words import WORD

# ISO 639-1 code -> Snowball algorithm (None: no stemmer; words are only lowercased and folded).
LANGUAGES: dict[str, str | None] = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german", "el": "greek",
    "en": "english", "eo": "esperanto", "es": "spanish", "et": "estonian", "eu": "basque", "fa": "persian",
    "fi": "finnish", "fr": "french", "ga": "irish", "hi": "hindi", "hu": "hungarian", "hy": "armenian",
    "id": "indonesian", "it": "italian", "lt": "lithuanian", "ne": "nepali", "nl": "dutch", "no": "norwegian",
    "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian", "sv": "swedish",
    "ta": "tamil", "tr": "turkish", "yi": "yiddish",
    # written without spaces: bigrams do the work, no stemmer
    "zh": None, "ja": None, "ko": None,
}
AUTO = "auto"
DEFAULT = "en"

# Query-side stopwords: the commonest function words only (a stopword costs a query only speed: bm25's
# IDF already weighs it near zero). Languages not listed drop none.
STOPWORDS: dict[str, frozenset[str]] = {
    "en": ENGLISH_STOPWORDS,
    "de": frozenset("""der die das den dem des ein eine einen einem einer eines und oder aber in im an am auf
        aus bei mit nach von vom zu zum zur für über unter ist sind war waren wird werden hat haben nicht
        auch als wie es er sie wir ich ihr sich so noch nur""".split()),
    "fr": frozenset("""le la les un une des du de d l et ou mais dans en sur sous par pour avec sans au aux
        ce cet cette ces est sont été être a ont il elle ils elles nous vous je on ne pas que qui se
        son sa ses leur leurs""".split()),
    "es": frozenset("""el la los las un una unos unas y o pero en de del al por para con sin sobre es son
        fue ser está están ha han que se su sus lo le les no como más muy""".split()),
    "it": frozenset("""il lo la i gli le un uno una e o ma in di da del della dei delle al alla per con su
        è sono era essere ha hanno che si non come più""".split()),
    "pt": frozenset("""o a os as um uma uns umas e ou mas em no na nos nas de do da dos das ao por para com
        sem é são foi ser está estão que se seu sua não como mais""".split()),
    "nl": frozenset("""de het een en of maar in op aan van voor met bij uit naar over is zijn was waren
        wordt worden heeft hebben niet ook als dat die er ze hij zij wij""".split()),
}

# CJK: Han (with extensions and compatibility ideographs), kana, Hangul (jamo and syllables).
_CJK = ("\u1100-\u11ff\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3130-\u318f\u3190-\u31ff\u3400-\u4dbf"
        "\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\U00020000-\U0003134f")
_CJK_RUN = re.compile(f"([{_CJK}]+)")


def check_language(language: str) -> str:
    """``language`` as stored (lowercase), or ValueError naming the choices."""
    code = language.strip().lower()
    if code != AUTO and code not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}: use one of {', '.join(sorted(LANGUAGES))} or auto")
    return code


class _Stemmer:
    """One Snowball stemmer, cached and locked (a snowballstemmer object keeps state while it stems)."""

    def __init__(self, algorithm: str) -> None:
        import snowballstemmer  # on first use: its 30 stemmers cost ~50 ms of every command's start-up

        self._stemmer = snowballstemmer.stemmer(algorithm)
        self._lock = threading.Lock()
        self.stem = functools.lru_cache(maxsize=100_000)(self._stem)

    def _stem(self, word: str) -> str:
        with self._lock:
            return fold(self._stemmer.stemWord(word))


@functools.cache
def _stemmer(code: str) -> _Stemmer | None:
    algorithm = LANGUAGES.get(code)
    return _Stemmer(algorithm) if algorithm else None


@functools.lru_cache(maxsize=100_000)
def fold(word: str) -> str:
    """``word`` without diacritics, in compatibility form (fullwidth letters become ASCII)."""
    if word.isascii():
        return word
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def words(text: str) -> Iterable[tuple[bool, str]]:
    """(is_cjk, word) of ``text`` lowercased: CJK runs apart from the letters around them."""
    for w in WORD.findall(text.lower()):
        if w.isascii():
            yield False, w
            continue
        for i, part in enumerate(_CJK_RUN.split(w)):
            if part:
                yield i % 2 == 1, part


def bigrams(run: str) -> list[str]:
    run = unicodedata.normalize("NFKC", run)
    return [run] if len(run) < 2 else [run[i : i + 2] for i in range(len(run) - 1)]


class Analyzer:
    """A collection's keyword analysis: ``language`` is a code of :data:`LANGUAGES` or ``auto``."""

    def __init__(self, language: str = DEFAULT) -> None:
        self.language = check_language(language)

    def for_document(self, texts: Sequence[str]) -> Analyzer:
        """The analyzer for one document (its chunks' ``texts``): under ``auto`` the one of its detected
        language, else this one."""
        if self.language != AUTO:
            return self
        return _analyzer(detect(texts))

    def document_terms(self, text: str) -> list[str]:
        """Every term of ``text``, in order, repeats kept (a term's count is its frequency)."""
        stemmer = _stemmer(self.language) if self.language != AUTO else None
        out: list[str] = []
        for cjk, w in words(text):
            if cjk:
                out += bigrams(w)
            else:
                out.append(stemmer.stem(w) if stemmer else fold(w))
        return out

    def term_offsets(self, text: str) -> list[tuple[int, str]]:
        """(offset in ``text``, term) of every term: where a snippet marks what the query matched."""
        stemmer = _stemmer(self.language) if self.language != AUTO else None
        out: list[tuple[int, str]] = []
        for m in WORD.finditer(text):
            at = m.start()
            for cjk, w in words(m.group()):
                if cjk:
                    out += [(at + i, b) for i, b in enumerate(bigrams(w))]
                else:
                    out.append((at, stemmer.stem(w) if stemmer else fold(w)))
                at += len(w)
        return out

    def query_terms(self, text: str) -> list[str]:
        """The distinct terms of a query, stopwords dropped (all words kept if that leaves none)."""
        found = list(words(text))
        stop = STOPWORDS.get(self.language, frozenset()) if self.language != AUTO else _auto_stopwords(text)
        kept = [(cjk, w) for cjk, w in found if cjk or w not in stop] or found
        stemmers = [_stemmer(self.language)] if self.language != AUTO else _all_stemmers()
        out: list[str] = []
        for cjk, w in kept:
            if cjk:
                out += bigrams(w)
            elif self.language == AUTO:
                out += [fold(w), *(s.stem(w) for s in stemmers if s is not None)]
            else:
                # The word as written (folded) too: Snowball's stemmers conflate a singular and its plural
                # unevenly (Spanish "ciudad" -> ciud but "ciudades" -> ciudad), and then a document's stem
                # is the query's word itself.
                s = stemmers[0]
                out += [s.stem(w), fold(w)] if s else [fold(w)]
        return list(dict.fromkeys(out))


@functools.cache
def _analyzer(code: str) -> Analyzer:
    """A detected language's analyzer (a code outside LANGUAGES has no stemmer: its words are folded)."""
    a = Analyzer.__new__(Analyzer)
    a.language = code
    return a


@functools.cache
def _all_stemmers() -> list[_Stemmer | None]:
    return [_stemmer(code) for code in LANGUAGES]


def _auto_stopwords(text: str) -> frozenset[str]:
    return STOPWORDS.get(detect([text]), frozenset())


# -- detection ------------------------------------------------------------------------------------
_identifier = None
_identifier_lock = threading.Lock()
DETECT_CHARS = 2000  # a document's language is judged on its first characters (py3langid: ~1 ms per 1,000)


def detect(texts: Sequence[str]) -> str:
    """The language code of a document (its chunks' ``texts``), by py3langid; a language without a
    Snowball stemmer comes back as itself (its words are then only folded), no letters as ``en``."""
    global _identifier
    sample, size = [], 0
    for t in texts:
        sample.append(t[: DETECT_CHARS - size])
        size += len(sample[-1])
        if size >= DETECT_CHARS:
            break
    joined = " ".join(sample)
    if not any(c.isalpha() for c in joined):
        return DEFAULT
    with _identifier_lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
        code, _ = _identifier.classify(joined)
    return _SAME.get(str(code), str(code))


_SAME = {"nn": "no", "nb": "no", "yue": "zh", "wuu": "zh"}  # py3langid labels that share a stemmer
