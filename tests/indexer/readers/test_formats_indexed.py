"""Every format, made by the library that writes it, indexed through a real Collection and model:
a query for a phrase unique to one file finds that file first with a readable snippet."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import reader_samples as S
from test_text_html_pdf import make_pdf

from indexer.collection import Collection
from indexer.search import Filters
from indexer.stores.embedded import EmbeddedBackend

# One phrase per file, about unrelated things, so the right file must win on meaning and words.
PHRASES = {
    "report.docx": "Migrating cranes rested on the frozen marsh near the old salt works.",
    "deck.pptx": "The volcano observatory doubled its seismometer budget this spring.",
    "book.xlsx": "Saffron threads arrived damp and must be dried before storage.",
    "letter.odt": "The village bakery asks the council to repave the cobbled market lane.",
    "sheet.ods": "Harbour tide gauge recorded an unusual surge during the equinox.",
    "talk.odp": "Honeybee colonies recovered after the orchard stopped spraying pesticide.",
    "novel.epub": "The keeper rowed through fog to rescue the stranded fishermen at midnight.",
    "analysis.ipynb": "Clay soil samples held nitrogen far longer than the sandy plots.",
    "note.eml": "The depot gate code changes to seven four one nine on Monday.",
    "memo.rtf": "Forklift drivers must wear reflective vests inside the cold warehouse.",
    "plan.org": "Plant garlic cloves along the south fence before the first frost.",
    "manual.pdf": "Oil the windmill gearbox whenever the sails squeal in wind.",
    "BSD": "Redistribution of the lighthouse schematics requires written permission from the guild.",
    "todo": "Ask the locksmith to replace the rusted padlock on the boathouse.",
    "CHANGES.v2": "Version two renamed the telescope calibration command to align-mirror.",
}
NOTES = "Remind the audience that the magma chamber readings are preliminary."
OUTPUT = "stdout line about quantum pineapple marmalade"
MBOX = ["Choir rehearsal moves to the chapel basement on Thursday evening.",
        "The bicycle repair workshop needs volunteers with spoke wrenches.",
        "Lunar eclipse viewing party on the rooftop, bring warm blankets."]
ATTACHMENT = "Minutes: the treasurer reported a surplus from the lemonade stall."


@pytest.fixture(scope="module")
def formats_indexed(tmp_path_factory: pytest.TempPathFactory, embedder):  # type: ignore[no-untyped-def]
    base = tmp_path_factory.mktemp("formats")
    root = base / "docs"
    root.mkdir()
    S.make_docx(root, PHRASES["report.docx"])
    S.make_pptx(root, PHRASES["deck.pptx"], NOTES)
    S.make_xlsx(root, PHRASES["book.xlsx"])
    S.make_odt(root, PHRASES["letter.odt"])
    S.make_ods(root, PHRASES["sheet.ods"])
    S.make_odp(root, PHRASES["talk.odp"])
    S.make_epub(root, PHRASES["novel.epub"])
    S.make_notebook(root, PHRASES["analysis.ipynb"], OUTPUT)
    S.make_eml(root, PHRASES["note.eml"])
    S.make_mbox(root, MBOX, ATTACHMENT)
    S.make_rtf(root, PHRASES["memo.rtf"])
    S.make_org(root, PHRASES["plan.org"])
    (root / "manual.pdf").write_bytes(make_pdf(["Windmill care, part one.", PHRASES["manual.pdf"]]))
    for name in ("BSD", "todo", "CHANGES.v2"):
        (root / name).write_text(f"{name}\n\n{PHRASES[name]}\n")
    (root / "GPL-3").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 8)  # a binary without extension
    collection = Collection.open(EmbeddedBackend(base / "data"), "formats", embedder)
    report = collection.index_folder(root)
    yield collection, report, root
    collection.close()


def test_every_format_is_indexed_and_the_binary_is_refused_with_a_reason(formats_indexed) -> None:  # type: ignore[no-untyped-def]
    _, report, _ = formats_indexed
    skipped = {Path(s.path).name: (s.reason, s.detail) for s in report.skipped}
    assert set(skipped) == {"GPL-3"}
    reason, detail = skipped["GPL-3"]
    assert reason == "binary" and "ELF" in detail
    assert report.added == len(PHRASES) + 1  # + the mbox


@pytest.mark.parametrize("name", sorted(PHRASES))
def test_a_unique_phrase_finds_its_file_first(formats_indexed, name: str) -> None:  # type: ignore[no-untyped-def]
    collection, _, root = formats_indexed
    hits = collection.search(PHRASES[name], k=3)
    assert hits[0].path == str(root / name)
    snippet = hits[0].snippet
    # Readable: the matching sentence marked, no markup or XML left in it.
    assert "**" in snippet and not re.search(r"</?[a-z:]+[ />]|\\par\b|<\?xml", snippet), snippet
    assert PHRASES[name].split()[1] in snippet


def test_slide_notes_are_searchable(formats_indexed) -> None:  # type: ignore[no-untyped-def]
    collection, _, root = formats_indexed
    hits = collection.search(NOTES, k=1)
    assert hits[0].path == str(root / "deck.pptx") and "magma chamber" in hits[0].snippet


def test_notebook_outputs_are_left_out(formats_indexed) -> None:  # type: ignore[no-untyped-def]
    collection, _, _ = formats_indexed
    hits = collection.search("quantum pineapple marmalade", mode="keyword", k=5)
    assert len(hits) == 0


@pytest.mark.parametrize("phrase", [*MBOX, ATTACHMENT])
def test_each_mbox_message_and_its_text_attachment_are_found(formats_indexed, phrase: str) -> None:  # type: ignore[no-untyped-def]
    collection, _, root = formats_indexed
    hits = collection.search(phrase, k=1)
    assert hits[0].path == str(root / "archive.mbox")
    assert phrase.split()[1].lower() in hits[0].snippet.lower()


def test_file_metadata_is_stored_and_filterable(formats_indexed) -> None:  # type: ignore[no-untyped-def]
    collection, _, root = formats_indexed
    for key, value, name in [("author", "Ada Lovelace", "report.docx"), ("title", "Launch plan", "deck.pptx"),
                             ("author", "Mara Quill", "novel.epub"), ("subject", "Gate code for the depot", "note.eml"),
                             ("title", "Garden plan", "plan.org"), ("author", "Sam Reed", "memo.rtf"),
                             ("sheets", 2, "book.xlsx")]:
        hits = collection.search("notes and plans", k=20, filters=Filters(metadata={key: value}))
        assert [h.path for h in hits] == [str(root / name)], (key, value)
        assert hits[0].metadata[key] == value


@pytest.mark.parametrize(("part", "phrase", "name"), [
    ({"message": 2}, MBOX[1], "archive.mbox"),
    ({"subject": "Weekly update 3"}, MBOX[2], "archive.mbox"),
    ({"slide": 2}, PHRASES["deck.pptx"], "deck.pptx"),
    ({"sheet": "Remarks"}, PHRASES["book.xlsx"], "book.xlsx"),
    ({"chapter": 2}, PHRASES["novel.epub"], "novel.epub"),
    ({"page": 2}, PHRASES["manual.pdf"], "manual.pdf"),
])
def test_part_metadata_is_stored_per_chunk_and_filterable(formats_indexed, part, phrase: str, name: str) -> None:  # type: ignore[no-untyped-def]
    collection, _, root = formats_indexed
    hits = collection.search("weekly news and plans", k=20, filters=Filters(metadata=part))
    assert [h.path for h in hits] == [str(root / name)]
    key, value = next(iter(part.items()))
    assert hits[0].metadata[key] == value
    assert phrase.split()[1].lower() in hits[0].snippet.lower() or phrase[:20] in collection.search(
        phrase, k=1, filters=Filters(metadata=part))[0].snippet


def test_a_part_that_does_not_exist_matches_nothing(formats_indexed) -> None:  # type: ignore[no-untyped-def]
    collection, _, _ = formats_indexed
    assert len(collection.search("weekly update", k=5, filters=Filters(metadata={"message": 9}))) == 0
