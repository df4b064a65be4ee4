"""The filter language's contract: every store answers a generated ``where`` document exactly as the
plain-Python reading of it (``indexer.filters.matches``) does, on the same small data, in dense, keyword
and hybrid mode - and a filtered HNSW search still returns k hits inside the filter.

Same store parametrization as test_contract.py (embedded, Qdrant local, Postgres, a Qdrant server when
one is named). The examples are few (``MAX_EXAMPLES``) so each store takes seconds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.collection import Collection, Limits
from indexer.filters import Filters, matches
from indexer.stores.embedded.vectors import VectorIndex
from tests.indexer.stores.test_contract import BACKENDS, make_backend

MAX_EXAMPLES = 25
TOPICS = ["law", "tax", "cooking", "travel"]
TAGS = ["draft", "final", "urgent", "2024"]


def _docs() -> list[dict[str, Any]]:
    """Twenty documents whose metadata covers what the language distinguishes: ints and floats, a
    number that is a string, booleans, lists (empty, one, several), a single value where others have a
    list, missing keys and nulls."""
    out = []
    for i in range(20):
        meta: dict[str, Any] = {"topic": TOPICS[i % 4]}
        if i % 5:
            meta["year"] = 2019 + i % 7 if i % 3 else float(2019 + i % 7)
        elif i == 10:
            meta["year"] = "2024"
        if i % 4 != 3:
            meta["tags"] = [TAGS[j] for j in range(4) if (i >> j) & 1] if i % 6 else TAGS[i % 4]
        if i % 3 == 0:
            meta["draft"] = bool(i % 2)
        if i == 7:
            meta["draft"] = None
        meta["rating"] = (i * 7) % 10 / 2
        out.append({"id": f"doc-{i:02d}", "metadata": meta,
                    "text": f"Quarterly report number {i} on {meta['topic']}: " + "figures and notes " * (1 + i % 3)})
    return out


FILES = {"legal/contracts/lease.md": "Lease report: rent, deposit and notice periods.",
         "legal/nda.txt": "Confidentiality report for the supplier agreement.",
         "notes/trip.md": "Travel report from the spring trip to the coast.",
         "notes/recipes/bread.txt": "Baking report: flour, water, salt and a long rise."}
MTIMES = [1.60e9, 1.65e9, 1.70e9, 1.72e9]

_num = st.sampled_from([2019, 2021, 2022.5, 2024, 2025])
_leaf = st.one_of(
    st.builds(lambda op, v: {"year": {op: v}}, st.sampled_from(["$gt", "$gte", "$lt", "$lte", "$eq", "$ne"]), _num),
    st.builds(lambda v: {"year": v}, st.sampled_from([2020, 2024.0, "2024"])),
    st.builds(lambda op, vs: {"year": {op: vs}}, st.sampled_from(["$in", "$nin"]),
              st.lists(st.sampled_from([2020, 2023, "2024", True]), min_size=1, max_size=3)),
    st.builds(lambda v: {"topic": v}, st.sampled_from(TOPICS)),
    st.builds(lambda op, vs: {"topic": {op: vs}}, st.sampled_from(["$in", "$nin"]),
              st.lists(st.sampled_from(TOPICS), min_size=1, max_size=2)),
    st.builds(lambda op, v: {"tags": {op: v}}, st.sampled_from(["$contains", "$eq", "$ne"]), st.sampled_from(TAGS)),
    st.builds(lambda v: {"tags": {"$exists": v}}, st.booleans()),
    st.builds(lambda v: {"draft": v}, st.sampled_from([True, False, None, 1])),
    st.builds(lambda v: {"draft": {"$exists": v}}, st.booleans()),
    st.builds(lambda op, v: {"rating": {op: v}}, st.sampled_from(["$gt", "$lte"]), st.sampled_from([0, 1.5, 2, 3.5])),
    st.builds(lambda v: {"kind": v}, st.sampled_from(["doc", "file"])),
    st.builds(lambda v: {"ext": {"$in": v}}, st.lists(st.sampled_from(["md", ".TXT", "pdf"]), min_size=1, max_size=2)),
    st.builds(lambda v: {"path": {"$glob": v}}, st.sampled_from(["legal/**", "**/*.md", "notes/*", "*.txt"])),
    st.builds(lambda v: {"path": {"$in": v}}, st.lists(st.sampled_from(["doc-01", "doc-05", "doc-12"]), min_size=1)),
    st.builds(lambda op, v: {"size": {op: v}}, st.sampled_from(["$gt", "$lt"]), st.sampled_from([40, 50, 70])),
    st.builds(lambda op, v: {"modified": {op: v}}, st.sampled_from(["$gt", "$lte"]),
              st.sampled_from([1.62e9, "2023-11-14", "2024-07-01T00:00:00Z", "2031-01-01"])),
)
WHERE = st.recursive(_leaf, lambda inner: st.one_of(
    st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"$and": xs}),
    st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"$or": xs}),
    inner.map(lambda x: {"$not": x})), max_leaves=5)


@pytest.fixture(params=BACKENDS)
def backend_kind(request):
    return request.param


def _open(kind: str, tmp: Path, request: pytest.FixtureRequest, embedder: Any, index_type: str = "flat"):
    if kind == "postgres" and index_type == "hnsw":
        from indexer.stores.postgres import PostgresBackend

        backend = PostgresBackend(request.getfixturevalue("postgres_db"), hnsw_after=0)  # the index from row one
    else:
        backend = make_backend(kind, tmp, request)
    name = f"t-{os.urandom(4).hex()}"
    return backend, Collection.open(backend, name, embedder, index_type=index_type, limits=Limits(batch_chunks=64))


def _rows(coll: Collection) -> dict[str, dict[str, Any]]:
    """The reference's view of every source, as the store keeps it."""
    rows, _ = coll.store.list_sources(kind=None, offset=0, limit=1000)
    return {r.key: {"kind": r.kind, "path": r.key, "root": r.root, "ext": r.ext, "size": r.size,
                    "modified": r.mtime if r.kind == "file" else r.indexed_at, "metadata": r.metadata} for r in rows}


