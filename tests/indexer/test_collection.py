"""Collection: indexing a folder, re-indexing, searching with filters, repair, and model checks."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from indexer.collection import Collection, Limits, list_collection_names, read_info
from indexer.errors import CollectionNotFound, InvalidInput, ModelMismatch
from indexer.search import Filters
from indexer.stores.embedded import EmbeddedBackend
from tests.indexer.stores.embedded import files

TOPICS = {
    "animals/cats.txt": "Cats sleep most of the day in warm, sunny places. A cat purrs when it is content.",
    "animals/dogs.md": "# Dogs\n\nDogs are loyal companions that love long walks and playing fetch in the park.",
    "cooking/bread.md": "# Baking bread\n\nKnead the dough, let it rise for an hour, then bake it until the crust is "
    "golden.",
    "cooking/pasta.txt": "Boil the pasta in salted water and toss it with garlic, olive oil and parmesan.",
    "space/mars.rst": "Mars\n====\n\nMars is the fourth planet from the Sun; its red colour comes from iron oxide "
    "dust.",
    "space/notes.html": "<html><head><style>p{}</style><script>var planet='x'</script></head>"
    "<body><p>The Moon orbits the Earth and causes the ocean tides.</p></body></html>",
    "code/server.py": "def start_server(port):\n    '''Start the HTTP server and listen on the given port.'''\n",
}


def make_folder(root: Path, files: dict[str, str] = TOPICS) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


class Counting:
    """Counts texts the collection sends to the model (wraps the real embedder's embed)."""

    def __init__(self, embedder, monkeypatch):
        self.texts = 0
        real = embedder.embed

        def embed(texts, **kw):
            self.texts += len(texts)
            return real(texts, **kw)

        monkeypatch.setattr(embedder, "embed", embed)


@pytest.fixture
def folder(tmp_path):
    return make_folder(tmp_path / "docs")


@pytest.fixture
def new_collection(tmp_path, embedder):
    c = Collection.open(EmbeddedBackend(tmp_path / "data"), "test", embedder)
    yield c
    c.close()


def test_index_then_search_by_meaning(new_collection, folder):
    report = new_collection.index_folder(folder)
    assert report.added == len(TOPICS) and report.chunks_embedded == len(TOPICS)
    assert report.to_dict()["chunks"]["total"] == len(TOPICS)
    for mode in ("dense", "keyword", "hybrid"):
        hits = new_collection.search("where do cats nap", mode=mode, k=3)
        assert hits[0].path == str(folder / "animals/cats.txt"), mode
    hit = new_collection.search("which planet is red", mode="dense", k=1)[0]
    text = (folder / "space/mars.rst").read_text()
    assert hit.path.endswith("mars.rst")
    assert text[hit.start : hit.end].startswith("Mars")
    assert "iron oxide" in text[hit.span_start : hit.span_end]
    assert "**" in hit.snippet


def test_html_is_indexed_as_text_without_scripts(new_collection, folder):
    new_collection.index_folder(folder)
    hit = new_collection.search("tides and the moon", mode="dense", k=1)[0]
    assert hit.path.endswith("notes.html")
    assert "planet" not in hit.snippet and "<p>" not in hit.snippet
    assert new_collection.search("var planet", mode="keyword", k=5).hits == [] or all(
        not h.path.endswith("notes.html") for h in new_collection.search("var", mode="keyword", k=5))


def test_unchanged_folder_embeds_nothing(new_collection, folder, embedder, monkeypatch):
    new_collection.index_folder(folder)
    counter = Counting(embedder, monkeypatch)
    os.utime(folder / "animals/cats.txt")  # touched but identical: sha256 says unchanged
    report = new_collection.index_folder(folder)
    assert counter.texts == 0
    assert (report.added, report.updated, report.unchanged, report.removed) == (0, 0, len(TOPICS), 0)
    assert report.chunks_embedded == 0


def test_changed_file_replaces_its_chunks_and_deleted_file_disappears(new_collection, folder, embedder, monkeypatch):
    new_collection.index_folder(folder)
    (folder / "cooking/pasta.txt").write_text("Risotto needs arborio rice stirred slowly with warm stock.")
    (folder / "animals/dogs.md").unlink()
    counter = Counting(embedder, monkeypatch)
    report = new_collection.index_folder(folder)
    assert counter.texts == 1
    assert (report.updated, report.removed, report.unchanged) == (1, 1, len(TOPICS) - 2)
    assert report.chunks_total == len(TOPICS) - 1
    hits = new_collection.search("arborio rice", mode="keyword", k=5)
    assert [h.path for h in hits] == [str(folder / "cooking/pasta.txt")]
    assert new_collection.search("boil pasta with garlic", mode="keyword", k=5).hits == []
    assert all(not h.path.endswith("dogs.md") for h in new_collection.search("loyal dogs", mode="dense", k=10))


def test_skips_are_reported_never_fatal(tmp_path, embedder):
    root = make_folder(tmp_path / "docs", {"ok.txt": "A readable note about gardening and tomatoes."})
    (root / "big.txt").write_text("word " * 5000)
    (root / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (root / "archive.zip").write_bytes(b"PK\x03\x04")
    (root / ".secret").mkdir()
    (root / ".secret" / "key.txt").write_text("hidden")
    (root / ".env").write_text("TOKEN=1")
    outside = tmp_path / "outside.txt"
    outside.write_text("outside the folder")
    (root / "link-out.txt").symlink_to(outside)
    (root / "loop").symlink_to(root)
    (root / "broken.txt").symlink_to(tmp_path / "missing.txt")
    with Collection.open(EmbeddedBackend(tmp_path / "data"), "skips", embedder,
                         limits=Limits(max_file_bytes=10_000)) as c:
        report = c.index_folder(root)
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert reasons == {
        "big.txt": "too_large", "image.txt": "binary", "archive.zip": "unsupported", ".secret": "hidden",
        ".env": "hidden", "link-out.txt": "symlink_outside", "loop": "symlink_loop", "broken.txt": "unreadable",
    }
    assert report.added == 1
    assert all(s.detail for s in report.skipped)
    d = report.to_dict()
    assert d["files"]["skipped"] == len(reasons) and {"path", "reason", "detail"} <= set(d["skipped"][0])


def test_filters_apply_before_ranking(tmp_path, embedder):
    files = {f"notes/n{i:02d}.txt": f"Note {i}: the cat sat on the mat and purred." for i in range(12)}
    files |= {f"docs/d{i}.md": f"Document {i} about felines and other animals." for i in range(4)}
    root = make_folder(tmp_path / "docs", files)
    with Collection.open(EmbeddedBackend(tmp_path / "data"), "f", embedder) as c:
        c.index_folder(root)
        # unfiltered, the .txt notes dominate the top 4 for this query
        assert all(h.path.endswith(".txt") for h in c.search("cat sat on the mat", mode="dense", k=4))
        for mode in ("dense", "keyword", "hybrid"):
            q = "cat on the mat animals" if mode != "dense" else "cat sat on the mat"
            hits = c.search(q, mode=mode, k=4, filters=Filters(ext=["md"]))
            assert len(hits) == 4 and all(h.path.endswith(".md") for h in hits), mode
        hits = c.search("cat", mode="dense", k=20, filters=Filters(path_glob="docs/*"))
        assert len(hits) == 4 and all("/docs/docs/" in h.path for h in hits)
        assert c.search("cat", mode="dense", k=5, filters=Filters(ext=["pdf"])).hits == []
        # paging: offset continues the same ranking
        full = [h.id for h in c.search("cat", mode="hybrid", k=10)]
        assert [h.id for h in c.search("cat", mode="hybrid", k=5, offset=5)] == full[5:10]


def test_k_larger_than_collection_is_clamped(new_collection, folder):
    new_collection.index_folder(folder)
    assert len(new_collection.search("anything", mode="dense", k=500)) == len(TOPICS)


def test_explain_gives_both_rankings_and_the_fused_score(new_collection, folder):
    new_collection.index_folder(folder)
    hit = new_collection.search("cats sleep in warm places", mode="hybrid", k=1, explain=True)[0]
    assert hit.explain is not None
    assert hit.explain["dense"]["rank"] == 1 and hit.explain["keyword"]["rank"] == 1
    assert hit.explain["fused"] == pytest.approx(hit.score)


def test_bad_mode_and_k_are_clear_errors(new_collection):
    with pytest.raises(InvalidInput, match="mode must be one of"):
        new_collection.search("x", mode="semantic")
    with pytest.raises(InvalidInput, match="k must be at least 1"):
        new_collection.search("x", k=0)


def test_a_batch_of_queries_ranks_like_each_query_alone(new_collection, folder):
    """search_batch shares one embedding call and one snapshot; the answers are the single ones."""
    new_collection.index_folder(folder)
    queries = ["cats purring", "the planets", "bread", "cats purring"]
    for mode in ("dense", "keyword", "hybrid"):
        together = new_collection.search_batch(queries, k=3, mode=mode, explain=True)
        alone = [new_collection.search(q, k=3, mode=mode, explain=True) for q in queries]
        assert [[(h.id, round(h.score, 5), h.snippet) for h in hits] for hits in together] == \
            [[(h.id, round(h.score, 5), h.snippet) for h in hits] for hits in alone]
        assert [hits.total_candidates for hits in together] == [hits.total_candidates for hits in alone]
    assert new_collection.search_batch([], k=3) == []


def test_search_batch_takes_the_callers_query_vectors(new_collection, folder):
    new_collection.index_folder(folder)
    queries = ["cats purring", "the planets"]
    vectors = new_collection.embed_queries(queries)
    given = new_collection.search_batch(queries, k=2, mode="dense", vectors=vectors)
    assert [[h.id for h in hits] for hits in given] == [[h.id for h in new_collection.search(q, k=2, mode="dense")]
                                                        for q in queries]
    flipped = new_collection.search_batch(queries, k=2, mode="dense", vectors=vectors[::-1])  # used as given
    assert [h.id for h in flipped[0]] == [h.id for h in given[1]]
    with pytest.raises(InvalidInput, match=r"vectors must have shape \(2, 384\)"):
        new_collection.search_batch(queries, k=2, mode="dense", vectors=vectors[:1])


def test_model_mismatch_names_the_model_it_was_built_with(tmp_path, embedder, monkeypatch):
    Collection.open(EmbeddedBackend(tmp_path), "m", embedder).close()
    monkeypatch.setattr(embedder, "name", "some/other-model")
    with pytest.raises(ModelMismatch, match="built with model 'sentence-transformers/all-MiniLM-L6-v2'"):
        Collection.open(EmbeddedBackend(tmp_path), "m", embedder)


def test_missing_collection_is_a_clear_error(tmp_path, embedder):
    Collection.open(EmbeddedBackend(tmp_path), "exists", embedder).close()
    with pytest.raises(CollectionNotFound, match="Existing collections: exists"):
        Collection.open(EmbeddedBackend(tmp_path), "nope", embedder, create=False)
    assert list_collection_names(EmbeddedBackend(tmp_path)) == ["exists"]
    with pytest.raises(InvalidInput, match="not allowed"):
        Collection.open(EmbeddedBackend(tmp_path), "../evil", embedder)


def _top(c, q="where do cats nap"):
    return [(h.id, round(h.score, 5)) for h in c.search(q, mode="dense", k=5)]


@pytest.mark.parametrize("damage", ["missing", "corrupt", "truncated", "stale"])
def test_damaged_vector_file_is_repaired_without_reembedding(tmp_path, folder, embedder, monkeypatch, damage):
    data = tmp_path / "data"
    with Collection.open(EmbeddedBackend(data), "r", embedder) as c:
        c.index_folder(folder)
        expected = _top(c)
    faiss_file = data / "collections" / "r" / files.INDEX_FILE
    if damage == "missing":
        faiss_file.unlink()
    elif damage == "corrupt":
        blob = bytearray(faiss_file.read_bytes())
        blob[len(blob) // 2] ^= 0xFF
        faiss_file.write_bytes(bytes(blob))
    elif damage == "truncated":
        faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    else:  # an old checkpoint: the catalog moved on (a file removed, one added) since it was written
        old = tmp_path / "old.faiss"
        shutil.copy(faiss_file, old)
        with Collection.open(EmbeddedBackend(data), "r", embedder) as c:
            (folder / "cooking/bread.md").unlink()
            (folder / "animals/more-cats.txt").write_text("Kittens nap in sunny windows all afternoon.")
            c.index_folder(folder)
            expected = _top(c)
        shutil.copy(old, faiss_file)
    counter = Counting(embedder, monkeypatch)
    with Collection.open(EmbeddedBackend(data), "r", embedder) as c:
        assert files.vectors(c).ntotal == files.catalog(c).count_chunks()
        assert _top(c) == expected
    assert counter.texts == 0


def test_documents_upsert_get_delete(new_collection):
    counts = new_collection.upsert_documents([
        {"id": "a", "text": "The quick brown fox jumps over the lazy dog.", "metadata": {"lang": "en"}},
        {"id": "b", "text": "Le renard brun saute par-dessus le chien paresseux.", "metadata": {"lang": "fr"}},
    ])
    assert counts["added"] == 2
    assert new_collection.upsert_documents([{"id": "a", "text": "The quick brown fox jumps over the lazy dog.",
                                   "metadata": {"lang": "en"}}])["unchanged"] == 1
    assert new_collection.get_document("b").metadata == {"lang": "fr"}
    hits = new_collection.search("fox", mode="dense", k=5, filters=Filters(metadata={"lang": "fr"}))
    assert [h.id for h in hits] == ["b"]
    assert new_collection.delete_documents(["a", "zzz"]) == 1
    assert [h.id for h in new_collection.search("fox", mode="dense", k=5)] == ["b"]
    rows, total = new_collection.list_sources(kind="doc")
    assert total == 1 and rows[0].key == "b"


def test_info_without_loading_a_model(new_collection, folder, tmp_path):
    new_collection.index_folder(folder)
    new_collection.checkpoint()
    info = read_info(EmbeddedBackend(tmp_path / "data"), "test")
    assert (info.files, info.chunks, info.dimension) == (len(TOPICS), len(TOPICS), 384)
    assert info.model == "sentence-transformers/all-MiniLM-L6-v2" and info.size_bytes > 0


def test_vectors_are_unit_length_and_match_the_model(new_collection, folder, embedder):
    new_collection.index_folder(folder)
    ids, vecs = next(files.catalog(new_collection).iter_vectors())
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    text = (folder / "animals/cats.txt").read_text()
    q = embedder.embed_queries([text])[0]
    assert float(np.max(vecs @ q)) > 0.999


def test_progress_reports_files_chunks_rate_and_eta(tmp_path, embedder):
    files = {f"n{i}.txt": f"Note number {i} about a different topic entirely." for i in range(9)}
    root = make_folder(tmp_path / "docs", files)
    seen = []
    with Collection.open(EmbeddedBackend(tmp_path / "data"), "p", embedder, limits=Limits(batch_chunks=2)) as c:
        c.index_folder(root, progress=seen.append)
    assert seen[0].files_done == 0 and seen[-1].files_done == seen[-1].files_total == 9
    done = [p.files_done for p in seen]
    assert done == sorted(done) and len(seen) >= 5
    assert seen[-1].chunks_embedded == 9 and seen[-1].chunks_per_second > 0
    assert any(p.eta_seconds is not None for p in seen[1:-1])


def test_reader_sees_writes_made_by_another_process(tmp_path, embedder):
    """A server keeps a collection open while `semsearch index` (another process) writes to it."""
    server = Collection.open(EmbeddedBackend(tmp_path), "shared", embedder)
    server.upsert_documents([{"id": "old", "text": "Penguins live in the southern hemisphere."}])
    other = Collection.open(EmbeddedBackend(tmp_path), "shared", embedder)  # a second handle = another process's view
    other.upsert_documents([{"id": "new", "text": "Volcanoes erupt molten rock called lava."}])
    other.delete_documents(["old"])
    other.close()
    assert [h.id for h in server.search("lava from a volcano", mode="dense", k=5)] == ["new"]
    assert files.vectors(server).ntotal == 1
    server.close()


def test_index_folder_streams_the_walk(tmp_path, embedder, monkeypatch):
    """The first batch is embedded while the walk is still early in the folder: no list of the
    folder's files is built before embedding starts (memory stays flat as folders grow)."""
    import indexer.sync.recipe as sync_module

    files = {f"d{i // 50:02d}/n{i:04d}.txt": f"Note {i} on topic {i % 7}." for i in range(400)}
    root = make_folder(tmp_path / "many", files)
    c = Collection.open(EmbeddedBackend(tmp_path / "data"), "stream", embedder, limits=Limits(batch_chunks=32))
    yielded = [0]
    real_walk = sync_module.walk

    def counting_walk(*a, **kw):
        for item in real_walk(*a, **kw):
            yielded[0] += 1
            yield item

    at_first_embed: list[int] = []
    real_embed = embedder.embed
    stop = threading.Event()  # what is measured is known at the first embedding: the rest is not run

    def embed(texts, **kw):
        if not at_first_embed:
            at_first_embed.append(yielded[0])
            stop.set()
        return real_embed(texts, **kw)

    monkeypatch.setattr(sync_module, "walk", counting_walk)
    monkeypatch.setattr(embedder, "embed", embed)
    try:
        c.index_folder(root, progress=lambda p: None, cancel=stop)  # a watcher: the counting pass runs too
    finally:
        c.close()
    # the counting pass yields 400 items; the indexing pass had yielded about one batch when it embedded
    assert 400 + 32 <= at_first_embed[0] <= 400 + 40


def test_an_unreadable_folder_keeps_its_files(tmp_path, embedder, monkeypatch):
    """A folder that cannot be listed this time (permissions, a flaky mount) is reported, and the
    files indexed under it are kept, not deleted; they go only when the folder is really gone."""
    import indexer.walk as walk_module

    root = make_folder(tmp_path / "docs")
    c = Collection.open(EmbeddedBackend(tmp_path / "data"), "keep", embedder)
    try:
        c.index_folder(root)
        real_scandir = walk_module.os.scandir
        cooking = str(root / "cooking")

        def scandir(fd):  # the walk lists open folder descriptors
            if os.readlink(f"/proc/self/fd/{fd}") == cooking:
                raise PermissionError(13, "Permission denied")
            return real_scandir(fd)

        monkeypatch.setattr(walk_module.os, "scandir", scandir)
        report = c.index_folder(root)
        assert report.removed == 0 and report.unchanged == len(TOPICS) - 2
        assert any(s.path == cooking and s.reason == "unreadable" for s in report.skipped)
        assert {h.path for h in c.search("knead the dough and bake bread", k=3, mode="dense")} & {
            str(root / "cooking/bread.md")}
        monkeypatch.setattr(walk_module.os, "scandir", real_scandir)
        shutil.rmtree(root / "cooking")
        assert c.index_folder(root).removed == 2
    finally:
        c.close()
