"""Sentence boundaries used by snippets: decimals, abbreviations and initials do not end a sentence."""

from __future__ import annotations

import pytest

from indexer.search import make_snippet
from indexer.sentences import sentence_spans


def sentences(text: str) -> list[str]:
    return [text[s:e].strip() for s, e in sentence_spans(text) if text[s:e].strip()]


@pytest.mark.parametrize("text", [
    "Seroprevalence was higher in strays (P<0.009).",
    "The dose was adjusted from 0.8 to about 1.0 g/kg per day.",
    "We found antibodies to T. gondii in most cats.",
    "Dr. Smith et al. reported it in the U.S. last year.",
    "See Fig. 2 and e.g. Table 3 for the approx. values.",
    "The novel by J. R. R. Tolkien sold well.",
])
def test_one_sentence_stays_whole(text: str) -> None:
    assert sentences(text) == [text]


def test_real_sentence_ends_still_split() -> None:
    text = 'It rained (a lot). Then it stopped! Did it? "Yes." Finally 3 cats came.'
    assert sentences(text) == ["It rained (a lot).", "Then it stopped!", "Did it?", '"Yes."', "Finally 3 cats came."]


def test_spans_cover_the_text_exactly_and_newlines_separate() -> None:
    text = "First line. Second\n\nnext para T. gondii here.\nlast"
    spans = sentence_spans(text)
    assert "".join(text[s:e] for s, e in spans) == text
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert sentences(text) == ["First line.", "Second", "next para T. gondii here.", "last"]


@pytest.mark.parametrize(("text", "query", "sentence"), [
    ("Cats were tested. Seroprevalence was higher in strays (P<0.009) than in pets. Dogs were not.",
     "seroprevalence strays", "Seroprevalence was higher in strays (P<0.009) than in pets."),
    ("Diet matters. Protein was adjusted from 0.8 to about 1.0 g/kg in the trial. Others differ.",
     "protein adjusted trial", "Protein was adjusted from 0.8 to about 1.0 g/kg in the trial."),
    ("Cats were sampled. Most had antibodies to T. gondii by the age of two. None were ill.",
     "antibodies gondii", "Most had antibodies to T. gondii by the age of two."),
])
def test_snippet_marks_the_whole_sentence(text: str, query: str, sentence: str) -> None:
    snippet, s0, s1 = make_snippet(text, 100, query)
    assert "**" + sentence + "**" in snippet
    assert text[s0 - 100 : s1 - 100] == sentence
