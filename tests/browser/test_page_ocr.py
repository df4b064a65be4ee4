"""The page shows recognised text as such: a hit on a scanned PDF page says "recognised text (OCR), page 2",
and the viewer labels the file's text "recognised text (OCR)". Its own folder and server (a scanned PDF,
indexed with the real engine before the server starts), so the shared flows' counts stay as they are."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from indexer.collection import Collection
from indexer.stores.embedded import EmbeddedBackend
from tests.ocr_samples import render, scanned_pdf
from tests.serving import serve

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None,
                                reason="Tesseract is not installed (make install-test installs it as root)")


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedder) -> Iterator[str]:
    data = tmp_path_factory.mktemp("ocr-page") / "data"
    root = data / "docs" / "scans"
    root.mkdir(parents=True)
    pages = [render("Minutes of the harbour board meeting.", size=24, page=(700, 260)),
             render("The budget for the pelicanarium was approved.", size=24, page=(700, 260))]
    (root / "minutes.pdf").write_bytes(scanned_pdf(pages))
    with Collection.open(EmbeddedBackend(data), "default", embedder) as c:
        assert c.index_folder(root).ocr_pages == 2
    with serve(data) as running:
        yield running.url


def test_recognised_text_is_labelled_in_a_hit_and_in_the_viewer(open_page):
    p = open_page(1000, "/?c=default&q=pelicanarium&mode=keyword")
    page = p.page
    page.wait_for_selector("#hits li")
    assert "recognised text (OCR), page 2" in page.inner_text("#hits li")
    page.click("#hits li .hit-id")
    page.wait_for_function("document.querySelector('#viewer-status').textContent.includes('characters')")
    status = page.inner_text("#viewer-status")
    assert "recognised text (OCR) of 2 pages" in status and "allowed roots" not in status, status
    assert "pelicanarium" in page.inner_text("#viewer mark.span")
    p.shot("ocr", "#viewer")
