"""The NumPy model reproduces sentence-transformers' embeddings from the same checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import load_file

from indexer.transformer import BertConfig, BertEncoder, assign, load_weights


@pytest.fixture(scope="module")
def mixed_texts(corpus_queries, corpus_passages, minilm) -> list[str]:
    """48 texts: short queries, mid-length passage openings, and full passages cut at 256 tokens.
    Each kind fills at least one batch of 8, and the 256-token ones share a batch with shorter, padded
    ones. The time goes into that padded batch (rows x 256 positions): 200 texts in batches of 16 cost
    several times this and exercised no other path."""
    long = [p for p in corpus_passages if minilm.tokenizer.encode(p).truncated][:4]
    medium = [" ".join(p.split()[:60]) for p in corpus_passages[100:120]]
    texts = corpus_queries[:24] + medium + long
    assert len(texts) == 48
    return texts


@pytest.fixture(scope="module")
def checkpoint(model_dir) -> dict[str, np.ndarray]:
    return load_file(str(model_dir / "model.safetensors"))


def test_embeddings_match_sentence_transformers(minilm, st_model, mixed_texts):
    # Batches of 8, sorted by length: the four 256-token texts share a batch with four shorter, padded ones.
    ours = minilm.encode(mixed_texts, batch_size=8)
    reference = st_model.encode(mixed_texts, batch_size=8, convert_to_numpy=True)
    assert ours.shape == (48, 384) and ours.dtype == np.float32
    assert sum(minilm.tokenizer.encode(t).truncated for t in mixed_texts) == 4
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)
    cosine = np.sum(ours * reference, axis=1) / np.linalg.norm(reference, axis=1)
    assert cosine.min() >= 0.99999
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-5)


def test_token_embeddings_match_sentence_transformers(minilm, st_model, corpus_queries):
    texts = corpus_queries[:8]
    ours = minilm.token_embeddings(texts)
    reference = st_model.encode(texts, output_value="token_embeddings", convert_to_numpy=False)
    for text, mine, ref in zip(texts, ours, reference, strict=True):
        assert mine.shape == (len(minilm.tokenizer.encode(text)), 384)
        np.testing.assert_allclose(mine, ref.numpy(), rtol=0, atol=1e-4)


def test_batch_composition_does_not_change_an_embedding(minilm, corpus_queries, corpus_passages):
    query = corpus_queries[3]
    alone = minilm.encode([query])
    # In a batch with three 256-token passages the query is padded from ~15 to 256 positions.
    padded = minilm.encode(
        [corpus_passages[0], query, corpus_passages[1], corpus_passages[2]], batch_size=4
    )
    np.testing.assert_allclose(padded[1], alone[0], rtol=0, atol=1e-6)


def test_empty_input_gives_an_empty_matrix(minilm):
    assert minilm.encode([]).shape == (0, 384)
    with pytest.raises(TypeError):
        minilm.encode("a bare string is not a list of texts")


def test_pooler_matches_hugging_face(minilm, st_model):
    """The [CLS] pooler is unused for sentence embeddings, but its weights load correctly."""
    import torch

    ids, mask = minilm.tokenizer.encode_batch(["a short one", "and a somewhat longer second text"])
    hidden = minilm.encoder(ids, mask).last_hidden_state
    with torch.inference_mode():
        out = st_model[0].auto_model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
    np.testing.assert_allclose(minilm.encoder.pooler(hidden), out.pooler_output.numpy(), rtol=0, atol=1e-5)


def test_parameter_count_is_the_checkpoint_size(minilm, checkpoint):
    expected = sum(t.size for name, t in checkpoint.items() if name != "embeddings.position_ids")
    assert minilm.encoder.num_parameters() == expected == 22_713_216


def test_loader_names_the_tensor_with_the_wrong_shape(model_dir, checkpoint):
    tampered = dict(checkpoint)
    name = "encoder.layer.3.attention.self.key.weight"
    tampered[name] = checkpoint[name][:, :100]
    encoder = BertEncoder(BertConfig.from_json(model_dir / "config.json"))
    expected = r"encoder\.layer\.3\.attention\.self\.key\.weight.*\(384, 384\).*\(384, 100\)"
    with pytest.raises(ValueError, match=expected):
        load_weights(encoder, tampered)


def test_loader_rejects_missing_and_unexpected_keys(model_dir, checkpoint):
    encoder = BertEncoder(BertConfig.from_json(model_dir / "config.json"))
    missing = {k: v for k, v in checkpoint.items() if k != "encoder.layer.5.output.dense.bias"}
    with pytest.raises(KeyError, match=r"encoder\.layer\.5\.output\.dense\.bias"):
        load_weights(encoder, missing)
    extra = dict(checkpoint, **{"encoder.layer.6.output.dense.bias": np.zeros(384, np.float32)})
    with pytest.raises(KeyError, match=r"encoder\.layer\.6\.output\.dense\.bias"):
        load_weights(encoder, extra)


def test_assign_copies_into_the_existing_array():
    dst = np.zeros((2, 3), np.float32)
    assign(dst, np.ones((2, 3), np.float32), "w")
    assert dst.sum() == 6
    with pytest.raises(ValueError, match="w: model expects"):
        assign(dst, np.ones((3, 2), np.float32), "w")
