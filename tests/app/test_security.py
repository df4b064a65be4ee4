"""API keys, body size limits, malformed input and internal errors: one error shape, no internals."""

from __future__ import annotations

import json
import logging

import pytest

from tests.app.conftest import AUTH, KEY


@pytest.fixture
def secured(make_client):
    return make_client(api_keys=f"other-key,{KEY}")


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/embed", {"texts": ["x"]}),
    ("POST", "/v1/embeddings", {"input": "x", "model": "m"}),
    ("POST", "/compare", {"texts": ["a", "b"]}),
    ("GET", "/collections", None),
    ("POST", "/collections", {"name": "c"}),
    ("GET", "/collections/c/query?q=x", None),
    ("GET", "/jobs", None),
    ("GET", "/metrics", None),
])
def test_data_routes_need_a_key(secured, method, path, body):
    r = secured.request(method, path, json=body)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    err = r.json()["error"]
    assert err["code"] == "unauthorized" and "Authorization: Bearer" in err["message"]

    r = secured.request(method, path, json=body, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json()["error"]["message"] == "Invalid API key."
    r = secured.request(method, path, json=body, headers={"Authorization": f"Basic {KEY}"})
    assert r.status_code == 401

    r = secured.request(method, path, json=body, headers=AUTH)
    assert r.status_code not in (401, 403), r.text


def test_health_docs_and_page_stay_public(secured):
    assert secured.get("/healthz").json() == {"status": "ok"}
    assert secured.get("/readyz").status_code == 200
    assert secured.get("/openapi.json").status_code == 200
    assert secured.get("/docs").status_code == 200
    assert secured.get("/").status_code == 200
    assert secured.get("/static/app.js").status_code == 200


def test_every_key_works(secured):
    for key in ("other-key", KEY):
        assert secured.get("/collections", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_no_keys_means_no_auth(client):
    assert client.get("/collections").status_code == 200


def test_body_over_the_limit_is_413_by_header_and_by_stream(make_client):
    client = make_client(max_body_bytes=2048)
    big = json.dumps({"texts": ["x" * 3000]})
    r = client.post("/embed", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "body_too_large" and "2,048" in r.json()["error"]["message"]

    def chunks():  # no Content-Length: a chunked upload, counted as it streams
        for _ in range(10):
            yield b'{"texts": ["' + b"x" * 500
        yield b'"]}'

    r = client.post("/embed", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["field"] == "body"
    assert client.post("/embed", json={"texts": ["small"]}).status_code == 200


@pytest.mark.parametrize("content", [b"{not json", b'{"texts": ["a"]', b"\xff\xfe"])
def test_unparseable_bodies_are_400(client, content):
    r = client.post("/embed", content=content, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "bad_request" and r.json()["error"]["field"] == "body"
    assert "not valid JSON" in r.json()["error"]["message"]


@pytest.mark.parametrize("content", [b"", b"[1, 2]", b"null"])
def test_well_formed_bodies_of_the_wrong_shape_are_422(client, content):
    r = client.post("/embed", content=content, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert set(r.json()["error"]) == {"code", "message", "field"}


def test_deeply_nested_json_is_a_client_error(client):
    body = b'{"texts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = client.post("/embed", content=body, headers={"content-type": "application/json"})
    assert r.status_code in (400, 422) and r.json()["error"]["code"] in ("bad_request", "invalid_input")


def test_unknown_routes_and_methods_use_the_error_shape(client):
    r = client.get("/no/such/route")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.put("/embed", json={})
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_internal_errors_are_generic_500s_logged_on_the_server(client, monkeypatch, caplog):
    registry = client.app.state.collections

    def boom(*a, **kw):
        raise RuntimeError("secret internals: /etc/shadow")

    monkeypatch.setattr(registry, "scan", boom)
    with caplog.at_level(logging.ERROR):
        r = client.get("/collections")
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "internal_error", "field": None,
                                  "message": "Internal server error; the details are in the server log."}}
    assert "secret" not in r.text and "Traceback" not in r.text
    assert "secret internals" in caplog.text  # the details are in the server log


def test_corrupt_catalog_is_500_with_a_safe_message(client, tmp_data_dir):
    from tests.indexer.stores.embedded import files

    path = files.collections_dir(tmp_data_dir) / "broken"
    path.mkdir(parents=True)
    (path / files.CATALOG_FILE).write_bytes(b"this is not a sqlite file" * 100)
    r = client.get("/collections/broken")
    assert r.status_code == 500
    err = r.json()["error"]
    assert err["code"] == "corrupt_collection" and "sqlite" not in err["message"].lower()


def test_auth_is_checked_before_the_body_is_read(make_client):
    client = make_client(api_keys=KEY, max_body_bytes=2048)
    r = client.post("/embed", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 401
    r = client.post("/embed", content=b"x" * 5000, headers={"content-type": "application/json"})
    assert r.status_code == 401
    r = client.post("/embed", content=b"x" * 5000, headers={"content-type": "application/json", **AUTH})
    assert r.status_code == 413
    assert client.get("/no/such/route").status_code == 401
    assert client.get("/no/such/route", headers=AUTH).status_code == 404