def test_every_store_filters_as_the_reference_does(backend_kind, tmp_path, request, embedder):
    backend, coll = _open(backend_kind, tmp_path, request, embedder)
    try:
        folder = tmp_path / "corpus"
        for (rel, text), mtime in zip(FILES.items(), MTIMES, strict=True):
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text, encoding="utf-8")
            os.utime(folder / rel, (mtime, mtime))
        coll.index_folder(folder)
        coll.upsert_documents(_docs())
        rows = _rows(coll)
        assert len(rows) == 24
        everything = {mode: [h.id for h in coll.search("report", mode=mode, k=100)] for mode in ("dense", "keyword")}
        assert set(everything["dense"]) == set(everything["keyword"]) == set(rows)

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
        @given(where=WHERE)
        def check(where: dict[str, Any]) -> None:
            f = Filters(where=where)
            tree = f.tree()
            want = {key for key, row in rows.items() if matches(tree, row)}
            for mode in ("dense", "keyword", "hybrid"):
                got = {h.id for h in coll.search("report", mode=mode, k=100, filters=f)}
                assert got == want, (mode, where)
            # the true top-k: the best 3 of the allowed, in the unfiltered ranking's order
            top = [h.id for h in coll.search("report", mode="dense", k=3, filters=f)]
            assert top == [i for i in everything["dense"] if i in want][:3], where

        check()
    finally:
        coll.close()
        backend.close()


def test_a_filtered_hnsw_search_returns_k_hits_inside_the_filter(backend_kind, tmp_path, request, embedder,
                                                                   monkeypatch):
    monkeypatch.setattr(VectorIndex, "EXACT_FILTER_MAX", 0)  # the embedded store: walk the graph, no exact scan
    backend, coll = _open(backend_kind, tmp_path, request, embedder, index_type="hnsw")
    try:
        coll.upsert_documents(_docs())
        where = {"$or": [{"topic": {"$in": ["law", "tax"]}}, {"tags": {"$contains": "urgent"}}],
                 "$not": {"year": {"$lt": 2021}}}
        tree = Filters(where=where).tree()
        allowed = {k for k, row in _rows(coll).items() if matches(tree, row)}
        assert len(allowed) > 5
        for k in (1, 5):
            hits = coll.search("travel figures", mode="dense", k=k, filters=Filters(where=where))
            assert len(hits.hits) == k and {h.id for h in hits} <= allowed
    finally:
        coll.close()
        backend.close()


def test_a_parts_page_is_a_field_in_every_store(backend_kind, tmp_path, request, embedder):
    """A chunk's own metadata (the PDF page it starts in) is filtered on before its file's."""
    from tests.indexer.readers.test_text_html_pdf import make_pdf

    backend, coll = _open(backend_kind, tmp_path, request, embedder)
    try:
        topics = ["lighthouses", "glaciers", "coral reefs", "caravans"]
        pages = [" ".join(f"Fact {j} of page {i + 1}: the study of {t} found pattern {j} each season."
                          for j in range(12)) for i, t in enumerate(topics)]
        (tmp_path / "pdf").mkdir()
        (tmp_path / "pdf" / "atlas.pdf").write_bytes(make_pdf(pages))
        coll.index_folder(tmp_path / "pdf")
        for where, allowed in (({"page": {"$gte": 3}}, {3, 4}), ({"$not": {"page": {"$in": [1, 3, 4]}}}, {2}),
                               ({"page": 2, "ext": "pdf", "metadata.page": {"$exists": True}}, {2})):
            for mode in ("dense", "keyword", "hybrid"):
                for topic in topics:
                    hits = coll.search(f"the study of {topic}", mode=mode, k=1, filters=Filters(where=where))
                    assert [h.metadata.get("page") in allowed for h in hits] == [True], (where, mode, topic)
    finally:
        coll.close()
        backend.close()
