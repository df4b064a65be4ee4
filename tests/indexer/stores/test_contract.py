"""The Store contract: the same behaviour through every store, checked through Collection (what users call).

Runs against the embedded store (SQLite + FAISS), Qdrant's in-process local mode, and - when
``SEMSEARCH_TEST_QDRANT_URL`` names one - a real Qdrant server (``docker compose --profile qdrant``).
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest

from indexer.collection import Collection, Limits, list_collection_names, read_info
from indexer.errors import CollectionBusy, CollectionNotFound, InvalidInput, SourceNotFound, StoreUnavailable
from indexer.passages import read_passage
from indexer.projection import build_projection
from indexer.search import Filters, SearchOptions
from indexer.stores.base import Store
from indexer.stores.embedded import EmbeddedBackend
from tests.indexer.test_collection import TOPICS, make_folder

SERVER = os.environ.get("SEMSEARCH_TEST_QDRANT_URL", "")
BACKENDS = ["embedded", "qdrant-local", "postgres", *(["qdrant-server"] if SERVER else [])]

DOCS = [
    {"id": "tea", "text": "Green tea is brewed with water just below boiling, for two or three minutes.",
     "metadata": {"topic": "drinks", "rating": 4}},
    {"id": "coffee", "text": "Espresso is brewed by forcing hot water through finely ground coffee beans.",
     "metadata": {"topic": "drinks", "rating": 5}},
    {"id": "granite", "text": "Granite is an igneous rock made of quartz, feldspar and mica.",
     "metadata": {"topic": "geology", "rating": 3}},
]


def make_backend(kind: str, tmp: Path, request: pytest.FixtureRequest):
    if kind == "embedded":
        return EmbeddedBackend(tmp / "data")
    if kind == "postgres":
        from indexer.stores.postgres import PostgresBackend

        return PostgresBackend(request.getfixturevalue("postgres_db"))
    from indexer.stores.qdrant import QdrantBackend

    if kind == "qdrant-local":
        return QdrantBackend(path=tmp / "qdrant")
    return QdrantBackend(url=SERVER)


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    b = make_backend(request.param, tmp_path, request)
    yield b
    if request.param == "qdrant-server":  # the server outlives the test: leave nothing behind
        for name in b.names():
            if name.startswith("t-"):
                b.delete(name)
    b.close()


@pytest.fixture
def name():
    return f"t-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def coll(backend, name, embedder):
    c = Collection.open(backend, name, embedder, limits=Limits(batch_chunks=4))
    yield c
    c.close()


def test_a_store_is_a_store(coll):
    assert isinstance(coll.store, Store)


def test_create_list_info_delete(backend, name, embedder, coll):
    assert name in list_collection_names(backend)
    coll.upsert_documents(DOCS)
    info = read_info(backend, name)
    assert (info.documents, info.files, info.chunks, info.model) == (3, 0, 3, embedder.name)
    assert coll.info().chunks == 3
    backend.delete(name)
    assert name not in list_collection_names(backend)
    with pytest.raises(CollectionNotFound):
        read_info(backend, name)


def test_documents_upsert_unchanged_update_delete(coll):
    assert coll.upsert_documents(DOCS) == {"added": 3, "updated": 0, "unchanged": 0, "chunks": 3}
    assert coll.upsert_documents(DOCS)["unchanged"] == 3
    changed = [{**DOCS[0], "text": "Black tea is brewed with boiling water for four minutes."}]
    assert coll.upsert_documents(changed)["updated"] == 1
    assert coll.get_document("tea").text.startswith("Black tea")
    assert coll.store.count_chunks() == 3
    assert coll.delete_documents(["tea", "missing"]) == 1
    assert coll.store.count_chunks() == 2
    rows, total = coll.list_sources(kind="doc")
    assert total == 2 and [r.key for r in rows] == ["coffee", "granite"]
    assert coll.search("black tea", mode="keyword", k=5).hits == [] or \
        all(h.id != "tea" for h in coll.search("black tea", mode="keyword", k=5))


def test_one_indexer_per_collection_the_second_is_refused_or_waits_and_embeds_nothing_twice(coll, tmp_path):
    root = make_folder(tmp_path / "docs")
    held = coll.store.indexing_lock()
    assert held.try_acquire() is None
    try:
        holder = coll.store.indexing_lock().try_acquire()
        assert holder is not None and f"process {os.getpid()} " in holder
        coll.limits.when_busy = "refuse"
        with pytest.raises(CollectionBusy, match="is being indexed by process"):
            coll.index_folder(root)
    finally:
        held.release()
    coll.limits.when_busy = "wait"
    first_has_it, second_waits = threading.Event(), threading.Event()
    phases: list[str] = []
    reports = {}

    def first_progress(p):  # the first run holds the lock until the second one is seen waiting
        first_has_it.set()
        if p.phase == "indexing":
            second_waits.wait(30)

    def second_progress(p):
        phases.append(p.phase)
        if p.phase == "waiting":
            assert "is being indexed by process" in p.current
            second_waits.set()

    def run(which, progress):
        reports[which] = coll.index_folder(root, progress=progress)

    runs = [threading.Thread(target=run, args=("first", first_progress)),
            threading.Thread(target=run, args=("second", second_progress))]
    runs[0].start()
    assert first_has_it.wait(30)
    runs[1].start()
    for t in runs:
        t.join(120)
    assert second_waits.is_set() and phases[0] == "waiting" and phases[-1] == "done"
    assert reports["first"].added == len(TOPICS) and reports["first"].chunks_embedded == len(TOPICS)
    assert reports["second"].unchanged == len(TOPICS) and reports["second"].chunks_embedded == 0


def test_index_folder_sync_and_search_every_mode(coll, tmp_path):
    root = make_folder(tmp_path / "docs")
    report = coll.index_folder(root)
    assert report.added == len(TOPICS) and coll.store.count_chunks() == len(TOPICS)
    again = coll.index_folder(root)
    assert again.added == 0 and again.unchanged == len(TOPICS)
    assert {r.root for r in coll.list_sources(kind="file")[0]} == {str(root)}
    for mode in ("dense", "keyword", "hybrid"):
        hits = coll.search("which planet is red", mode=mode, k=3)
        assert hits[0].path is not None and hits[0].path.endswith("mars.rst"), (mode, hits)
        assert hits[0].root == str(root) and hits[0].path.startswith(str(root) + "/")  # the page shows it relative
        assert hits[0].cosine is not None and 0 < hits[0].cosine <= 1
        assert "**" in hits[0].snippet or mode == "dense"
    (root / "space/mars.rst").unlink()
    (root / "cooking/bread.md").write_text("Sourdough needs a starter of flour and water, fed daily.")
    r = coll.index_folder(root)
    assert (r.removed, r.updated) == (1, 1)
    assert all(not (h.path or "").endswith("mars.rst") for h in coll.search("red planet", k=10))
    assert coll.search("sourdough starter", mode="keyword", k=1)[0].path.endswith("bread.md")


def test_an_unfiltered_search_returns_chunks_and_only_chunks(coll, tmp_path):
    """Qdrant keeps sources and its meta record as points beside the chunks; an unfiltered search
    (no payload condition at all) must still return every chunk and nothing else."""
    coll.index_folder(make_folder(tmp_path / "docs"))
    coll.upsert_documents(DOCS)
    every = set(coll.store.chunk_ids().tolist())
    assert len(every) == len(TOPICS) + len(DOCS)
    qvec = coll.embed_queries(["brewed water"])[0]
    assert {cid for cid, _ in coll.store.dense_chunks(qvec, 100, Filters())} == every
    found = {cid for cid, _ in coll.store.keyword_chunks("water", 100, Filters())}
    assert found and found <= every


def test_filters_before_ranking(coll, tmp_path):
    coll.index_folder(make_folder(tmp_path / "docs"))
    coll.upsert_documents(DOCS)
    for mode in ("dense", "keyword", "hybrid"):
        hits = coll.search("brewed water", mode=mode, k=10, filters=Filters(metadata={"topic": "geology"}))
        assert [h.id for h in hits] in ([], ["granite"]), mode
        hits = coll.search("cats and dogs", mode=mode, k=10, filters=Filters(path_glob="animals/**"))
        assert hits.hits and all("/animals/" in h.id for h in hits), mode
        hits = coll.search("text", mode=mode, k=10, filters=Filters(ext=["md"]))
        assert all(h.id.endswith(".md") for h in hits), mode
    assert [h.id for h in coll.search("drink", k=10, filters=Filters(metadata={"rating": 5}))] == ["coffee"]
    assert coll.search("rock", k=10, filters=Filters(modified_after=4e9)).hits == []


LICENSE = ("The GNU General Public License is a free, copyleft license for software and other kinds of works. "
           "It guarantees your freedom to share and change all versions of a program.\n")
PENGUINS = "Penguins huddle together through the antarctic winter to keep warm.\n"


def _license_hits(coll, mode="hybrid", **kw):
    return [h for h in coll.search("freedom to share and change a program", mode=mode, k=10, **kw)
            if "Penguins" not in h.snippet]


def test_a_file_with_another_files_content_is_stored_once_and_listed_under_every_path(coll, tmp_path):
    root = tmp_path / "lic"
    for d in ("a", "b", "c", "d"):
        (root / d).mkdir(parents=True)
    (root / "a/LICENSE").write_text(LICENSE)
    (root / "b/COPY.md").write_text(LICENSE)
    os.symlink("../b/COPY.md", root / "c/link")
    (root / "other.txt").write_text(PENGUINS)
    for f in ("a/LICENSE", "b/COPY.md", "other.txt"):
        os.utime(root / f, (1e9, 1e9))
    os.utime(root / "b/COPY.md", (3e9, 3e9))
    report = coll.index_folder(root)
    assert (report.added, report.copies, report.chunks_embedded) == (4, 2, 2)
    listed = {Path(r.key).relative_to(root).as_posix(): (r.chunks, r.copy_of) for r in coll.list_sources()[0]}
    assert listed == {"a/LICENSE": (1, ""), "b/COPY.md": (0, str(root / "a/LICENSE")),
                      "c/link": (0, str(root / "a/LICENSE")), "other.txt": (1, "")}
    assert coll.store.canonical_file(coll.store.source_hashes("file", [str(root / "b/COPY.md")])[
        str(root / "b/COPY.md")]) == str(root / "a/LICENSE")
    for mode in ("dense", "keyword", "hybrid"):
        hits = _license_hits(coll, mode)
        assert [(h.path, h.also_at, h.copies) for h in hits] == [
            (str(root / "a/LICENSE"), [str(root / "b/COPY.md"), str(root / "c/link")], 2)], mode
        # A copy's path, extension and mtime stay filterable (the hit shows the canonical path).
        for flt in (Filters(path_glob="b/*"), Filters(ext=[".md"]), Filters(modified_after=2e9)):
            assert [h.path for h in _license_hits(coll, mode, filters=flt)] == [str(root / "a/LICENSE")], (mode, flt)
        assert _license_hits(coll, mode, filters=Filters(path_glob="nowhere/*")) == []
    stored = coll.store.stored_source(str(root / "c/link"), ["file"])  # passages of a copy: its canonical's chunks
    assert stored is not None and [c[3] for c in stored.chunks] == [LICENSE.strip()]
    again = coll.index_folder(root)
    assert (again.unchanged, again.chunks_embedded, again.copies) == (4, 0, 0)

    # Deleting the canonical path: the content stays, under the first remaining path.
    (root / "a/LICENSE").unlink()
    gone = coll.index_folder(root)
    assert (gone.removed, gone.chunks_embedded) == (1, 0)
    assert [(h.path, h.also_at) for h in _license_hits(coll)] == [(str(root / "b/COPY.md"), [str(root / "c/link")])]
    assert [h.path for h in _license_hits(coll, filters=Filters(path_glob="c/*"))] == [str(root / "b/COPY.md")]

    # Changing the canonical's content (the symlink follows it): its old content stays with a copy.
    (root / "d/again.txt").write_text(LICENSE)
    assert coll.index_folder(root).copies == 1
    (root / "b/COPY.md").write_text(PENGUINS + "Emperor penguins breed in winter.\n")
    changed = coll.index_folder(root)
    assert (changed.updated, changed.copies, changed.chunks_embedded) == (2, 1, 1)
    assert [(h.path, h.copies) for h in _license_hits(coll)] == [(str(root / "d/again.txt"), 0)]
    new = coll.search("emperor penguins breed", k=1)[0]
    assert (new.path, new.also_at) == (str(root / "b/COPY.md"), [str(root / "c/link")])
    assert coll.store.count_chunks() == 3


def test_like_and_hit_metadata(coll):
    coll.upsert_documents(DOCS)
    hits = coll.search(like="tea", k=2)
    assert hits[0].id == "coffee" and all(h.id != "tea" for h in hits)
    assert hits[0].metadata == {"topic": "drinks", "rating": 5}
    with pytest.raises(SourceNotFound):
        coll.search(like="nothing-of-that-name")


def test_passages_fulltext_and_map(coll):
    coll.upsert_documents(DOCS)
    p = read_passage(coll, "granite", start=0, end=7, context=5)
    assert p.text.startswith("Granite") and p.total_chars == len(DOCS[2]["text"])
    proj = build_projection(coll, max_points=10)
    assert proj.total == 3 and len(proj.points) == 3
    assert {pt.id for pt in proj.points} == {"tea", "coffee", "granite"}


def test_partial_batches_resume(coll, tmp_path):
    """A big file is committed batch by batch (partial), and the spans committed so far are what sync resumes from."""
    root = tmp_path / "big"
    root.mkdir()
    text = " ".join(f"Sentence number {i} talks about topic {i % 7} at some length." for i in range(400))
    (root / "big.txt").write_text(text)
    coll.index_folder(root)
    key = str(root / "big.txt")
    spans = coll.store.chunk_spans("file", key)
    assert len(spans) > 4 and [s[0] for s in spans] == list(range(len(spans)))
    assert coll.store.file_states(str(root) + "/")[key][3] is False  # no longer partial
    assert coll.store.count_chunks() == len(spans)


def test_write_returns_the_chunk_ids_it_added_and_removed(coll):
    coll.upsert_documents(DOCS[:1])
    first = set(coll.store.chunk_ids().tolist())
    chunks = coll.chunk("Oolong tea is partly oxidised.")
    from indexer.stores.base import SourceWrite

    w = SourceWrite(kind="doc", key="tea", sha256="x", chunks=chunks,
                    vectors=coll.embedder.embed([c.text for c in chunks]), text="Oolong tea is partly oxidised.")
    res = coll.store.write([w])
    assert set(res.removed_ids.tolist()) == first and len(res.added_ids) == len(chunks)
    assert set(coll.store.chunk_ids().tolist()) == set(res.added_ids.tolist())


def test_reopen_keeps_everything(backend, name, embedder, coll):
    coll.upsert_documents(DOCS)
    top = coll.search("igneous rock", k=1)[0].id
    coll.close()
    again = Collection.open(backend, name, embedder, create=False)
    assert again.store.count_chunks() == 3 and again.search("igneous rock", k=1)[0].id == top == "granite"


# -- Qdrant's consistency: a write that fails midway leaves no half-written source ---------------------

def _fail_at(monkeypatch, store, what: str):
    """Make the Qdrant call named ``what`` fail as an unreachable server does (the real error path)."""
    real = store.qb.call

    def call(method, *args, **kw):
        if what in kw.get("what", ""):
            raise StoreUnavailable(f"Qdrant at {store.qb.where} cannot be reached to {kw['what']}")
        return real(method, *args, **kw)

    monkeypatch.setattr(store.qb, "call", call)
    return real


@pytest.mark.parametrize("step", ["write sources", "delete"])
def test_qdrant_a_failed_write_shows_the_old_or_the_new_source_never_half(backend, name, embedder, monkeypatch,
                                                                        step):
    if backend.backend != "qdrant":
        pytest.skip("a write is one transaction in this store (embedded/test_durability.py, "
                    "postgres/test_postgres_store.py)")
    coll = Collection.open(backend, name, embedder)
    long = " ".join(f"Tea fact {i}: leaves are picked, withered, rolled and dried." for i in range(60))
    coll.upsert_documents([{"id": "tea", "text": long}, DOCS[2]])
    before = coll.store.count_chunks()
    _fail_at(monkeypatch, coll.store, step)
    with pytest.raises(StoreUnavailable):
        coll.upsert_documents([{"id": "tea", "text": "Matcha is powdered green tea."}])
    monkeypatch.undo()
    shown = coll.get_document("tea").text
    hits = coll.search("tea", mode="keyword", k=10)
    texts = [h.snippet for h in hits if h.id == "tea"]
    if step == "write sources":  # failed before the commit point: the old version, whole
        assert shown == long and len(coll.store.chunk_spans("doc", "tea")) == before - 1
        assert all("Matcha" not in t for t in texts)
    else:  # failed after it: the new version, whole, and none of the old chunks
        assert shown == "Matcha is powdered green tea." and len(coll.store.chunk_spans("doc", "tea")) == 1
        assert all("withered" not in t for t in texts)
    coll.close()
    reopened = Collection.open(backend, name, embedder, create=False)  # sweeps what was left
    assert reopened.store.count_chunks() == len(reopened.store.chunk_spans("doc", "tea")) + 1


def test_qdrant_unreachable_server_is_one_clear_line(monkeypatch):
    from indexer.stores.qdrant import backend

    monkeypatch.setattr(backend, "RETRIES", (0.01,))
    with pytest.raises(StoreUnavailable) as e:
        backend.QdrantBackend(url="http://127.0.0.1:9", timeout=1)
    msg = e.value.message
    assert "http://127.0.0.1:9" in msg and "cannot be reached" in msg and "SEMSEARCH_QDRANT_URL" in msg
    assert "\n" not in msg


def test_qdrant_local_path_is_one_process_at_a_time(tmp_path):
    import subprocess
    import sys

    from indexer.stores.qdrant import QdrantBackend

    held = QdrantBackend(path=tmp_path / "q")
    code = ("import sys\nfrom indexer.errors import StoreUnavailable\nfrom indexer.stores.qdrant import QdrantBackend\n"
            f"try:\n    QdrantBackend(path={str(tmp_path / 'q')!r})\nexcept StoreUnavailable as e:\n"
            "    print(e.message); sys.exit(3)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[3])
    held.close()
    assert out.returncode == 3, out.stderr[-2000:]
    assert "another process" in out.stdout and "SEMSEARCH_QDRANT_URL" in out.stdout


def test_qdrant_alias_swap_replaces_a_collection_without_a_gap(backend, name, embedder):
    if backend.backend != "qdrant":
        pytest.skip("aliases are Qdrant's")
    coll = Collection.open(backend, name, embedder)
    coll.upsert_documents(DOCS[:1])
    old = backend.physical(name)
    # a re-index fills a new physical collection, then the alias moves in one call
    new = backend.create_physical(name, embedder.dimension)
    from indexer.stores.qdrant.points import META_ID

    meta = backend.call("retrieve", old, [META_ID], with_payload=True, what="read")[0].payload
    from qdrant_client import models

    backend.call("upsert", new, [models.PointStruct(id=META_ID, vector={}, payload=meta)], wait=True, what="meta")
    backend.swap(name, new)
    assert backend.physical(name) == new and name in backend.names()
    fresh = Collection.open(backend, name, embedder, create=False)
    assert fresh.store.count_chunks() == 0
    assert old not in {c.name for c in backend.client.get_collections().collections}


def test_vectors_round_trip_exactly(coll):
    coll.upsert_documents(DOCS)
    ids = coll.store.chunk_ids().tolist()
    got = coll.store.vectors_for(ids)
    texts = {r.chunk_id: r.text for r in coll.store.hit_rows(ids).values()}
    want = coll.embedder.embed([texts[i] for i in ids])
    assert np.allclose(np.stack([got[i] for i in ids]), want, atol=1e-6)


def test_search_options_are_checked_the_same(coll):
    coll.upsert_documents(DOCS)
    hits = coll.search_batch(["tea", "rock"], options=SearchOptions(k=1, mode="hybrid"))
    assert [h[0].id for h in hits] == ["tea", "granite"]


# -- keyword search in other languages (indexer/analysis/languages.py) ---------------------------------

LANGUAGE_CASES = [  # (language, a document that only has another form of the word, the query, what is marked)
    ("de", "Es regnet seit Tagen. Die alten Häuser am Fluss wurden im Winter renoviert.", "Haus", "Häuser"),
    ("fr", "Il pleut depuis hier. Les chevaux galopent dans le pré derrière la ferme.", "cheval", "chevaux"),
    ("zh", "今天下雨了! 我们的实验室主要研究机器学习和数据挖掘的方法。", "机器学习", "机器学习"),
]
OTHERS = [{"id": "other-1", "text": "Der Hund schläft im Garten. Le chat dort sur le toit."},
          {"id": "other-2", "text": "今天天气很好，我们去公园散步。"}]


@pytest.mark.parametrize(("language", "text", "query", "marked"), LANGUAGE_CASES, ids=[c[0] for c in LANGUAGE_CASES])
def test_keyword_search_stems_folds_and_splits_in_the_collections_language(backend, name, embedder, language,
                                                                           text, query, marked):
    with Collection.open(backend, name, embedder, language=language) as c:
        assert c.info().language == language and c.info().keyword_index == "analysed"
        c.upsert_documents([{"id": "wanted", "text": text}, *OTHERS])
        hits = c.search(query, mode="keyword", k=3)
        assert [h.id for h in hits][:1] == ["wanted"], hits
        assert marked in hits[0].snippet.split("**")[1]  # the sentence that matched, in its own characters


def test_auto_detects_each_documents_language(backend, name, embedder):
    with Collection.open(backend, name, embedder, language="auto") as c:
        c.upsert_documents([{"id": lang, "text": text} for lang, text, _, _ in LANGUAGE_CASES])
        for lang, _, query, _ in LANGUAGE_CASES:
            assert c.search(query, mode="keyword", k=1)[0].id == lang, query


def test_an_unknown_language_is_refused_with_the_choices(backend, name, embedder):
    from indexer.errors import InvalidInput

    with pytest.raises(InvalidInput, match="unknown language 'klingon'.*de.*auto"):
        Collection.open(backend, name, embedder, language="klingon")


def _make_legacy(backend, name: str) -> None:
    """Turn a fresh collection into one made before languages existed (what older versions wrote)."""
    if backend.backend == "embedded":
        import sqlite3

        con = sqlite3.connect(backend.root / name / "catalog.sqlite3")
        con.executescript("""
            DROP TRIGGER chunks_terms_ai; DROP TRIGGER chunks_terms_ad; DROP TABLE chunks_terms;
            ALTER TABLE chunks DROP COLUMN terms;
            DELETE FROM meta WHERE key IN ('keywords', 'language');
            UPDATE meta SET value = '3' WHERE key = 'schema';
            CREATE VIRTUAL TABLE chunks_fts USING fts5 (
                text, content='chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');
            CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
                INSERT INTO chunks_fts (rowid, text) VALUES (new.id, new.text); END;
            CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
                INSERT INTO chunks_fts (chunks_fts, rowid, text) VALUES ('delete', old.id, old.text); END;
        """)
        con.close()
    elif backend.backend == "postgres":
        with backend.pools.write("make legacy") as con:
            con.execute("UPDATE collections SET keywords = DEFAULT, language = DEFAULT WHERE name = %s", (name,))
    else:
        from indexer.stores.qdrant.points import META_ID, PREFIX

        backend.call("delete_payload", PREFIX + name, ["language", "keywords"], points=[META_ID], wait=True,
                     what="make legacy")


def test_a_collection_made_before_languages_keeps_its_english_keyword_search(backend, name, embedder, coll):
    coll.close()
    _make_legacy(backend, name)
    with Collection.open(backend, name, embedder, language="de") as c:  # (the language of a new one only)
        assert (c.info().language, c.info().keyword_index) == ("en", "legacy")
        c.upsert_documents(DOCS)
        assert c.search("brewing", mode="keyword", k=1)[0].id in {"tea", "coffee"}  # still English stems
        assert c.search("igneous rocks", mode="keyword", k=1)[0].id == "granite"
        assert c.search("Granite", mode="keyword", k=3)[0].id == "granite"


def _counts(got):
    return {v.value: v.count for v in got.values}


def test_facets_count_sources_not_chunks_within_the_filters(coll, tmp_path):
    """A facet counts files and documents (a long document with many chunks counts once), among those the
    filters allow, and a value's count is the number of documents a filter on that value matches."""
    from indexer.facets import parse_facet

    root = make_folder(tmp_path / "docs")
    for rel in TOPICS:  # every file modified in March 2024 but the cooking ones (May 2025), in UTC
        os.utime(root / rel, (1709900000, 1746900000 if rel.startswith("cooking/") else 1709900000))
    coll.index_folder(root)
    long_text = " ".join(f"Herbal tea number {i} is brewed from dried leaves and flowers." for i in range(120))
    coll.upsert_documents([*DOCS, {"id": "herbal", "text": long_text, "metadata": {"topic": "drinks", "new": True}}])
    store = coll.store
    assert len(store.chunk_spans("doc", "herbal")) > 1  # many chunks, one document

    topic = store.facet_counts(parse_facet("metadata.topic"), Filters())
    assert _counts(topic) == {"drinks": 3, "geology": 1}
    assert topic.sources == 4 + len(TOPICS)  # every source matched; the files have no topic
    drinks = Filters(metadata={"topic": "drinks"})
    assert len(coll.search("tea", k=50, filters=drinks)) == 3 == store.facet_counts(parse_facet("ext"), drinks).sources

    assert _counts(store.facet_counts(parse_facet("ext"), Filters())) == {".txt": 2, ".md": 2, ".rst": 1, ".html": 1,
                                                                        ".py": 1}
    assert [v.value for v in store.facet_counts(parse_facet("ext", top=2), Filters()).values] == [".md", ".txt"]
    assert _counts(store.facet_counts(parse_facet("folder"), Filters(ext=["txt"]))) == {"animals": 1, "cooking": 1}
    files_only = Filters(path_glob="**")
    assert _counts(store.facet_counts(parse_facet("month"), files_only)) == {"2024-03": 5, "2025-05": 2}
    assert _counts(store.facet_counts(parse_facet("year"), Filters(path_glob="cooking/**"))) == {"2025": 2}
    assert _counts(store.facet_counts(parse_facet("metadata.new"), Filters())) == {True: 1}
    assert _counts(store.facet_counts(parse_facet("metadata.rating"), drinks)) == {4: 1, 5: 1}

    sid = store.find_source("coffee")
    assert sid is not None
    within = store.facet_counts(parse_facet("metadata.topic"), Filters(), sources=[sid])
    assert (_counts(within), within.sources) == ({"drinks": 1}, 1)
    assert store.facet_counts(parse_facet("ext"), Filters(), sources=[]).sources == 0


