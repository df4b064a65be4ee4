"""The page's API: a file's or document's full text, the listing of a folder-indexed collection, the map."""

from __future__ import annotations

import numpy as np

from tests.app.conftest import DOCS, wait_job, write_docs


def test_listing_defaults_to_files_and_documents(indexed, tmp_data_dir):
    page = indexed.get("/collections/notes/documents").json()
    files = sorted(str((tmp_data_dir / "docs" / rel).resolve()) for rel in DOCS)
    assert page["total"] == len(DOCS) + 2
    assert sorted(i["id"] for i in page["items"] if i["kind"] == "file") == files
    assert {i["id"] for i in page["items"] if i["kind"] == "doc"} == {"pets/cat", "pets/dog"}
    only = indexed.get("/collections/notes/documents", params={"kind": "file", "limit": 2, "offset": 1}).json()
    assert only["total"] == len(DOCS) and [i["id"] for i in only["items"]] == files[1:3]


def test_file_text_is_read_again_and_hits_point_into_it(indexed, tmp_data_dir):
    path = str((tmp_data_dir / "docs" / "planets.txt").resolve())
    hit = indexed.get("/collections/notes/query", params={"q": "largest planet", "k": 1}).json()["hits"][0]
    assert hit["id"] == path
    r = indexed.get("/collections/notes/text", params={"id": path})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["text"] == DOCS["planets.txt"] and body["origin"] == "disk" and not body["stale"]
    assert body["kind"] == "file" and body["chars"] == len(DOCS["planets.txt"]) and not body["truncated"]
    assert body["chunks"] == [{"id": hit["chunk_id"], "start": hit["start"], "end": hit["end"]}]
    span = body["text"][hit["span_start"]:hit["span_end"]]
    assert span and span in hit["snippet"].replace("**", "")
    short = indexed.get("/collections/notes/text", params={"id": path, "max_chars": 7}).json()
    assert short["text"] == DOCS["planets.txt"][:7] and short["truncated"]
    assert short["chars"] == len(DOCS["planets.txt"])


def test_a_changed_or_unreachable_file_comes_from_its_chunks(make_client, tmp_data_dir, tmp_path):
    outside = write_docs(tmp_path / "elsewhere", {"a.md": "Alpha text about rivers.\n\n" + "Rivers flow. " * 200})
    client = make_client(allowed_roots=f"{tmp_data_dir / 'docs'},{outside}")
    r = client.post("/collections/c/index-folder", json={"path": str(outside)})
    assert wait_job(client, r.json()["id"])["state"] == "succeeded"
    path = str((outside / "a.md").resolve())
    original = (outside / "a.md").read_text()
    disk = client.get("/collections/c/text", params={"id": path}).json()
    assert disk["origin"] == "disk" and disk["text"] == original and len(disk["chunks"]) > 1

    (outside / "a.md").write_text("Completely new words.")  # changed since indexing: the indexed text comes back
    stale = client.get("/collections/c/text", params={"id": path}).json()
    assert stale["origin"] == "chunks" and stale["stale"]
    assert stale["text"].split() == original.split()  # stitched from overlapping chunks, offsets kept
    for c in stale["chunks"]:
        assert stale["text"][c["start"]:c["end"]].strip() == original[c["start"]:c["end"]].strip()

    (outside / "a.md").write_text(original)
    narrow = make_client(allowed_roots=str(tmp_data_dir / "docs"))  # no longer allowed: never read from disk
    got = narrow.get("/collections/c/text", params={"id": path}).json()
    assert got["origin"] == "chunks" and not got["stale"]


def test_document_text_and_errors(indexed):
    doc = indexed.get("/collections/notes/text", params={"id": "pets/cat", "kind": "doc"}).json()
    assert doc["text"] == "Cats purr when they are content." and doc["origin"] == "catalog"
    assert doc["metadata"] == {"topic": "pets", "year": 2021}
    r = indexed.get("/collections/notes/text", params={"id": "pets/cat"})  # kind defaults to file
    assert r.status_code == 404 and r.json()["error"]["code"] == "document_not_found"
    r = indexed.get("/collections/notes/text", params={"id": "x", "max_chars": 0})
    assert r.status_code == 422 and r.json()["error"]["field"] == "max_chars"
    assert indexed.get("/collections/nope/text", params={"id": "x"}).status_code == 404


def test_map_projects_every_chunk_and_places_the_query_among_its_hits(indexed):
    r = indexed.get("/collections/notes/map", params={"q": "the biggest planet", "k": 3, "mode": "dense"})
    assert r.status_code == 200, r.text
    m = r.json()
    info = indexed.get("/collections/notes").json()
    assert m["method"] == "pca" and m["total"] == m["sampled"] == info["chunks"] == len(m["points"])
    assert {p["folder"] for p in m["points"]} == {"docs", "docs/sub", "(documents)"}
    top = m["query"]["hits"][0]
    assert top["rank"] == 1 and top["id"].endswith("planets.txt")
    assert [h["rank"] for h in m["query"]["hits"]] == [1, 2, 3]
    by_id = {p["chunk_id"]: p for p in m["points"]}
    assert (by_id[top["chunk_id"]]["x"], by_id[top["chunk_id"]]["y"]) == (top["x"], top["y"])
    # The query lands nearer its best hit than the median chunk does (the same space, not a guess).
    xy = np.array([[p["x"], p["y"]] for p in m["points"]])
    q = np.array([m["query"]["x"], m["query"]["y"]])
    assert np.linalg.norm(q - [top["x"], top["y"]]) < np.median(np.linalg.norm(xy - q, axis=1))
    assert sum(m["explained_variance"]) <= 1.0 + 1e-6 and m["explained_variance"][0] >= m["explained_variance"][1]


def test_map_is_cached_per_version_and_sampled(indexed):
    maps = indexed.app.state.maps  # type: ignore[attr-defined]
    first = indexed.get("/collections/notes/map").json()
    fits = maps.fits
    assert indexed.get("/collections/notes/map").json() == first and maps.fits == fits  # cached
    indexed.post("/collections/notes/documents", json={"documents": [{"id": "new", "text": "Fresh words."}]})
    second = indexed.get("/collections/notes/map").json()
    assert maps.fits == fits + 1 and second["version"] > first["version"] and second["total"] == first["total"] + 1
    few = indexed.get("/collections/notes/map", params={"points": 3}).json()
    assert few["sampled"] == len(few["points"]) == 3 and few["total"] == second["total"]
    assert indexed.get("/collections/notes/map", params={"points": 3}).json()["points"] == few["points"]
    r = indexed.get("/collections/notes/map", params={"points": 100_000})
    assert r.status_code == 422 and r.json()["error"]["field"] == "points"


def test_map_of_an_empty_collection(client):
    client.post("/collections", json={"name": "empty"})
    m = client.get("/collections/empty/map", params={"q": "anything"}).json()
    assert m["points"] == [] and m["total"] == 0 and m["query"]["hits"] == []
