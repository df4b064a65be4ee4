"""/docs and /redoc load every file from this server (the browser test renders them offline)."""

from __future__ import annotations

import re

import pytest

from tests.app.conftest import KEY


@pytest.fixture(scope="module")
def embedder():
    from indexer.embedding import load_embedder

    return load_embedder(backend="minimal")  # the docs need no model; this one loads in a second


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_reference_only_local_files(make_client, page):
    client = make_client(api_keys=KEY)  # public even when keys are required: they hold no data
    r = client.get(page)
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    urls = re.findall(r'(?:src|href)="([^"]+)"|url: \'([^\']+)\'', r.text)
    assets = [u for pair in urls for u in pair if u]
    assert assets and all(u.startswith("/") for u in assets), assets
    for url in assets:
        got = client.get(url)
        assert got.status_code == 200, url
        assert "cdn." not in got.text and "fonts.googleapis" not in got.text, url


def test_the_openapi_document_lists_the_page_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/collections/{name}/map", "/collections/{name}/text"} <= paths.keys()
