"""/metrics (Prometheus), /readyz and the web page."""

from __future__ import annotations

import re


def test_metrics_label_routes_by_template_and_count_embeddings(indexed):
    indexed.get("/collections/notes/query", params={"q": "tea"})
    indexed.get("/collections/notes/documents/pets/cat")
    indexed.post("/embed", json={"texts": ["a", "b", "c"]})
    indexed.get("/collections/does-not-exist")
    text = indexed.get("/metrics").text
    assert re.search(r'semsearch_http_requests_total\{method="GET",route="/collections/\{name\}/query",'
                     r'status="200"\} 1\.0', text)
    assert 'route="/collections/{name}/documents/{doc_id}"' in text
    assert 'route="/collections/{name}",status="404"' in text
    assert "pets/cat" not in text and "does-not-exist" not in text  # raw paths never become labels
    assert 'semsearch_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/embed"}' in text
    assert 'semsearch_embed_batch_size_bucket{kind="query",le="4.0"}' in text
    assert re.search(r'semsearch_embed_batch_size_count\{kind="document"\} [1-9]', text)  # indexing batches
    assert 'semsearch_collection_chunks{collection="notes"} 6.0' in text
    assert 'semsearch_collection_sources{collection="notes",kind="doc"} 2.0' in text
    assert 'semsearch_jobs{state="succeeded"} 1.0' in text
    served = re.search(r"semsearch_search_lane_requests_total ([0-9.]+)", text)
    batches = re.search(r"semsearch_search_lane_batches_total ([0-9.]+)", text)
    assert served and batches and float(served[1]) >= float(batches[1]) >= 1  # the query above went through a lane
    assert "semsearch_search_lane_busy_batches_total" in text
    assert "semsearch_query_embed_" not in text  # one batching mechanism, one set of counters


def test_readyz_reports_the_model_and_opened_collections(indexed):
    body = indexed.get("/readyz").json()
    assert body["status"] == "ready" and body["dimension"] == 384 and "notes" in body["collections"]


def test_page_is_served_and_never_injects_html(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'id="q"' in r.text and 'id="collection"' in r.text and 'id="mode"' in r.text and 'id="text-a"' in r.text
    scripts = re.findall(r'<script src="(/static/[\w-]+\.js)"', r.text)
    assert "/static/app.js" in scripts
    js = "".join(client.get(src).text for src in scripts)  # every view's script
    assert ".innerHTML" not in js and "insertAdjacentHTML" not in js and "textContent" in js
    assert client.get("/static/style.css").status_code == 200
