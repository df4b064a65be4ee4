"""The from-scratch tokenizer gives the same ids and masks as the model's Hugging Face tokenizer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from indexer.transformer import WordPieceTokenizer

EDGE_CASES = [
    "",
    " ",
    "\t\n\r  ",
    "Café naïve résumé, Ångström, São Paulo, Zürich, Dvořák",
    "ÀÉÎÕÜ FAÇADE İstanbul ß ẞ ǅ ﬁ ﬃ",
    "ΟΔΟΣ Σίσυφος ΣΟΦΟΣ",
    "北京大学 is in 北京, 中文字符 mixed with English",
    "日本語のテキスト and 한국어 텍스트",
    "emoji 😀🎉 thumbs 👍🏽 family 👨‍👩‍👧 flag 🇫🇷",
    "control\x00chars\x07here\x1b[0m and \x7f delete",
    "zero\u200bwidth\u200djoiner soft\xadhyphen bom\ufeff",
    "tabs\tand\nnewlines\r\nmixed\x0bvertical\x0cform feed",
    "line\u2028separator\u2029paragraph\xa0nbsp\u3000ideographic\u2003em",
    "replacement \ufffd char, private \ue000 use, unassigned \u0378 point",
    "a" * 100,
    "a" * 101,
    "b" * 99 + "é" + " tail",
    "pneumonoultramicroscopicsilicovolcanoconiosis" * 3,
    "hello,world!!(test)[x]{y}<z> a/b\\c 'q' \"dq\"",
    "$100 & 50% ^caret `tick` ~tilde |pipe| #hash @at _under_",
    "“smart quotes” — em dash – en dash … ellipsis ‹guillemets› «more» ¿qué? ¡sí!",
    "x[MASK]y [CLS] [cls] [SEP] [PAD] [UNK]",
    "C++ e.g. U.S.A. 3.14 1,000,000 10^-5 p<0.05 IL-1β TNF-α CD4+ T-cells",
    "ＦＵＬＬＷＩＤＴＨ ａｂｃ １２３",
    "word " * 300,
    "long passage about cells. " * 80,
]


def _hf(hf_tokenizer, texts, **kw):
    return hf_tokenizer(texts, truncation=True, max_length=256, **kw)


@pytest.fixture(scope="module")
def tokenizer(model_dir) -> WordPieceTokenizer:
    return WordPieceTokenizer.from_model_dir(model_dir)


def test_max_length_comes_from_the_sentence_transformers_config(tokenizer):
    assert tokenizer.max_length == 256


def _assert_same_ids(tokenizer, hf_tokenizer, texts: list[str], min_truncated: int) -> None:
    expected = _hf(hf_tokenizer, texts)["input_ids"]
    mismatched = [t for t, ids in zip(texts, expected, strict=True) if tokenizer.encode(t).ids != ids]
    assert not mismatched, f"{len(mismatched)} of {len(texts)} texts differ, first: {mismatched[0][:200]!r}"
    # The sample must exercise truncation, or the 256 limit goes untested.
    assert sum(len(ids) == 256 for ids in expected) > min_truncated


def test_corpus_queries_and_passages_match_reference(tokenizer, hf_tokenizer, corpus_queries, corpus_passages):
    _assert_same_ids(tokenizer, hf_tokenizer, corpus_queries + corpus_passages, min_truncated=40)


@pytest.mark.scifact
def test_scifact_queries_and_passages_match_reference(tokenizer, hf_tokenizer, scifact_dir):
    with open(scifact_dir / "queries.jsonl", encoding="utf-8") as f:
        queries = [json.loads(line)["text"] for line in f if line.strip()]
    with open(scifact_dir / "corpus.jsonl", encoding="utf-8") as f:
        passages = [f"{d['title']} {d['text']}" for d in map(json.loads, filter(str.strip, f))]
    _assert_same_ids(tokenizer, hf_tokenizer, queries + passages[:2000], min_truncated=100)


@pytest.mark.parametrize("text", EDGE_CASES, ids=range(len(EDGE_CASES)))
def test_edge_cases_match_reference(tokenizer, hf_tokenizer, text):
    encoding = tokenizer.encode(text)
    expected = _hf(hf_tokenizer, [text])["input_ids"][0]
    assert encoding.ids == expected, (encoding.tokens, hf_tokenizer.convert_ids_to_tokens(expected))
    assert encoding.tokens == hf_tokenizer.convert_ids_to_tokens(expected)


def test_batch_padding_and_mask_match_reference(tokenizer, hf_tokenizer, corpus_queries, corpus_passages):
    texts = EDGE_CASES + corpus_queries[:20] + corpus_passages[:10]
    ids, mask = tokenizer.encode_batch(texts)
    expected = _hf(hf_tokenizer, texts, padding=True, return_tensors="np")
    assert ids.dtype == np.int64 and ids.shape == mask.shape
    np.testing.assert_array_equal(ids, expected["input_ids"])
    np.testing.assert_array_equal(mask, expected["attention_mask"])


def test_wordpiece_takes_the_longest_known_piece_first():
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "u", "##aff", "##a", "##able", "##ff"]
    tiny = WordPieceTokenizer({token: i for i, token in enumerate(vocab)}, max_length=16)
    assert tiny.tokenize("Unaffable") == ["un", "##aff", "##able"]
    # One stretch with no piece makes the whole word unknown, not just that stretch.
    assert tiny.tokenize("unaffablex un") == ["[UNK]", "un"]


def test_words_over_100_characters_are_unknown(tokenizer):
    assert tokenizer.encode("a" * 101).tokens == ["[CLS]", "[UNK]", "[SEP]"]
    assert "[UNK]" not in tokenizer.encode("a" * 100).tokens


def test_truncation_keeps_cls_and_sep(tokenizer):
    encoding = tokenizer.encode("word " * 1000)
    assert len(encoding) == 256 and encoding.truncated
    assert encoding.tokens[0] == "[CLS]" and encoding.tokens[-1] == "[SEP]"
    assert not tokenizer.encode("word " * 254).truncated


def test_a_bare_string_is_rejected_by_the_batch_call(tokenizer):
    with pytest.raises(TypeError):
        tokenizer.encode_batch("not a list")
