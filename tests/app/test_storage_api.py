"""Storage through the HTTP API: HNSW writes, damaged collections, /readyz privacy, control-character ids."""

from __future__ import annotations

from tests.app.conftest import AUTH, KEY  # noqa: F401 - used below

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
