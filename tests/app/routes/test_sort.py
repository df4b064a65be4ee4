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


def test_field_boost_is_a_query_option_in_post_and_get_with_its_bounds(client):
    client.post("/collections", json={"name": "notes"})
    client.post("/collections/notes/documents", json={"documents": [
        {"id": "titled", "text": "Iceland has active volcanoes.", "metadata": {"title": "Volcanoes of Iceland"}},
        {"id": "plain", "text": "Volcanoes erupt in Iceland, and volcanoes in Chile; volcanoes everywhere."}]})
    plain = client.post("/collections/notes/query", json={"query": "iceland volcanoes", "mode": "keyword"}).json()
    boosted = client.get("/collections/notes/query", params={"q": "iceland volcanoes", "mode": "keyword",
                                                             "field_boost": 2}).json()
    score = {h["id"]: h["keyword"] for h in plain["hits"]}
    assert {h["id"]: h["keyword"] for h in boosted["hits"]}["titled"] == round(score["titled"] * 3, 4)
    r = client.post("/collections/notes/query", json={"query": "x", "field_boost": 11})
    assert r.status_code == 422 and r.json()["error"]["field"].endswith("field_boost")
