"""Chunking: windows that fit the model, overlap, prefer boundaries, and point back into the text."""

from __future__ import annotations

import pytest

from indexer.chunking import chunk_text

PARAGRAPH = (
    "Semantic search finds documents by meaning rather than by exact words. "
    "A sentence encoder maps each passage to a vector, and similar passages land close together. "
    "The index stores those vectors and answers nearest-neighbour queries quickly.\n\n"
)


def _chunks(embedder, text, max_tokens=64, overlap=16):
    return chunk_text(text, embedder.token_offsets(text), max_tokens=max_tokens, overlap=overlap)


def test_short_text_is_one_chunk_with_exact_offsets(embedder):
    text = "  Hello there, world.  "
    [c] = _chunks(embedder, text)
    assert (c.start, c.end) == (2, 21)
    assert c.text == text[c.start : c.end] == "Hello there, world."


def test_long_text_windows_fit_the_model_and_cover_everything(embedder):
    text = PARAGRAPH * 12
    chunks = _chunks(embedder, text, max_tokens=64, overlap=16)
    assert len(chunks) > 5
    for c in chunks:
        assert c.text == text[c.start : c.end]
        assert c.tokens <= 64
        # the embedder would see exactly this many tokens (+ [CLS] and [SEP]): nothing is truncated
        assert embedder.count_tokens([c.text])[0] <= 66
    assert chunks[0].start == 0 and chunks[-1].end == len(text.rstrip())
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.start < a.end, "consecutive chunks overlap"
        assert b.start > a.start


def test_windows_end_at_sentence_or_paragraph_boundaries(embedder):
    text = PARAGRAPH * 12
    for c in _chunks(embedder, text, max_tokens=64, overlap=16)[:-1]:
        assert c.text.rstrip()[-1] in ".!?", repr(c.text[-30:])


def test_no_chunk_starts_or_ends_inside_a_word(embedder):
    # one endless "sentence" of long words forces cuts without any boundary
    text = " ".join(["internationalization electroencephalography"] * 120)
    chunks = _chunks(embedder, text, max_tokens=40, overlap=8)
    assert len(chunks) > 3
    for c in chunks:
        assert c.start == 0 or text[c.start - 1] == " "
        assert c.end == len(text) or text[c.end] == " "


def test_empty_text_has_no_chunks(embedder):
    assert _chunks(embedder, "   \n\n ") == []


def test_tiny_windows_are_refused():
    with pytest.raises(ValueError, match="max_tokens"):
        chunk_text("abc", [(0, 3)], max_tokens=2, overlap=0)
