"""The search's side panel and filters on the page, at 390 px and 1280 px: the Type / Folder / Modified
facets beside the hits narrow the search by a click (issue 27), a file with a copy and a symlink to it
comes back as one hit "also at 2 other paths" with the paths on hover (issue 29), and the Where (JSON)
box narrows by the filter language or shows the one-line error on the page (docs/filters.md)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.browser.conftest import Page
from tests.browser.test_page_fits import assert_fits
from tests.serving import serve

NAME = "shelf"
KETTLE = "Descale the kettle with white vinegar once a month so the heating element keeps working."
SHELF = {  # three .md files, two .txt notes from 2021, and one text stored at three paths
    "overview.md": "# Overview\n\nThe service indexes folders and answers questions about their files.",
    "guides/setup.md": "# Setup\n\nInstall the service with pip and start it with the serve command.",
    "guides/deploy.md": "# Deploy\n\nDeploy the service behind a reverse proxy and set an API key.",
    "notes/standup.txt": "Standup: the team fixed the installer and will deploy the service on Friday.",
    "notes/retro.txt": "Retro: the service install went well; the deploy needs a checklist.",
    "kitchen/kettle.txt": KETTLE,
    "kitchen/kettle-copy.txt": KETTLE,
}
OLD = time.mktime((2021, 6, 1, 12, 0, 0, 0, 0, -1))  # the notes' year, so the Modified facet has two values


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """One server for this module (overrides conftest's), with the shelf indexed into one collection."""
    data = tmp_path_factory.mktemp("facets") / "data"
    root = data / "docs" / "shelf"
    for rel, text in SHELF.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "kitchen" / "kettle-link.txt").symlink_to("kettle.txt")
    for rel in ("notes/standup.txt", "notes/retro.txt"):
        os.utime(root / rel, (OLD, OLD))
    with serve(data) as running, httpx.Client(base_url=running.url, timeout=120) as http:
        http.post("/collections", json={"name": NAME}).raise_for_status()
        job = http.post(f"/collections/{NAME}/index-folder", json={"path": "shelf"}).json()
        while (got := http.get(f"/jobs/{job['id']}").json())["state"] in ("queued", "running"):
            time.sleep(0.2)
        assert got["state"] == "succeeded", got
        yield running.url


def search(p: Page, query: str, where: str = "") -> None:
    page = p.page
    page.wait_for_function(f"[...document.querySelectorAll('#collection option')].some(o => o.value === '{NAME}')")
    page.select_option("#collection", NAME)
    page.fill("#q", query)
    if where:
        if not page.evaluate("document.querySelector('#options').open"):
            page.click("#options summary")
        page.fill("#where", where)
    page.click("#search-form button[type=submit]")


def hit_paths(p: Page) -> list[str]:
    return p.page.locator("#hits li .hit-id").all_inner_texts()


def facet_values(p: Page, heading: str) -> dict[str, int]:
    """The facet list under ``heading``: value -> count, from buttons such as ".md (3)"."""
    items = p.page.locator(f"#facets h3:text-is('{heading}') + ul button").all_inner_texts()
    return {m.group(1): int(m.group(2)) for t in items if (m := re.fullmatch(r"(.+) \((\d+)\)", t))}


