"""A multi-slide deck and a multi-page PDF, each long enough to be committed in several partial pieces:
every chunk keeps the slide or page it starts in, through the streamed chunker, a cancel and a resume,
into search hits and the metadata filter. Real model, real SQLite and FAISS."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from pptx import Presentation

from indexer.collection import Collection, Limits
from indexer.search import Filters
from indexer.stores.embedded import EmbeddedBackend
from tests.indexer.stores.embedded import files

sys.path.insert(0, str(Path(__file__).parent / "readers"))
from test_text_html_pdf import make_pdf  # noqa: E402

TOPICS = ["lighthouse keepers", "alpine glaciers", "coral reefs", "desert caravans", "arctic foxes",
          "volcanic islands", "river deltas", "bamboo forests", "salt marshes", "canyon rivers",
          "tundra mosses", "mangrove swamps"]


def slide_text(i: int) -> str:
    """About 200 tokens on one topic: one slide fills most of a chunk, so chunks and slides line up."""
    topic = TOPICS[i]
    return " ".join(f"Fact {j} of slide {i + 1}: the study of {topic} found pattern {j} repeats each season."
                    for j in range(12))


def make_deck(path: Path) -> None:
    deck = Presentation()
    for i in range(len(TOPICS)):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = TOPICS[i].title()
        slide.placeholders[1].text_frame.text = slide_text(i)
    deck.save(str(path))


@pytest.fixture
def rich_folder(tmp_path: Path) -> Path:
    root = tmp_path / "rich"
    root.mkdir()
    make_deck(root / "deck.pptx")
    (root / "atlas.pdf").write_bytes(make_pdf([f"Page {i + 1} is about {t}." for i, t in enumerate(TOPICS)]))
    return root


def committed_parts(c: Collection, key: str, field: str) -> list[int]:
    rows = files.catalog(c).reader.execute(
        "SELECT json_extract(c.metadata, ?) FROM chunks c JOIN sources s ON s.id = c.source_id "
        "WHERE s.key = ? ORDER BY c.ord", (f"$.{field}", key)).fetchall()
    return [r[0] for r in rows]


def check_hits(c: Collection, root: Path) -> None:
    deck, atlas = str(root / "deck.pptx"), str(root / "atlas.pdf")
    for i, topic in enumerate(TOPICS):
        number = i + 1
        hits = c.search(f"the study of {topic}", k=1, filters=Filters(metadata={"slide": number}))
        assert [h.path for h in hits] == [deck] and hits[0].metadata["slide"] == number
        assert hits[0].metadata["slide_title"] == topic.title()
        assert f"slide {number}:" in hits[0].snippet.lower() or topic in hits[0].snippet.lower()
        page = c.search(f"Page {number} is about {topic}", k=1, filters=Filters(ext=[".pdf"]))
        assert page[0].path == atlas and page[0].metadata["page"] == number, (number, page[0].metadata)
        only = c.search("the study of nature", k=20, filters=Filters(metadata={"page": number}))
        assert [h.path for h in only] == [atlas] and topic in only[0].snippet


def test_slides_and_pages_survive_piecewise_commits_cancel_and_resume(rich_folder, tmp_path, embedder, monkeypatch):
    limits = Limits(batch_chunks=3, embed_batch_size=2)
    deck_key = str(rich_folder / "deck.pptx")
    cancel = threading.Event()
    with Collection.open(EmbeddedBackend(tmp_path / "data"), "parts", embedder, limits=limits) as c:
        pieces: list[tuple[str, bool]] = []
        real_commit = c.commit

        def commit(upserts=(), **kw):
            pieces.extend((u.key, u.partial) for u in upserts)
            return real_commit(upserts, **kw)

        monkeypatch.setattr(c, "commit", commit)

        def stop_after_two_batches(p) -> None:
            if p.chunks_embedded >= 6:
                cancel.set()

        first = c.index_folder(rich_folder, progress=stop_after_two_batches, cancel=cancel)
        assert first.added < 2
        cancel.clear()
        again = c.index_folder(rich_folder)
        assert again.resumed + again.added + first.added == 2
        deck_pieces = [partial for key, partial in pieces if key == deck_key]
        assert len(deck_pieces) >= 4 and deck_pieces[-1] is False and all(deck_pieces[:-1])
        slides = committed_parts(c, deck_key, "slide")
        assert len(slides) >= len(TOPICS) and None not in slides
        assert slides == sorted(slides) and set(slides) == set(range(1, len(TOPICS) + 1))
        pages = committed_parts(c, str(rich_folder / "atlas.pdf"), "page")
        assert pages == sorted(pages) and set(pages) == set(range(1, len(TOPICS) + 1))
        check_hits(c, rich_folder)
