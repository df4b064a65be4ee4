"""A folder with a PNG screenshot and a scanned PDF (pictures only, rendered here), indexed with the real
model and the real OCR engine: each is found by its unique word, with its page number and ``ocr``
metadata; the report counts the pages read by OCR and progress names each page; without the engine the
images are skipped saying what to install."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from indexer.collection import Collection, Limits
from indexer.fulltext import source_text
from indexer.stores.embedded import EmbeddedBackend
from indexer.sync import Progress
from tests.ocr_samples import encode, render, scanned_pdf

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None,
                                     reason="Tesseract is not installed (make install-test installs it as root)")
SMALL = (700, 260)  # small pages keep the test quick


@pytest.fixture
def scans(tmp_path: Path) -> Path:
    root = tmp_path / "scans"
    root.mkdir()
    (root / "screenshot.png").write_bytes(encode(render("Error code wombatrix in the settings dialog", size=18),
                                                 "PNG"))
    pages = [render("Minutes of the harbour board meeting.", size=24, page=SMALL),
             render("The budget for the pelicanarium was approved.", size=24, page=SMALL)]
    (root / "minutes.pdf").write_bytes(scanned_pdf(pages))
    (root / "notes.txt").write_text("A plain note about the harbour.\n")
    return root


@needs_tesseract
def test_a_screenshot_and_a_scanned_page_are_found_by_their_words_with_page_and_ocr(scans, tmp_path, embedder):
    seen: list[Progress] = []
    with Collection.open(EmbeddedBackend(tmp_path / "data"), "scans", embedder) as c:
        report = c.index_folder(scans, progress=seen.append)
        assert report.added == 3 and not report.skipped, report.skipped
        assert report.ocr_pages == 3 and report.to_dict()["ocr_pages"] == 3
        [shot] = c.search("wombatrix", k=1, mode="keyword")
        assert shot.path == str(scans / "screenshot.png")
        assert shot.metadata["page"] == 1 and shot.metadata["ocr"] is True and shot.metadata["ocr_confidence"] > 0.5
        [page] = c.search("pelicanarium", k=1, mode="keyword")
        assert page.path == str(scans / "minutes.pdf") and page.metadata["page"] == 2 and page.metadata["ocr"]
        # the viewer's text is the recognised one (not recognised again), and says so in its metadata
        text = source_text(c, str(scans / "minutes.pdf"), readable_roots=[scans])
        assert "pelicanarium" in text.text and text.metadata["ocr_pages"] == 2
    assert any("(OCR: page 2 of 2)" in p.current for p in seen)  # progress moves per page


def test_without_the_engine_images_are_skipped_naming_the_ocr_extra(scans, tmp_path, embedder):
    # Same code path as a machine without Tesseract: the configured program is not on PATH.
    limits = Limits(ocr_command="tesseract-not-installed-here")
    with Collection.open(EmbeddedBackend(tmp_path / "data"), "scans", embedder, limits=limits) as c:
        report = c.index_folder(scans)
    skipped = {Path(s.path).name: s for s in report.skipped}
    assert report.added == 1 and set(skipped) == {"screenshot.png", "minutes.pdf"}
    assert skipped["screenshot.png"].reason == "unsupported"
    assert "semsearch[ocr]" in skipped["screenshot.png"].detail and "tesseract-ocr" in skipped["screenshot.png"].detail
    assert "no text layer" in skipped["minutes.pdf"].detail and "semsearch[ocr]" in skipped["minutes.pdf"].detail
    assert report.ocr_pages == 0


def test_the_report_counts_new_files_by_language_detected_under_auto(tmp_path, embedder):
    root = tmp_path / "mixed"
    root.mkdir()
    (root / "haus.txt").write_text("Die Häuser am Fluss wurden im Frühjahr überflutet und die Straße gesperrt.")
    (root / "cheval.txt").write_text("Les chevaux de la ferme ont été vendus au marché de la ville hier matin.")
    (root / "horse.txt").write_text("The horses of the farm were sold at the town market yesterday morning.")
    with Collection.create(EmbeddedBackend(tmp_path / "data"), "mixed", embedder, language="auto") as c:
        report = c.index_folder(root)
    assert report.to_dict()["languages"] == {"de": 1, "en": 1, "fr": 1}
    with Collection.create(EmbeddedBackend(tmp_path / "data"), "german", embedder, language="de") as c:
        assert c.index_folder(root).languages == {"de": 3}  # a fixed language: every file's


@needs_tesseract
def test_a_cancel_during_a_page_stops_the_run_and_the_next_run_reads_the_file(tmp_path, embedder):
    root = tmp_path / "one"
    root.mkdir()
    (root / "screenshot.png").write_bytes(encode(render("Error code wombatrix in the settings dialog", size=18),
                                                 "PNG"))
    started = tmp_path / "engine-started"
    engine = tmp_path / "slow-tesseract"  # knows English; says it has the page, then never finishes it
    engine.write_text(f"#!/bin/sh\nif [ \"$1\" = --list-langs ]; then echo 'List of languages (1):'; echo eng; "
                      f"exit 0; fi\ntouch {started}\nexec sleep 600\n")
    engine.chmod(0o755)
    cancel = threading.Event()

    def cancel_once_the_engine_has_the_page() -> None:
        while not started.exists() and not cancel.wait(0.05):
            pass
        cancel.set()

    watcher = threading.Thread(target=cancel_once_the_engine_has_the_page)
    watcher.start()
    data = tmp_path / "data"
    with Collection.open(EmbeddedBackend(data), "one", embedder, limits=Limits(ocr_command=str(engine))) as c:
        report = c.index_folder(root, cancel=cancel)
        watcher.join()
        assert started.exists() and report.added == 0 and not report.skipped and c.store.count_chunks() == 0
    with Collection.open(EmbeddedBackend(data), "one", embedder) as c:  # the real engine now
        report = c.index_folder(root)
        assert report.added == 1 and c.search("wombatrix", k=1, mode="keyword")[0].metadata["ocr"] is True
