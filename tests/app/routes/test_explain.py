"""/explain, /explain/tokens and /model over the bundled NumPy transformer."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("indexer.transformer.trace")


@pytest.fixture(scope="module")
def explain_client(embedder, tmp_path_factory):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.app.conftest import make_settings

    app = create_app(make_settings(tmp_path_factory.mktemp("explain-data"), max_explain_chars=120),
                     embedder=embedder)
    with TestClient(app) as client:
        yield client


def test_explain_traces_a_text_to_the_same_vector_as_embed(explain_client):
    text = "The cat sat on the mat."
    tr = explain_client.post("/explain", json={"text": text})
    assert tr.status_code == 200, tr.text
    body = tr.json()
    assert body["tokens"][0] == "[CLS]" and body["tokens"][-1] == "[SEP]"
    T = len(body["tokens"])
    assert body["shapes"]["embeddings"] == [T, 384] and len(body["layers"]) == 6
    attention = np.array(body["layers"][0]["attention"])
    assert attention.shape == (12, T, T)
    np.testing.assert_allclose(attention.sum(axis=-1), 1.0, atol=1e-5)
    vec = np.array(explain_client.post("/embed", json={"texts": [text]}).json()["embeddings"][0])
    np.testing.assert_allclose(np.array(body["normalized"]), vec, atol=1e-4)


def test_explain_tokens_and_model(explain_client):
    r = explain_client.post("/explain/tokens", json={"a": "a cat", "b": "the cat sleeps"}).json()
    m = np.array(r["similarity"])
    assert m.shape == (len(r["tokens_a"]), len(r["tokens_b"]))
    i, j = r["tokens_a"].index("cat"), r["tokens_b"].index("cat")
    assert m[i, j] > 0.5

    info = explain_client.get("/model").json()
    assert info["num_layers"] == 6 and info["num_heads"] == 12 and info["embedding_dim"] == 384
    assert 22_000_000 < info["parameters"]["total"] < 23_000_000
    assert info["served_model"] == "sentence-transformers/all-MiniLM-L6-v2"


def test_explain_limits(explain_client):
    r = explain_client.post("/explain", json={"text": "x" * 121})
    assert r.status_code == 422 and r.json()["error"]["field"] == "text" and "120" in r.json()["error"]["message"]
    assert explain_client.post("/explain/tokens", json={"a": "x"}).status_code == 422
