"""A real ``semsearch serve`` (settings from the environment) on a loopback port, driven by the official
``openai`` client and httpx."""

from __future__ import annotations

import time

import httpx
import numpy as np
import openai
import pytest
from openai import OpenAI
from sentence_transformers import util

from tests.serving import serve

KEY = "server-test-key"


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory):
    data = tmp_path_factory.mktemp("server-data")
    (data / "docs").mkdir()
    (data / "docs" / "tea.txt").write_text("Green tea is brewed with water below boiling.")
    (data / "docs" / "moon.md").write_text("The Moon orbits the Earth about once a month.")
    with serve(data, SEMSEARCH_API_KEYS=KEY) as running:
        yield running


def test_serve_says_how_the_model_loaded(keyed_server, embedder):
    """`semsearch serve` logs the service's own lines (not only uvicorn's): how the model loaded, then ready
    (before /readyz answers 200). The session's first load filled the graph cache, so the server took the
    graph from it."""
    log = keyed_server.log.read_text(errors="replace")
    loaded = [line for line in log.splitlines() if " loaded in " in line]
    assert len(loaded) == 1, log
    assert f"engine {embedder.engine}, {embedder.precision}" in loaded[0]
    if embedder.engine == "openvino":
        assert "graph from the cache" in loaded[0]
    assert "ready: model sentence-transformers/all-MiniLM-L6-v2 (384 dimensions)" in log


def test_openai_client_float_and_default_base64(keyed_server, embedder):
    client = OpenAI(base_url=keyed_server.url + "/v1", api_key=KEY)
    texts = ["The cat sat on the mat.", "A feline rested on the rug."]
    # The client asks for base64 by default and decodes it itself.
    res = client.embeddings.create(model="all-MiniLM-L6-v2", input=texts)
    assert res.model == "sentence-transformers/all-MiniLM-L6-v2"
    assert [d.index for d in res.data] == [0, 1] and len(res.data[0].embedding) == 384
    assert res.usage.prompt_tokens == sum(embedder.count_tokens(texts))
    as_float = client.embeddings.create(model="x", input=texts, encoding_format="float")
    np.testing.assert_allclose(res.data[0].embedding, as_float.data[0].embedding, atol=1e-7)

    expected = embedder.model.encode(texts, convert_to_tensor=True)
    got = np.array([d.embedding for d in res.data], dtype=np.float32)
    np.testing.assert_allclose(got, expected.numpy() / np.linalg.norm(expected.numpy(), axis=1, keepdims=True),
                               atol=1e-5)
    cos = float(util.cos_sim(expected[0], expected[1]))
    assert abs(float(got[0] @ got[1]) - cos) < 1e-5

    one = client.embeddings.create(model="x", input="just one string")
    assert len(one.data) == 1


def test_openai_client_with_a_wrong_key_gets_401(keyed_server):
    client = OpenAI(base_url=keyed_server.url + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        client.embeddings.create(model="x", input="hello")
    assert info.value.status_code == 401


def test_curl_style_flow_over_real_http(keyed_server):
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=keyed_server.url, headers=auth, timeout=60) as http:
        assert http.post("/collections", json={"name": "web"}).status_code == 201
        job = http.post("/collections/web/index-folder", json={"path": "."}).json()
        deadline = time.monotonic() + 60
        while (state := http.get(f"/jobs/{job['id']}").json()["state"]) not in ("succeeded", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert state == "succeeded"
        hits = http.get("/collections/web/query", params={"q": "how do I make tea", "k": 1}).json()["hits"]
        assert hits[0]["path"].endswith("tea.txt")
        metrics = http.get("/metrics").text
        assert 'route="/collections/{name}/query"' in metrics
        assert 'semsearch_collection_chunks{collection="web"} 2.0' in metrics
    assert httpx.get(keyed_server.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(keyed_server.url + "/collections").status_code == 401
