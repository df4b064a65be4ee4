"""The keyword analysis every store shares (indexer/analysis/languages.py): documents and queries become
the same terms, per language."""

from __future__ import annotations

import pytest

from indexer.analysis.languages import Analyzer, check_language, detect


@pytest.mark.parametrize(("language", "document", "query"), [
    ("de", "Häuser", "Haus"), ("de", "Bücher", "buch"), ("fr", "chevaux", "cheval"), ("fr", "école", "ecole"),
    ("es", "canciones", "canción"), ("es", "ciudades", "ciudad"), ("en", "running", "runs"),
])
def test_a_query_word_meets_another_form_of_it(language, document, query):
    a = Analyzer(language)
    assert set(a.query_terms(query)) & set(a.document_terms(document)), (a.query_terms(query),
                                                                           a.document_terms(document))


def test_cjk_runs_become_overlapping_bigrams_on_both_sides_in_any_language():
    for language in ("zh", "en", "de"):
        a = Analyzer(language)
        doc = a.document_terms("我们研究机器学习。")
        assert doc == ["我们", "们研", "研究", "究机", "机器", "器学", "学习"]
        assert a.query_terms("机器学习") == ["机器", "器学", "学习"]
        assert a.query_terms("学") == ["学"]


def test_stopwords_leave_queries_but_not_documents():
    de = Analyzer("de")
    assert de.query_terms("die Häuser") == ["haus", "hauser"]  # the stem, and the word as written (folded)
    assert de.query_terms("die der") == ["die", "der"]  # only stopwords: all kept
    assert de.document_terms("die Häuser") == ["die", "haus"]


def test_term_offsets_point_at_the_original_characters():
    text = "Alte Häuser, 机器学习!"
    got = Analyzer("de").term_offsets(text)
    assert [(at, t) for at, t in got if t in ("haus", "机器", "学习")] == [(5, "haus"), (13, "机器"), (15, "学习")]
    assert text[5:11] == "Häuser" and text[13:15] == "机器"


def test_auto_detects_the_document_and_asks_for_every_stem_of_the_query():
    auto = Analyzer("auto")
    german = auto.for_document(["Die alten Häuser am Fluss wurden im Winter renoviert."])
    assert german.language == "de" and "haus" in german.document_terms("Häuser")
    assert {"haus", "cheval"} <= set(auto.query_terms("Haus cheval"))
    assert detect(["Les chevaux galopent dans le pré derrière la ferme."]) == "fr"
    assert detect(["12 34 !!"]) == "en"  # nothing to judge by


def test_an_unknown_language_names_the_choices():
    assert check_language(" DE ") == "de"
    with pytest.raises(ValueError, match="unknown language 'xx'.*zh.*or auto"):
        check_language("xx")
