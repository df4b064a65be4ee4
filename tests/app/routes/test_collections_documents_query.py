"""Collections, documents and queries over HTTP, with a real collection on disk."""

from __future__ import annotations

import time

import pytest

from tests.indexer.stores.embedded import files


def test_collection_lifecycle(client, tmp_data_dir):
    r = client.post("/collections", json={"name": "notes", "index_type": "flat"})
    assert r.status_code == 201
    info = r.json()
    assert info["name"] == "notes" and info["dimension"] == 384 and info["chunks"] == 0
    assert client.post("/collections", json={"name": "notes"}).json()["error"]["code"] == "collection_exists"
    assert client.post("/collections", json={"name": "notes"}).status_code == 409
    assert [c["name"] for c in client.get("/collections").json()["collections"]] == ["notes"]
    assert client.get("/collections/notes").json()["model"] == "sentence-transformers/all-MiniLM-L6-v2"

    assert client.delete("/collections/notes").status_code == 204
    assert not (files.collections_dir(tmp_data_dir) / "notes").exists()
    r = client.get("/collections/notes")
    assert r.status_code == 404 and r.json()["error"]["code"] == "collection_not_found"
    assert client.delete("/collections/notes").status_code == 404


def test_bad_names_and_other_models_are_refused(client):
    r = client.post("/collections", json={"name": "../etc"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "name"
    r = client.post("/collections", json={"name": "x", "model": "BAAI/bge-large-en"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "model_mismatch"
    r = client.post("/collections", json={"name": "x", "dimension": 768})
    assert r.status_code == 409
    assert client.post("/collections", json={"name": "x", "model": "all-MiniLM-L6-v2"}).status_code == 201
    assert client.get("/collections/-bad-").status_code == 422


def test_a_collection_is_created_in_a_language_and_searched_in_it(client):
    r = client.post("/collections", json={"name": "notizen", "language": "de"})
    assert r.status_code == 201 and (r.json()["language"], r.json()["keyword_index"]) == ("de", "analysed")
    assert client.get("/collections/notizen").json()["language"] == "de"
    client.post("/collections/notizen/documents", json={"documents": [
        {"id": "fluss", "text": "Es regnet. Die alten Häuser am Fluss wurden renoviert."}]})
    hit = client.get("/collections/notizen/query", params={"q": "Haus", "mode": "keyword"}).json()["hits"][0]
    assert hit["id"] == "fluss" and "**Die alten Häuser am Fluss wurden renoviert.**" in hit["snippet"]
    r = client.post("/collections", json={"name": "x", "language": "klingon"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "language"
    assert "unknown language 'klingon'" in r.json()["error"]["message"]
    assert client.post("/collections", json={"name": "y"}).json()["language"] == "en"


def test_semsearch_language_is_the_language_of_new_collections(make_client):
    client = make_client(language="fr")
    assert client.post("/collections", json={"name": "notes"}).json()["language"] == "fr"
    with pytest.raises(ValueError, match="unknown language 'xx'"):
        make_client(language="xx")


def test_collection_built_with_another_model_is_409(client, tmp_data_dir):
    assert client.post("/collections", json={"name": "old"}).status_code == 201
    client.delete("/collections/old")  # closes it; recreate on disk with another model recorded
    assert not files.collection_dir(tmp_data_dir, "old").exists()
    cat = files.catalog_at(tmp_data_dir, "old")
    cat.set_meta(model="other/model", dimension=768, index_type="flat", created=time.time())
    cat.close()
    r = client.post("/collections/old/query", json={"query": "anything"})
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "model_mismatch" and "other/model" in err["message"]


def test_documents_upsert_get_list_delete(client):
    client.post("/collections", json={"name": "docs"})
    docs = [{"id": f"d{i}", "text": f"Document number {i} is about topic {i % 2}.", "metadata": {"n": i}}
            for i in range(5)]
    r = client.post("/collections/docs/documents", json={"documents": docs})
    assert r.json() == {"added": 5, "updated": 0, "unchanged": 0, "chunks": 5}
    docs[0]["text"] = "Changed text."
    r = client.post("/collections/docs/documents", json={"documents": docs})
    assert r.json() == {"added": 0, "updated": 1, "unchanged": 4, "chunks": 1}

    assert client.get("/collections/docs/documents/d0").json() == {
        "id": "d0", "text": "Changed text.", "metadata": {"n": 0}}
    page = client.get("/collections/docs/documents", params={"offset": 1, "limit": 2}).json()
    assert page["total"] == 5 and [d["id"] for d in page["items"]] == ["d1", "d2"]
    assert page["items"][0]["chunks"] == 1 and page["items"][0]["kind"] == "doc"

    assert client.delete("/collections/docs/documents/d0").status_code == 204
    r = client.get("/collections/docs/documents/d0")
    assert r.status_code == 404 and r.json()["error"]["code"] == "document_not_found"
    assert client.delete("/collections/docs/documents/d0").status_code == 404
    r = client.post("/collections/docs/documents/delete", json={"ids": ["d1", "d2", "nope"]})
    assert r.json() == {"deleted": 2}
    assert client.get("/collections/docs").json()["documents"] == 2


def test_documents_need_an_existing_collection_and_valid_input(make_client):
    client = make_client(max_documents=2, max_text_chars=40)
    r = client.post("/collections/missing/documents", json={"documents": [{"id": "a", "text": "x"}]})
    assert r.status_code == 404
    client.post("/collections", json={"name": "c"})
    cases = [
        ({"documents": []}, "documents"),
        ({"documents": [{"id": str(i), "text": "x"} for i in range(3)]}, "documents"),
        ({"documents": [{"id": "a", "text": "x" * 41}]}, "documents.0.text"),
        ({"documents": [{"id": "", "text": "x"}]}, "documents.0.id"),
        ({"documents": [{"id": "a", "text": "x", "metadata": [1]}]}, "documents.0.metadata"),
        ({"documents": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]}, "documents"),
    ]
    for body, field in cases:
        r = client.post("/collections/c/documents", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["field"] == field, (body, r.json())
    assert client.get("/collections/c").json()["documents"] == 0  # nothing changed


def test_query_modes_hits_and_snippets(indexed, tmp_data_dir):
    for mode in ("dense", "keyword", "hybrid"):
        r = indexed.post("/collections/notes/query",
                         json={"query": "which planet is the largest", "mode": mode, "k": 3})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["mode"] == mode and body["collection"] == "notes"
        top = body["hits"][0]
        assert top["path"] == str((tmp_data_dir / "docs" / "planets.txt").resolve()), (mode, body)
        assert top["kind"] == "file" and "**" in top["snippet"]
        text = (tmp_data_dir / "docs" / "planets.txt").read_text()
        assert text[top["span_start"]:top["span_end"]] in top["snippet"]


def test_query_get_for_curl(indexed):
    r = indexed.get("/collections/notes/query", params={"q": "brewing tea", "k": 2, "mode": "dense", "ext": "txt"})
    assert r.status_code == 200
    hits = r.json()["hits"]
    assert hits[0]["path"].endswith("tea.txt") and all(h["path"].endswith(".txt") for h in hits)
    r = indexed.get("/collections/notes/query", params={"q": "bread", "explain": "true"})
    assert "dense" in r.json()["hits"][0]["explain"] or "keyword" in r.json()["hits"][0]["explain"]


def test_query_filters_and_paging(indexed):
    q = indexed.post
    r = q("/collections/notes/query", json={"query": "happy animals", "filters": {"metadata": {"topic": "pets"}}})
    assert {h["id"] for h in r.json()["hits"]} == {"pets/cat", "pets/dog"}
    r = q("/collections/notes/query", json={"query": "happy animals", "filters": {"metadata": {"year": 2023}}})
    assert [h["id"] for h in r.json()["hits"]] == ["pets/dog"]
    r = q("/collections/notes/query", json={"query": "bread", "filters": {"path_glob": "sub/*"}})
    assert [h["path"].rsplit("/", 1)[-1] for h in r.json()["hits"]] == ["tea.txt"]
    r = q("/collections/notes/query", json={"query": "x", "filters": {"modified_after": "2999-01-01T00:00:00Z"}})
    assert r.json()["hits"] == []

    full = q("/collections/notes/query", json={"query": "things", "mode": "dense", "k": 6}).json()["hits"]
    page2 = q("/collections/notes/query", json={"query": "things", "mode": "dense", "k": 2, "offset": 2}).json()
    assert [h["id"] for h in page2["hits"]] == [h["id"] for h in full[2:4]]
    assert page2["offset"] == 2 and page2["total_candidates"] >= 4


@pytest.mark.parametrize("body, field", [
    ({"query": ""}, "query"),
    ({"query": "x" * 101}, "query"),
    ({"query": "x", "k": 0}, "k"),
    ({"query": "x", "k": 21}, "k"),
    ({"query": "x", "k": 15, "offset": 10}, "offset"),
    ({"query": "x", "mode": "fuzzy"}, "mode"),
    ({"query": "x", "filters": {"metadata": {"a": [1]}}}, "filters.metadata.a"),
    ({"query": "x", "filters": {"metadata": {"bad key!": 1}}}, "filters.metadata"),
])
def test_query_limits(make_client, body, field):
    client = make_client(max_query_chars=100, max_k=20)
    client.post("/collections", json={"name": "c"})
    r = client.post("/collections/c/query", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field, r.json()


def test_query_unknown_collection_is_404(client):
    r = client.get("/collections/nope/query", params={"q": "x"})
    assert r.status_code == 404
    assert r.json()["error"] == {"code": "collection_not_found", "field": "collection", "message": r.json()["error"][
        "message"]}
    assert "nope" in r.json()["error"]["message"]


def test_hybrid_fusion_can_be_chosen(indexed):
    rel = indexed.post("/collections/notes/query", json={"query": "bread baking"}).json()["hits"]
    rrf = indexed.post("/collections/notes/query", json={"query": "bread baking", "fusion": "rrf"}).json()["hits"]
    assert rel[0]["id"].endswith("bread.md") and rrf[0]["id"].endswith("bread.md")
    assert all(0 <= h["score"] <= 1 for h in rel)
    assert all(h["score"] <= round(2 / 61, 4) for h in rrf)  # sum of 1 / (60 + rank) over two rankings, 4 decimals
    r = indexed.post("/collections/notes/query", json={"query": "x", "fusion": "max"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "fusion"
