"""The page on a phone (390 px) and on a desktop (1280 px): the collections table stacks, names wrap at
their separators, every button is inside the screen and not covered, nothing scrolls sideways; paths
show below the folder indexed (the full path on hover and in the viewer); the skipped files come
grouped with counts; indexing asks which collection; a keyed server's page points at its key box."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser.conftest import Page
from tests.serving import Server, serve

JOB_DONE = "document.querySelector('#job-status').textContent.match(/^(succeeded|failed|cancelled)/)"
SEPARATED = "customer_support_tickets_2026-archive"  # wraps at _ and - on a phone, never inside a word
TARGET = "manuals"
PHONE_FILES = {"gcc/README.txt": "The GNU Compiler Collection manual explains optimization flags such as -O2.",
               "bash/NEWS.txt": "What changed in bash 5.2: new shell options and fixed completion bugs."}


@pytest.fixture
def phone_docs(server: str, browser_docs: Path) -> Iterator[Path]:
    """A folder like a machine's share/doc (two texts and eight files it cannot read, 6 + 2 alike), and
    two new empty collections on the server."""
    root = browser_docs / "phone"
    for rel, text in ({} if root.exists() else PHONE_FILES).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "blobs").mkdir(exist_ok=True)
    for i in range(6):
        (root / "blobs" / f"core-{i}.dat").write_bytes(bytes(range(256)) * 8)
    for i in range(2):
        (root / f"shot-{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    for c in httpx.get(server + "/collections").json()["collections"]:
        httpx.delete(f"{server}/collections/{c['name']}")
    for name in (SEPARATED, TARGET):
        httpx.post(server + "/collections", json={"name": name}).raise_for_status()
    yield root
    for name in (SEPARATED, TARGET):
        httpx.delete(f"{server}/collections/{name}")


# Per visible button: is it inside the viewport (scrolled to) and is it what a tap at its centre hits?
BUTTONS_REACHABLE = """() => [...document.querySelectorAll('button, summary')].filter((b) => b.offsetParent !== null)
  .map((b) => {
    b.scrollIntoView({block: 'center', inline: 'nearest'});
    const r = b.getBoundingClientRect(), top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
    return {name: (b.id || b.getAttribute('aria-label') || b.textContent).trim().slice(0, 40),
            inside: r.left >= 0 && r.right <= innerWidth && r.width > 0, covered: !(top && b.contains(top))};
  }).filter((b) => !b.inside || b.covered)"""

# The characters a line ends after, in an element's text: where the browser broke it.
LINE_ENDS = """(e) => { const range = document.createRange(), ends = []; let last = null, prev = '';
  const walker = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    for (let i = 0; i < n.length; i++) {
      range.setStart(n, i); range.setEnd(n, i + 1);
      const top = range.getBoundingClientRect().top;
      if (last !== null && top > last + 2) ends.push(prev);
      last = top; prev = n.data[i];
    }
  }
  return ends; }"""


def assert_fits(p: Page) -> None:
    p.assert_no_overflow()
    bad = p.page.evaluate(BUTTONS_REACHABLE)
    assert not bad, f"buttons clipped or covered at {p.width} px: {bad}"


@pytest.mark.parametrize("width", [390, 1280])
def test_the_page_fits_and_names_paths_below_their_folder(open_page, server, phone_docs, width):
    p = open_page(width, name="fits")
    page = p.page
    row = page.locator(f"#collection-table tr[data-name='{SEPARATED}']")
    row.wait_for()
    # The table: stacked rows on a phone, a table on a desktop; the name wraps only at its separators.
    assert row.evaluate("e => getComputedStyle(e).display") == ("flex" if width == 390 else "table-row")
    ends = row.locator("th").evaluate(LINE_ENDS)
    assert all(c in "_-./" for c in ends), f"{SEPARATED} broken inside a word, after {ends}"
    assert width == 390 or not ends, ends  # a desktop has room for it on one line
    for name in (SEPARATED, TARGET):  # every Delete button can be clicked where it is
        page.locator(f"#collection-table tr[data-name='{name}'] button").click(trial=True)
    assert_fits(p)
    p.shot("collections", "#collections")

    # Indexing asks which collection: nothing is chosen for the user, and an Index without a choice says so.
    assert page.input_value("#index-collection") == ""
    page.fill("#index-path", "phone")
    page.click("#index-form button")
    assert "Choose the collection to index into" in page.inner_text("#job-status")
    assert page.evaluate("document.activeElement.id") == "index-collection"
    assert httpx.get(f"{server}/collections/{TARGET}").json()["files"] == 0  # no job ran
    page.select_option("#index-collection", TARGET)
    page.click("#index-form button")
    page.wait_for_function(JOB_DONE, timeout=180_000)
    assert page.inner_text("#job-status").startswith("succeeded"), page.inner_text("#job-status")

    # The skipped files: one line per reason and extension, biggest first, with counts and a few paths.
    page.click("#job-skipped summary")
    groups = page.locator("#job-skipped li").all_inner_texts()
    assert len(groups) == 2 and page.inner_text("#job-skipped summary") == "Skipped files (8)", groups
    assert re.match(r"\S+ · \.dat · 6 files", groups[0]) and "and 3 others" in groups[0], groups
    assert re.match(r"\S+ · \.png · 2 files", groups[1]) and "shot-0.png, shot-1.png" in groups[1], groups
    assert "blobs/core-" in groups[0] and "/docs/phone/" not in groups[0]  # below the folder indexed
    assert_fits(p)
    p.shot("skipped", "#index-title")

    # Hits and listed files: the path below the folder indexed, the full path on hover and in the viewer.
    page.select_option("#collection", TARGET)
    page.fill("#q", "compiler optimization flags")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#hits li")
    hit = page.locator("#hits li .hit-id").first
    full = str(phone_docs / "gcc" / "README.txt")
    assert hit.inner_text() == "gcc/README.txt" and hit.get_attribute("title") == full
    assert_fits(p)
    p.shot("hits", "#search-title")
    hit.click()
    page.wait_for_selector("#viewer:not([hidden]) mark.span")
    assert page.inner_text("#viewer-title") == full
    page.click("#viewer-close")
    page.select_option("#sources-collection", TARGET)
    page.click("#sources-form button")
    page.wait_for_selector("#sources li button")
    listed = page.locator("#sources li button")
    assert sorted(listed.all_inner_texts()) == sorted(PHONE_FILES)
    assert sorted(listed.evaluate_all("bs => bs.map((b) => b.title)")) == sorted(
        str(phone_docs / rel) for rel in PHONE_FILES)
    assert_fits(p)


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("keyed") / "data", SEMSEARCH_API_KEYS="page-secret") as running:
        yield running


@pytest.mark.parametrize("width", [390, 1280])
def test_a_keyed_server_asks_for_the_key_in_the_key_box(keyed_server, browser, width):
    ctx = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = ctx.new_page()
        p = Page(page, keyed_server.url, "keyed", width)
        page.goto(keyed_server.url + "/")
        page.wait_for_selector("#collections-status.error")
        missing = page.inner_text("#collections-status")
        assert "“API key” box at the top of the page" in missing and "header" not in missing.lower(), missing
        assert page.get_attribute("#api-key", "aria-invalid") == "true"
        key = page.locator("#api-key")
        box, text = key.bounding_box(), page.locator("#collections-status").bounding_box()
        assert box and text and 0 <= box["x"] and box["x"] + box["width"] <= width  # the box it names is there
        assert_fits(p)
        p.shot("missing-key", "body")
        key.fill("wrong")
        key.press("Enter")
        page.wait_for_function("document.querySelector('#collections-status').textContent.includes('refused')")
        key.fill("page-secret")
        key.press("Enter")
        page.wait_for_selector("#empty-guide:not([hidden])")
        assert page.inner_text("#collections-status") == "" and page.get_attribute("#api-key", "aria-invalid") is None
    finally:
        ctx.close()


def test_the_server_says_what_it_loads_before_its_address(keyed_server):
    log = keyed_server.log.read_text(errors="replace")
    loading = re.search(r"loading model \S+ \((converted graph cached|first load: converting[^)]*)\)", log)
    assert loading and loading.start() < log.index("Uvicorn running on"), log[-2000:]
