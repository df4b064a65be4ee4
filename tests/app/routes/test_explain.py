"""/explain, /explain/tokens and /model over the bundled NumPy transformer."""

from __future__ import annotations

import time

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


def test_the_explain_model_loads_in_the_background_and_readiness_says_when(make_client):
    """The first /explain used to take ~20 s; now the model loads (and warms) after start-up and /readyz
    says when it is ready, while searches are served from the start."""
    client = make_client(explain_preload=True)
    deadline = time.monotonic() + 120
    states = []
    while (body := client.get("/readyz").json())["explain"] != "ready" and time.monotonic() < deadline:
        states.append(body["explain"])
        time.sleep(0.05)
    assert body["explain"] == "ready" and set(states) <= {"loading"}, (body, states)
    assert client.app.state.minilm._model is not None  # loaded before any call asked for it
    assert client.post("/explain", json={"text": "warm already"}).status_code == 200
    assert make_client(explain_preload=False).get("/readyz").json()["explain"] == "on first use"


def test_the_explain_model_never_loads_a_second_copy_of_the_served_model(embedder):
    """Asking a sentence-transformers embedder for its ``model`` imports torch and loads the checkpoint a
    second time (11 s): /explain needs only the folder it was loaded from."""
    from app.routes.explain import LazyMiniLM

    class Served:
        name, path, backend = embedder.name, embedder.path, "sentence-transformers"

        @property
        def model(self):
            raise AssertionError("the served model's own object was loaded")

    lazy = LazyMiniLM()
    assert lazy.get(Served()).dim == 384 and lazy.state == "ready"