@pytest.mark.parametrize("width", [390, 1280])
def test_a_facet_click_narrows_the_search(open_page, width):
    p = open_page(width, name="facets")
    page = p.page
    search(p, "install and deploy the service")
    page.wait_for_selector("#facets:not([hidden]) h3")
    headings = page.locator("#facets h3").all_inner_texts()
    assert headings == ["Type", "Folder", "Modified"], headings
    types = facet_values(p, "Type")
    # Counted per content (the kettle's copy and symlink count once), over the tiny shelf's every file.
    assert types == {".md": 3, ".txt": 3}, types
    folders = facet_values(p, "Folder")
    assert folders == {"guides": 2, "notes": 2, "kitchen": 1, ".": 1}, folders
    this_year = time.gmtime().tm_year
    years = facet_values(p, "Modified")
    assert years == {f"{this_year} and later": 4, "2021 and later": 2}, years
    facets = page.locator("#facets").bounding_box()
    assert facets and facets["x"] >= 0 and facets["x"] + facets["width"] <= width, facets
    assert_fits(p)
    p.shot("facets", "#search-title")

    before = hit_paths(p)
    assert any(h.endswith(".txt") for h in before), before
    page.locator("#facets button", has_text=re.compile(r"^\.md \(")).click()
    page.wait_for_function("document.querySelectorAll('#hits li').length > 0 && [...document.querySelectorAll("
                           "'#hits li .hit-id')].every(e => e.textContent.endsWith('.md'))")
    page.wait_for_function("!document.querySelector('#search-status').textContent.startsWith('Searching')")
    after = hit_paths(p)
    assert all(h.endswith(".md") for h in after) and len(set(after)) == types[".md"], after
    assert page.input_value("#ext") == ".md" and "ext=.md" in page.url
    # The facets follow: one type left (no Type list), the folders of the three .md files.
    page.wait_for_function("![...document.querySelectorAll('#facets h3')].some(h => h.textContent === 'Type')")
    assert facet_values(p, "Folder") == {"guides": 2, ".": 1}, page.inner_text("#facets")
    assert_fits(p)
    p.shot("narrowed", "#search-title")


def test_a_file_with_copies_is_one_hit_with_its_other_paths_on_hover(open_page, width=1280):
    p = open_page(width, name="copies")
    page = p.page
    search(p, "descale the kettle with vinegar")
    page.wait_for_selector("#hits li")
    kettles = [h for h in hit_paths(p) if h.startswith("kitchen/")]
    assert len(kettles) == 1, hit_paths(p)  # one content, one hit
    hit = page.locator("#hits li", has=page.locator(".hit-id", has_text=kettles[0]))
    also = hit.locator(".also-at")
    assert also.inner_text() == "also at 2 other paths"
    others = (also.get_attribute("title") or "").split("\n")
    assert sorted([kettles[0], *others]) == ["kitchen/kettle-copy.txt", "kitchen/kettle-link.txt",
                                             "kitchen/kettle.txt"], others
    assert_fits(p)


def test_the_where_box_narrows_or_says_what_is_wrong(open_page, server, width=1280):
    p = open_page(width, name="where")
    page = p.page
    search(p, "install and deploy the service", where='{"ext": {"$in": [".md"]}}')
    page.wait_for_selector("#hits li")
    hits = hit_paths(p)
    assert hits and all(h.endswith(".md") for h in hits), hits
    assert "where=" in page.url

    # Not JSON: the page says so before asking the server, and shows no stale hits.
    page.fill("#where", '{"ext": ')
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#search-status.error")
    assert page.inner_text("#search-status").startswith("Where: not JSON"), page.inner_text("#search-status")

    # An unknown operator: the API's own one-line message, not a blank result.
    bad = '{"ext": {"$like": "md"}}'
    expected = httpx.post(f"{server}/collections/{NAME}/query", json={
        "query": "install", "filters": {"where": {"ext": {"$like": "md"}}}}).json()["error"]["message"]
    page.fill("#where", bad)
    page.click("#search-form button[type=submit]")
    page.wait_for_function("document.querySelector('#search-status').textContent.includes('$like')")
    shown = page.inner_text("#search-status")
    assert shown == expected and "\n" not in shown and "Traceback" not in shown, shown
    assert page.locator("#search-status.error").count() == 1 and page.locator("#hits li").count() == 0
    assert page.locator("#facets").is_hidden()
    assert_fits(p)
    # Chromium logs every failed fetch; the 422 answers are the ones this test asked for.
    assert all("status of 422" in e for e in p.errors), p.errors
    p.errors.clear()