def test_sorting_by_modified_time_or_path_orders_the_best_hits(coll, tmp_path):
    """sort lists the best hits (up to ``candidates``) by modified time or path instead of by score."""
    root = make_folder(tmp_path / "docs")
    for i, rel in enumerate(sorted(TOPICS)):  # mtimes in reverse path order
        os.utime(root / rel, (1.7e9 - i * 1000, 1.7e9 - i * 1000))
    coll.index_folder(root)
    by_path = [h.id for h in coll.search("planets and animals", mode="dense", k=len(TOPICS), sort="path")]
    assert by_path == sorted(str(root / rel) for rel in TOPICS)
    newest = [h.id for h in coll.search("planets and animals", mode="dense", k=3, sort="-modified")]
    assert newest == by_path[:3]  # the earliest paths were modified last
    assert [h.id for h in coll.search("planets", mode="dense", k=2, offset=1, sort="-path")] == by_path[::-1][1:3]
    assert [h.id for h in coll.search("planets", mode="dense", k=2, sort="modified")] == by_path[::-1][:2]
    with pytest.raises(InvalidInput, match="sort must be one of relevance, modified, -modified, path, -path"):
        coll.search("planets", sort="size")


def test_field_boost_weighs_title_and_file_name_matches_more(coll, tmp_path):
    """field_boost multiplies a source's bm25 by 1 + boost * (the share of the query's terms in its title or
    file name); other sources keep their score, and 0 (the default) changes nothing."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "iceland_volcanoes.md").write_text("Notes on travel: hot springs and glaciers, volcanoes.")
    coll.index_folder(tmp_path / "docs")
    coll.upsert_documents([
        {"id": "titled", "text": "Iceland has active volcanoes.", "metadata": {"title": "Volcanoes of Iceland"}},
        {"id": "plain", "text": "Volcanoes erupt in Iceland, and volcanoes in Chile; a report on volcanoes."}])
    plain = {h.id: h.keyword for h in coll.search("iceland volcanoes", mode="keyword", k=5)}
    boosted = {h.id: h.keyword for h in coll.search("iceland volcanoes", mode="keyword", k=5, field_boost=2.0)}
    file = str(tmp_path / "docs" / "iceland_volcanoes.md")
    assert boosted["titled"] == pytest.approx(plain["titled"] * 3, rel=1e-3)  # both terms in the title
    assert boosted[file] == pytest.approx(plain[file] * 3, rel=1e-3)  # both in the file name
    assert boosted["plain"] == pytest.approx(plain["plain"], rel=1e-3)
    assert coll.search("iceland volcanoes", mode="hybrid", k=1, field_boost=10.0)[0].id in ("titled", file)
    with pytest.raises(InvalidInput, match="field_boost must be between 0"):
        coll.search("x", field_boost=-1.0)
