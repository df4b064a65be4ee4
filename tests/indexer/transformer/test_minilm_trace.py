"""The trace shows real intermediate states with the documented shapes, and agrees with encode()."""

from __future__ import annotations

import json

import numpy as np
import pytest

from indexer.transformer import architecture, parameter_table, render_trace_text, token_similarity, trace

TEXT = "Aspirin lowers the risk of heart attacks."


@pytest.fixture(scope="module")
def tr(minilm) -> dict:
    return trace(minilm, TEXT)


def test_trace_is_plain_json(tr):
    assert json.loads(json.dumps(tr))["tokens"] == tr["tokens"]


def test_trace_has_the_documented_shapes(tr, minilm):
    T = len(minilm.tokenizer.encode(TEXT))
    assert tr["tokens"][0] == "[CLS]" and tr["tokens"][-1] == "[SEP]" and len(tr["ids"]) == T
    for part in ("word", "position", "token_type", "sum", "layernorm"):
        assert np.shape(tr["embeddings"][part]) == (T, 384), part
    assert len(tr["layers"]) == 6
    for layer in tr["layers"]:
        assert np.shape(layer["attention"]) == (12, T, T)
        assert len(layer["output"]["norm"]) == len(layer["ffn_active"]) == T
    assert np.shape(tr["pooled"]) == np.shape(tr["normalized"]) == (384,)


def test_embedding_parts_add_up(tr):
    e = {k: np.asarray(v) for k, v in tr["embeddings"].items()}
    np.testing.assert_allclose(e["word"] + e["position"] + e["token_type"], e["sum"], atol=1e-6)
    # LayerNorm output has a per-token mean near the mean of the LayerNorm bias, not the sum's.
    assert not np.allclose(e["sum"], e["layernorm"])


def test_attention_rows_are_distributions(tr):
    for layer in tr["layers"]:
        weights = np.asarray(layer["attention"])
        assert weights.min() >= 0
        np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)


def test_padding_gets_no_attention(minilm):
    ids, mask = minilm.tokenizer.encode_batch(
        ["short", "a much longer text that forces padding on the first"]
    )
    out = minilm.encoder(ids, mask, output_states=True)
    pad = mask[0] == 0
    assert pad.any()
    for weights in out.attentions:  # (B, H, T, T)
        assert np.all(weights[0][:, :, pad] == 0)
        np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)


def test_trace_ends_where_encode_ends(tr, minilm):
    np.testing.assert_allclose(tr["normalized"], minilm.encode([TEXT])[0], rtol=0, atol=1e-7)
    assert tr["pooled_norm"] == pytest.approx(np.linalg.norm(tr["pooled"]), rel=1e-6)


def test_parameter_table_sums_to_the_checkpoint(tr, minilm):
    table = parameter_table(minilm)
    assert tr["parameters"] == table
    assert table["total"] == minilm.encoder.num_parameters() == 22_713_216
    assert table["embeddings"]["word_embeddings"] == 30522 * 384
    layer = table["layers"][0]
    assert layer["attention"] == 4 * (384 * 384 + 384)
    assert layer["ffn"] == 384 * 1536 + 1536 + 1536 * 384 + 384
    assert layer["attention_layernorm"] == layer["ffn_layernorm"] == 2 * 384
    assert architecture(minilm)["parameters"]["total"] == table["total"]


def test_rendered_walkthrough_names_tokens_and_totals(tr):
    text = render_trace_text(tr)
    assert "##rin" in text and "lowers" in text and "layer 5" in text and "22,713,216" in text


def test_token_similarity_of_a_text_with_itself(minilm):
    sim = token_similarity(minilm, "heart attack", "heart attack risk")
    matrix = np.asarray(sim["similarity"])
    assert matrix.shape == (len(sim["tokens_a"]), len(sim["tokens_b"]))
    # The same word in nearly the same context is its own closest match.
    heart_a, heart_b = sim["tokens_a"].index("heart"), sim["tokens_b"].index("heart")
    assert matrix[heart_a].argmax() == heart_b and matrix[heart_a, heart_b] > 0.8
