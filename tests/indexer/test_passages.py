"""read_passage: the text around a hit, from the catalog, bounded, with offsets that match the hit's."""

from __future__ import annotations

import pytest

from indexer.collection import Collection, Limits
from indexer.errors import InvalidInput, SourceNotFound
from indexer.passages import read_passage
from indexer.stores.embedded import EmbeddedBackend
from tests.indexer.stores.embedded import files

SENTENCES = [f"Paragraph {i} talks about topic number {i}, which is {'very ' * (i % 4)}interesting."
             for i in range(60)]
LONG = "\n\n".join(SENTENCES)  # about 4,000 characters: several chunks


def as_indexed(got: str, original: str) -> bool:
    """Chunks that overlap cover everything; without overlap the whitespace between two chunks
    (which the tokenizer skipped) comes back as spaces, so every offset still lines up."""
    return len(got) == len(original) and all(g == o or (o.isspace() and g == " ")
                                             for g, o in zip(got, original, strict=True))


@pytest.fixture(params=[32, 0], ids=["overlap", "no-overlap"])
def passage_collection(request, tmp_path, embedder):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "long.md").write_text(LONG)
    (root / "short.txt").write_text("Green tea is brewed below boiling.")
    c = Collection.open(EmbeddedBackend(tmp_path / "data"), "p", embedder, limits=Limits(chunk_overlap=request.param))
    c.index_folder(root)
    c.upsert_documents([{"id": "faq", "text": "Keys rotate every 90 days.\n\nAsk ops.", "metadata": {"team": "ops"}},
                        {"id": str(root / "short.txt"), "text": "A document whose id is a file's path."}])
    yield c, root
    c.close()


def test_a_file_comes_back_as_indexed_offsets_and_all(passage_collection):
    c, root = passage_collection
    whole = read_passage(c, str(root / "long.md"), max_chars=100_000)
    assert (whole.kind, whole.path, whole.start, whole.end) == ("file", str(root / "long.md"), 0, len(LONG))
    assert whole.total_chars == len(LONG) and len(whole.text) == len(LONG)
    assert as_indexed(whole.text, LONG)
    assert (whole.text == LONG) == (c.limits.chunk_overlap > 0)  # without overlap, the gaps were filled
    assert files.catalog(c).reader.execute("SELECT COUNT(*) FROM chunks").fetchone()[0] > 4


def test_the_window_around_a_hit(passage_collection):
    c, root = passage_collection
    hit = c.search("topic number 37", k=1, mode="keyword")[0]
    assert hit.path == str(root / "long.md")
    p = read_passage(c, hit.id, start=hit.span_start, end=hit.span_end, context=50)
    assert p.start == hit.span_start - 50 and p.end == hit.span_end + 50
    assert as_indexed(p.text, LONG[p.start : p.end])
    assert "37" in p.text[50:-50]

    capped = read_passage(c, hit.id, start=hit.start, end=hit.end, context=1000, max_chars=300)
    assert capped.end - capped.start == 300 and len(capped.text) == 300
    assert capped.start >= hit.start - 1000 and capped.start <= hit.start

    # a span longer than max_chars is cut at start + max_chars
    cut = read_passage(c, hit.id, start=10, end=3000, max_chars=100)
    assert (cut.start, cut.end) == (10, 110)
    # at the edges the unused context goes to the other side
    head = read_passage(c, hit.id, start=0, end=10, context=200, max_chars=100)
    assert (head.start, head.end) == (0, 100)
    tail = read_passage(c, hit.id, start=len(LONG) - 10, end=len(LONG), context=200, max_chars=100)
    assert (tail.start, tail.end) == (len(LONG) - 100, len(LONG))
    # without end: max_chars from start; an end past the text is clamped
    assert (read_passage(c, hit.id, start=100, max_chars=50).start, read_passage(c, hit.id, start=100).end) == \
        (100, min(4100, len(LONG)))
    assert read_passage(c, hit.id, start=0, end=10**9, context=0).end == min(4000, len(LONG))


def test_documents_and_a_document_sharing_a_files_id(passage_collection):
    c, root = passage_collection
    doc = read_passage(c, "faq")
    assert (doc.kind, doc.path, doc.text, doc.metadata) == ("doc", None, "Keys rotate every 90 days.\n\nAsk ops.",
                                                            {"team": "ops"})
    same_id = str(root / "short.txt")
    assert read_passage(c, same_id).text == "Green tea is brewed below boiling."  # the file first
    assert read_passage(c, same_id, kind="doc").text == "A document whose id is a file's path."


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"start": -1}, "start"), ({"start": 5, "end": 4}, "end"), ({"context": -1}, "context"),
    ({"max_chars": 0}, "max_chars"), ({"kind": "folder"}, "kind"), ({"start": 10_000}, "start"),
])
def test_bad_arguments_name_the_field(passage_collection, kwargs, field):
    c, _ = passage_collection
    with pytest.raises(InvalidInput) as info:
        read_passage(c, "faq", **kwargs)
    assert info.value.field == field


def test_unknown_ids(passage_collection):
    c, root = passage_collection
    with pytest.raises(SourceNotFound, match="No file or document with id 'nope'"):
        read_passage(c, "nope")
    with pytest.raises(SourceNotFound, match="File 'faq' is not in this collection"):
        read_passage(c, "faq", kind="file")
