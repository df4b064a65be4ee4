"""POST /embed, /v1/embeddings (through TestClient) and /compare, against the model itself."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from sentence_transformers import util


def test_embed_returns_unit_vectors_with_token_counts(client, embedder):
    r = client.post("/embed", json={"texts": ["The cat sat on the mat.", "hi"]})
    assert r.status_code == 200
    body = r.json()
    assert body["model"] == embedder.name and body["dimension"] == 384
    vecs = np.array(body["embeddings"], dtype=np.float32)
    assert vecs.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert body["tokens"] == embedder.count_tokens(["The cat sat on the mat.", "hi"])
    assert body["truncated"] == [False, False]
    expected = embedder.model.encode(["The cat sat on the mat."], normalize_embeddings=True)[0]
    np.testing.assert_allclose(vecs[0], expected, atol=1e-5)


@pytest.mark.parametrize("body, field, words", [
    ({"texts": []}, "texts", "at least 1"),
    ({"texts": ["a"] * 4}, "texts", "at most 3"),
    ({"texts": ["x" * 51]}, "texts.0", "at most 50"),
    ({"texts": "not a list"}, "texts", "list"),
    ({"texts": ["a"], "extra": 1}, "extra", "not permitted"),
])
def test_embed_limits_name_the_field_and_the_limit(make_client, body, field, words):
    client = make_client(max_texts=3, max_text_chars=50)
    r = client.post("/embed", json=body)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "invalid_input" and err["field"] == field
    assert words in err["message"]


def test_openai_embeddings_float_and_base64_agree(client, embedder):
    r = client.post("/v1/embeddings", json={"input": ["hello world", "goodbye"], "model": "anything"})
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "list" and body["model"] == embedder.name
    assert [d["index"] for d in body["data"]] == [0, 1] and body["data"][0]["object"] == "embedding"
    tokens = sum(embedder.count_tokens(["hello world", "goodbye"]))
    assert body["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}

    b = client.post("/v1/embeddings", json={"input": ["hello world", "goodbye"], "encoding_format": "base64"}).json()
    for f, e in zip(body["data"], b["data"], strict=True):
        decoded = np.frombuffer(base64.b64decode(e["embedding"]), dtype="<f4")
        np.testing.assert_array_equal(decoded, np.array(f["embedding"], dtype=np.float32))


def test_openai_embeddings_single_string_and_bad_inputs(client):
    r = client.post("/v1/embeddings", json={"input": "one text", "model": "m"})
    assert r.status_code == 200 and len(r.json()["data"]) == 1
    r = client.post("/v1/embeddings", json={"input": [[101, 2023]], "model": "m"})
    assert r.status_code == 422 and "token ids" in r.json()["error"]["message"]
    r = client.post("/v1/embeddings", json={"input": [], "model": "m"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "input"
    r = client.post("/v1/embeddings", json={"input": "x", "dimensions": 128})
    assert r.status_code == 422 and r.json()["error"]["field"] == "dimensions"
    assert client.get("/v1/models").json()["data"][0]["id"] == "sentence-transformers/all-MiniLM-L6-v2"


def test_compare_two_texts_equals_cos_sim(client, embedder):
    texts = ["How do I bake bread?", "Instructions for making a loaf"]
    r = client.post("/compare", json={"texts": texts})
    assert r.status_code == 200
    vecs = embedder.model.encode(texts, convert_to_tensor=True)
    expected = float(util.cos_sim(vecs[0], vecs[1]))
    assert abs(r.json()["similarity"] - expected) < 1e-5


def test_compare_matrix_and_ranking_equal_cos_sim(client, embedder):
    texts = ["a cat on a mat", "a feline resting", "stock prices fell", "the market dropped"]
    m = np.array(client.post("/compare", json={"texts": texts}).json()["matrix"])
    vecs = embedder.model.encode(texts, convert_to_tensor=True)
    np.testing.assert_allclose(m, util.cos_sim(vecs, vecs).numpy(), atol=1e-5)

    r = client.post("/compare", json={"query": texts[0], "candidates": texts[1:]}).json()
    assert "similarity" not in r and "matrix" not in r
    ranked = r["ranked"]
    assert [c["index"] for c in ranked][0] == 0 and ranked[0]["text"] == "a feline resting"
    expected = util.cos_sim(vecs[0], vecs[1:]).numpy()[0]
    for c in ranked:
        assert abs(c["score"] - expected[c["index"]]) < 1e-5
    assert [c["score"] for c in ranked] == sorted((c["score"] for c in ranked), reverse=True)


@pytest.mark.parametrize("body", [
    {"texts": ["only one"]},
    {"query": "q"},
    {"texts": ["a", "b"], "query": "q", "candidates": ["c"]},
    {},
])
def test_compare_needs_exactly_one_form(client, body):
    r = client.post("/compare", json=body)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"
