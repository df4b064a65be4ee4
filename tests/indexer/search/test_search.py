"""indexer.search: the request rules, the scores beside the rank score, min_similarity and like."""

from __future__ import annotations

import json

import pytest

from indexer.collection import Collection, Limits
from indexer.errors import InvalidInput, LimitExceeded, SourceNotFound
from indexer.search import Filters, Like, SearchOptions, search_response
from indexer.stores.embedded import EmbeddedBackend
from tests.indexer.test_collection import make_folder

DOCS = [
    {"id": "tea", "text": "Green tea is brewed with water just below boiling, for two or three minutes.",
     "metadata": {"topic": "drinks"}},
    {"id": "coffee", "text": "Espresso is brewed by forcing hot water through finely ground coffee beans.",
     "metadata": {"topic": "drinks"}},
    {"id": "cocoa", "text": "Hot chocolate is made by warming milk and stirring in cocoa powder and sugar.",
     "metadata": {"topic": "drinks"}},
]


@pytest.fixture(scope="module")
def search_collection(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("search")
    c = Collection.open(EmbeddedBackend(root / "data"), "s", embedder, limits=Limits(max_k=20, max_query_chars=100))
    c.index_folder(make_folder(root / "docs"))
    c.upsert_documents(DOCS)
    yield c
    c.close()


def test_every_hit_carries_its_cosine_and_keyword_score(search_collection):
    for mode in ("dense", "keyword", "hybrid"):
        hits = search_collection.search("which planet is red", mode=mode, k=5)
        assert hits.hits, mode
        assert all(h.cosine is not None and -1 <= h.cosine <= 1 for h in hits), mode
        top = hits[0]
        assert top.path is not None and top.path.endswith("mars.rst"), (mode, hits)
        if mode == "dense":
            assert all(h.score == h.cosine for h in hits)  # the cosine is the dense rank score
        if mode == "keyword":
            assert all(h.keyword == h.score for h in hits)
        if mode != "dense":
            assert top.keyword is not None and top.keyword > 0  # "planet" and "red" match words of mars.rst
    dense_cosine = search_collection.search("which planet is red", mode="dense", k=1)[0].cosine
    hybrid_cosine = search_collection.search("which planet is red", mode="hybrid", k=1)[0].cosine
    assert hybrid_cosine == pytest.approx(dense_cosine, abs=1e-6)


def test_a_gibberish_query_has_low_cosines_and_min_similarity_drops_them(search_collection):
    junk = search_collection.search("zxqv blorf", k=10)
    good = search_collection.search("how long should bread dough rise", k=10)
    assert junk.hits and junk[0].score > 0.4  # the fused score alone cannot tell (one ranking normalized)
    assert junk[0].keyword is None  # no word of it is in the collection
    assert max(h.cosine for h in junk) < 0.3 < good[0].cosine
    assert search_collection.search("zxqv blorf", k=10, min_similarity=0.3).hits == []
    kept = search_collection.search("how long should bread dough rise", k=10, min_similarity=0.3)
    assert kept.hits and all(h.cosine >= 0.3 for h in kept)
    assert kept.total_candidates == len(kept)  # the threshold applies before paging and counting


def test_min_similarity_applies_before_paging(search_collection):
    full = search_collection.search("hot drinks made with water", mode="hybrid", k=10, min_similarity=0.2)
    page = search_collection.search("hot drinks made with water", mode="hybrid", k=1, offset=1, min_similarity=0.2)
    assert len(full) >= 2 and [h.id for h in page] == [full[1].id]
    assert page.total_candidates == full.total_candidates


def test_like_finds_neighbours_of_a_document_and_leaves_it_out(search_collection):
    hits = search_collection.search(like="tea", k=3)
    assert hits.mode == "dense" and "tea" not in [h.id for h in hits]
    assert {h.id for h in hits[:2]} == {"coffee", "cocoa"}  # the other drinks are nearest
    assert hits[0].cosine is not None and hits[0].cosine > hits[-1].cosine
    mars = next(h.path for h in search_collection.search("mars", mode="keyword", k=1))
    assert mars not in [h.id for h in search_collection.search(like=mars, k=20)]  # a file by its path
    only = search_collection.search(like="tea", k=5, filters=Filters(metadata={"topic": "drinks"}))
    assert {h.id for h in only} == {"coffee", "cocoa"}  # filters apply as for words


def test_like_of_an_unknown_id_or_in_keyword_mode_is_an_error(search_collection):
    with pytest.raises(SourceNotFound) as e:
        search_collection.search(like="nope")
    assert e.value.field == "like"
    with pytest.raises(InvalidInput, match="keyword") as e2:
        search_collection.search(like="tea", mode="keyword")
    assert e2.value.field == "like"


@pytest.mark.parametrize("query, options, field", [
    ("", {}, "query"),
    ("   ", {}, "query"),
    ("x" * 101, {}, "query"),  # over max_query_chars
    ("tea", {"k": 21}, "k"),  # over max_k
    ("tea", {"k": 15, "offset": 10}, "offset"),
    ("tea", {"k": 0}, "k"),
    ("tea", {"offset": -1}, "offset"),
    ("tea", {"mode": "semantic"}, "mode"),
    ("tea", {"fusion": "borda"}, "fusion"),
    ("tea", {"min_similarity": 1.5}, "min_similarity"),
    ("tea", {"min_similarity": float("nan")}, "min_similarity"),
])
def test_the_library_owns_the_request_rules(search_collection, query, options, field):
    with pytest.raises(InvalidInput) as e:
        search_collection.search(query, **options)
    assert e.value.field == field
    assert isinstance(e.value, LimitExceeded) == ("over" in e.value.message)


def test_the_response_shape_is_the_librarys(search_collection):
    opts = SearchOptions(k=2, mode="dense", min_similarity=0.1)
    hits = search_collection.search_batch(["green tea", Like("coffee")], options=opts)
    words, like = (search_response("s", q, opts, h).to_dict() for q, h in
                   zip(["green tea", Like("coffee")], hits, strict=True))
    assert (words["query"], words["like"], like["query"], like["like"]) == ("green tea", None, None, "coffee")
    assert set(words) == {"collection", "query", "like", "mode", "k", "offset", "min_similarity", "total_candidates",
                          "hits"}
    assert {"score", "cosine", "keyword", "snippet"} <= set(words["hits"][0]) and "explain" not in words["hits"][0]
    text = search_response("s", "green tea", opts, hits[0]).to_json()
    assert json.loads(text) == words and ": " not in text  # compact


def test_json_scores_keep_four_decimals_and_a_file_hit_names_its_folder(search_collection, tmp_path_factory):
    """Rounded scores are what makes the CLI, HTTP and MCP print the same bytes whatever the float sums'
    7th digit did; the root lets the page show a file's path below the folder it was indexed from."""
    opts = SearchOptions(k=10, mode="hybrid", explain=True)
    hits = search_collection.search_batch(["which planet is red"], options=opts)[0]
    assert any(h.cosine is not None and round(h.cosine, 4) != h.cosine for h in hits)  # full precision here
    body = search_response("s", "which planet is red", opts, hits).to_dict()
    numbers = [h[f] for h in body["hits"] for f in ("score", "cosine", "keyword") if h[f] is not None]
    numbers += [v for h in body["hits"] for d in h["explain"].values() if isinstance(d, dict)
                for v in d.values() if isinstance(v, float)]
    assert numbers and all(round(x, 4) == x for x in numbers), numbers
    files = [h for h in body["hits"] if h["kind"] == "file"]
    docs = [h for h in body["hits"] if h["kind"] == "doc"]
    assert files and docs and all(h["root"] is None for h in docs)
    assert all(h["root"].endswith("/docs") and h["path"].startswith(h["root"] + "/") for h in files), files
    rows, _ = search_collection.list_sources(kind="file", offset=0, limit=5)
    assert rows and all(r.key.startswith(r.root + "/") for r in rows)
