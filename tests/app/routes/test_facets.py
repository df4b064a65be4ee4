"""Facets over HTTP: counts of documents per value, narrowed by filters and by a query; bounds are 422s."""

from __future__ import annotations

DOCS = [
    {"id": "tea", "text": "Green tea is brewed with water just below boiling.", "metadata": {"topic": "drinks"}},
    {"id": "coffee", "text": "Espresso is brewed by forcing hot water.", "metadata": {"topic": "drinks"}},
    {"id": "granite", "text": "Granite is an igneous rock made of quartz and mica.", "metadata": {"topic": "geology"}},
    {"id": "basalt", "text": "Basalt is a dark volcanic rock.", "metadata": {"topic": "geology", "year": 2024}},
]


def test_facets_post_and_get_count_documents_within_filters_and_a_query(client):
    client.post("/collections", json={"name": "notes"})
    client.post("/collections/notes/documents", json={"documents": DOCS})
    r = client.post("/collections/notes/facets", json={"field": "metadata.topic"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["values"] == [{"value": "drinks", "count": 2}, {"value": "geology", "count": 2}]
    assert (body["sources"], body["query"], body["hits"]) == (4, None, None)
    # The count of a value is the number of documents a filter on that value matches.
    narrowed = client.post("/collections/notes/facets", json={"field": "metadata.year",
                                                              "filters": {"metadata": {"topic": "geology"}}}).json()
    hits = client.post("/collections/notes/query", json={"query": "rock", "k": 10,
                                                         "filters": {"metadata": {"topic": "geology"}}}).json()["hits"]
    assert narrowed["sources"] == len(hits) == 2 and narrowed["values"] == [{"value": 2024, "count": 1}]
    # The facets of a query: only its best k hits count.
    got = client.get("/collections/notes/facets", params={"field": "metadata.topic", "q": "volcanic rock",
                                                          "k": 1, "mode": "keyword"}).json()
    assert (got["values"], got["sources"], got["query"], got["hits"]) == (
        [{"value": "geology", "count": 1}], 1, "volcanic rock", 1)


def test_facet_bounds_and_unknown_fields_are_422s_that_name_the_field(client):
    client.post("/collections", json={"name": "notes"})
    for params, field in (({"field": "colour"}, "field"), ({"field": "ext", "top": 101}, "top"),
                          ({"field": "folder", "depth": 99}, "depth"), ({"field": "metadata.bad key"}, "field")):
        r = client.get("/collections/notes/facets", params=params)
        assert r.status_code == 422, params
        assert field in r.json()["error"]["field"], r.json()
    r = client.post("/collections/notes/facets", json={"field": "colour"})
    assert r.status_code == 422 and "unknown facet field 'colour'" in r.json()["error"]["message"]
    assert client.get("/collections/missing/facets", params={"field": "ext"}).status_code == 404
