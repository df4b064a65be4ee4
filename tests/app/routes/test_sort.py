"""Sorting over HTTP: the same option in the POST body and the GET parameters, refused by name when unknown."""

from __future__ import annotations

import time


def test_sort_by_path_and_by_indexing_time_post_and_get(client):
    client.post("/collections", json={"name": "notes"})
    for doc_id in ("b-rock", "a-rock", "c-rock"):  # indexed one after another: c is the newest
        client.post("/collections/notes/documents", json={"documents": [
            {"id": doc_id, "text": f"Notes on a rock called {doc_id}."}]})
        time.sleep(0.01)
    r = client.post("/collections/notes/query", json={"query": "rock", "sort": "path"})
    assert [h["id"] for h in r.json()["hits"]] == ["a-rock", "b-rock", "c-rock"]
    r = client.get("/collections/notes/query", params={"q": "rock", "sort": "-modified", "k": 2})
    assert [h["id"] for h in r.json()["hits"]] == ["c-rock", "a-rock"]
    r = client.get("/collections/notes/query", params={"q": "rock", "sort": "size"})
    assert r.status_code == 422 and r.json()["error"]["field"].endswith("sort")
