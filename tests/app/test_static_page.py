"""The web page's "Inside the model" section: its elements, the script that drives it, and the API it reads.

The page needs no model to be served, and the explain routes run on the bundled NumPy transformer, so
this module overrides the session's ``embedder`` with the minimal backend (under a second to load,
against about 15 s for sentence-transformers); conftest's ``make_client``/``client`` then use it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.app.conftest import AUTH, KEY

pytest.importorskip("indexer.transformer.trace")


@pytest.fixture(scope="module")
def embedder():
    from indexer.embedding import load_embedder

    return load_embedder(backend="minimal")


class Elements(HTMLParser):
    """Every element with an id: id -> (tag, attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, tuple[str, dict[str, str | None]]] = {}
        self.radios: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.by_id[a["id"]] = (tag, a)  # type: ignore[index]
        if tag == "input" and a.get("name") == "input-part":
            self.radios.append(a.get("value"))


def page_elements(client) -> Elements:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    parsed = Elements()
    parsed.feed(r.text)
    return parsed


def test_page_has_the_inside_the_model_section(client):
    els = page_elements(client).by_id
    assert els["model"][0] == "section" and els["model"][1]["aria-labelledby"] == "model-title"
    assert els["explain-text"][1]["value"] == "The cat sat on the mat."
    assert els["explain-form"][0] == els["align-form"][0] == "form"
    for status in ("explain-status", "align-status"):
        assert els[status][1]["role"] == "status"
    for canvas in ("input-canvas", "attention-canvas", "align-canvas"):
        assert els[canvas] == ("canvas", {"id": canvas, "role": "img", "tabindex": "0"})  # reachable by keyboard
    assert els["layer"][0] == els["head"][0] == "select"
    assert els["pooling"][0] == els["params"][0] == "table"
    assert {"tokens", "align-text", "explain-out", "align-out"} <= els.keys()


def test_inputs_are_labelled(client):
    html = client.get("/").text
    for input_id in ("explain-text", "align-text"):
        assert f'<label for="{input_id}"' in html
    assert re.search(r'<label>Layer <select id="layer">', html) and re.search(r'<label>Head <select id="head">', html)


def test_script_is_served_and_drives_the_section(client):
    scripts = re.findall(r'<script src="(/static/[\w-]+\.js)"', client.get("/").text)
    assert "/static/app.js" in scripts and "/static/explain.js" in scripts
    js = ""
    for src in scripts:  # the page's views, one file each
        r = client.get(src)
        assert r.status_code == 200 and "javascript" in r.headers["content-type"]
        js += r.text
    assert '"/explain"' in js and '"/explain/tokens"' in js
    assert '"Bearer "' in js and "data.error.message" in js  # the API key field, the error shape
    assert "location.hash" in js  # #explain=TEXT links run the trace on load
    assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML", js)
    # Every element the script looks up exists on the page.
    ids = set(page_elements(client).by_id)
    assert set(re.findall(r'\$\("([\w-]+)"\)', js)) <= ids


def test_explain_answers_carry_what_the_page_reads(client):
    page = page_elements(client)
    tr = client.post("/explain", json={"text": "The cat sat on the mat."})
    assert tr.status_code == 200, tr.text
    body = tr.json()
    T = len(body["tokens"])
    assert len(body["ids"]) == T
    assert set(page.radios) == set(body["embeddings"])  # one radio per part of the input matrix
    assert all(len(body["embeddings"][p]) == T and len(body["embeddings"][p][0]) == 384 for p in page.radios)
    layer = body["layers"][0]
    assert {"index", "attention", "change", "ffn_active"} <= layer.keys() and len(layer["attention"]) == 12
    assert body["pooled_norm"] > 0 and len(body["pooled"]) == len(body["normalized"]) == 384
    params = body["parameters"]
    embeddings, layers = params["embeddings"], params["layers"]
    assert {"word_embeddings", "position_embeddings", "token_type_embeddings", "LayerNorm"} <= embeddings.keys()
    assert {"attention", "attention_layernorm", "ffn", "ffn_layernorm", "total"} <= layers[0].keys()
    assert params["total"] == embeddings["total"] + sum(g["total"] for g in layers) + params["pooler"]

    al = client.post("/explain/tokens", json={"a": "a cat", "b": "a kitten"}).json()
    assert len(al["similarity"]) == len(al["tokens_a"]) and len(al["similarity"][0]) == len(al["tokens_b"])

    err = client.post("/explain", json={"text": ""})
    assert err.status_code == 422 and err.json()["error"]["message"]


def test_page_is_public_and_explain_needs_the_key(make_client):
    client = make_client(api_keys=KEY)
    assert client.get("/").status_code == 200 and client.get("/static/app.js").status_code == 200
    denied = client.post("/explain", json={"text": "hi"})
    assert denied.status_code == 401 and denied.json()["error"]["message"]
    assert client.post("/explain", json={"text": "hi"}, headers=AUTH).status_code == 200
