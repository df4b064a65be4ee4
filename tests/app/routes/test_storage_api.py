"""Storage through the HTTP API: HNSW writes, damaged collections, /readyz privacy, control-character ids."""

from __future__ import annotations

import time

from tests.app.conftest import AUTH, KEY

DOCS = [{"id": f"d{i}", "text": t} for i, t in enumerate([
    "Cats sleep most of the day in warm places.", "Dogs love long walks in the park.",
    "Knead the dough and let the bread rise.", "Mars is the fourth planet from the Sun.",
    "The Moon causes the ocean tides."])]


def test_hnsw_collection_takes_upsert_delete_update_and_is_deleted(client):
    assert client.post("/collections", json={"name": "big", "index_type": "hnsw"}).status_code == 201
    assert client.post("/collections/big/documents", json={"documents": DOCS}).status_code == 200
    r = client.post("/collections/big/documents/delete", json={"ids": ["d0", "d1"]})
    assert r.status_code == 200 and r.json()["deleted"] == 2
    r = client.post("/collections/big/documents", json={"documents": [
        {"id": "d3", "text": "Red dust covers the Martian desert."}, {"id": "d9", "text": "Green tea leaves."}]})
    assert r.status_code == 200 and r.json()["updated"] == 1 and r.json()["added"] == 1
    assert client.delete("/collections/big/documents/d2").status_code == 204
    hits = client.post("/collections/big/query", json={"query": "animals", "k": 10, "mode": "dense"}).json()["hits"]
    assert sorted(h["id"] for h in hits) == ["d3", "d4", "d9"]
    assert client.get("/collections/big").json()["chunks"] == 3
    assert client.delete("/collections/big").status_code == 204
    assert client.get("/collections/big").status_code == 404


def _damage(data_dir, name):
    (data_dir / "collections" / name / "catalog.sqlite3").write_bytes(b"this is not a database" * 200)


def test_a_damaged_collection_is_listed_as_damaged_and_can_be_deleted(make_client, tmp_data_dir):
    client = make_client()
    for name in ("good", "bad"):
        assert client.post("/collections", json={"name": name}).status_code == 201
    client.post("/collections/good/documents", json={"documents": DOCS[:1]})
    client.__exit__(None, None, None)  # a restart, with one catalog damaged meanwhile
    _damage(tmp_data_dir, "bad")
    client = make_client()
    body = client.get("/collections").json()
    assert [c["name"] for c in body["collections"]] == ["good"] and body["damaged"] == ["bad"]
    r = client.post("/collections/bad/query", json={"query": "x"})
    assert r.status_code == 500 and str(tmp_data_dir) not in r.text
    assert client.delete("/collections/bad").status_code == 204
    assert client.get("/collections").json()["damaged"] == []
    assert client.post("/collections", json={"name": "bad"}).status_code == 201  # the advice can be followed


def test_readyz_names_collections_only_to_key_holders(make_client, tmp_data_dir):
    client = make_client()
    client.post("/collections", json={"name": "secret-project"})
    client.post("/collections", json={"name": "broken"})
    client.__exit__(None, None, None)
    _damage(tmp_data_dir, "broken")
    secured = make_client(api_keys=[KEY])
    while secured.get("/readyz").json()["status"] != "ready":  # the collections open in the background
        time.sleep(0.05)
    anonymous = secured.get("/readyz")
    assert anonymous.status_code == 200
    assert "secret-project" not in anonymous.text and "broken" not in anonymous.text
    assert str(tmp_data_dir) not in anonymous.text
    assert anonymous.json()["collections"] == [] and anonymous.json()["unavailable"] == {}
    keyed = secured.get("/readyz", headers=AUTH).json()
    assert keyed["collections"] == ["secret-project"] and list(keyed["unavailable"]) == ["broken"]
    assert secured.get("/readyz", headers={"Authorization": "Bearer wrong"}).json()["collections"] == []


def test_document_ids_with_control_characters_are_refused(client):
    client.post("/collections", json={"name": "ids"})
    for bad in ["a\nb", "a\rb", "tab\there", "nul\x00", "del\x7f", "c1\x85"]:
        r = client.post("/collections/ids/documents", json={"documents": [{"id": bad, "text": "some text"}]})
        assert r.status_code == 422, bad
        err = r.json()["error"]
        assert err["field"] == "documents.0.id" and "control character" in err["message"]
    assert client.get("/collections/ids").json()["documents"] == 0
    ok = client.post("/collections/ids/documents", json={"documents": [{"id": "ünï cødé / 1", "text": "text"}]})
    assert ok.status_code == 200


def test_the_library_refuses_control_character_ids_too(tmp_path, embedder):
    import pytest

    from indexer.collection import Collection
    from indexer.errors import InvalidInput
    from indexer.stores.embedded import EmbeddedBackend

    with Collection.create(EmbeddedBackend(tmp_path), "c", embedder) as coll, pytest.raises(InvalidInput) as e:
        coll.upsert_documents([{"id": "x\ny", "text": "text"}])
    assert e.value.field == "documents.id"
