"""Snippets: the best sentence of a hit's chunk for the query, with offsets into the source."""

from __future__ import annotations

from indexer.search import QueryTerms, make_snippet

TEXT = ("Bread needs flour and water. Sourdough bread rises with a starter culture over many hours. "
        "Planets orbit the sun. The starter is fed flour daily.")


def test_the_sentence_with_most_query_terms_is_marked():
    snippet, s, e = make_snippet(TEXT, 100, "sourdough starter rising")
    assert "**Sourdough bread rises with a starter culture over many hours.**" in snippet
    assert TEXT[s - 100 : e - 100] == "Sourdough bread rises with a starter culture over many hours."


def test_terms_match_by_stem_and_case():
    # "planetary" shares the 6-letter stem of "planets"; "SUN" matches "sun" whatever the case
    snippet, s, e = make_snippet(TEXT, 0, "PLANETARY sun")
    assert TEXT[s:e] == "Planets orbit the sun."
    # a short term matches whole words only: "sun" is not found inside "sunday"
    assert QueryTerms.of("sun").find("Sunday sun") == [(7, "sun")]  # type: ignore[union-attr]


def test_no_query_terms_marks_the_first_sentence():
    snippet, s, e = make_snippet(TEXT, 0, "the and of")  # stopwords only
    assert QueryTerms.of("the and of") is None
    assert TEXT[s:e] == "Bread needs flour and water."


def test_text_whose_lowercase_changes_length_keeps_offsets():
    text = "İstanbul is large. The Bosphorus divides İstanbul and the strait is busy."
    assert len(text.lower()) != len(text)  # "İ" lowercases to two characters: the slow path runs
    snippet, s, e = make_snippet(text, 0, "bosphorus strait")
    assert text[s:e] == "The Bosphorus divides İstanbul and the strait is busy."
    assert "**The Bosphorus divides İstanbul and the strait is busy.**" in snippet


def test_precomputed_terms_give_the_same_snippet():
    q = "starter flour"
    assert make_snippet(TEXT, 5, q) == make_snippet(TEXT, 5, q, terms=QueryTerms.of(q))
