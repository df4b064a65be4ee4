"""A new user's whole job on the page, in Chromium, at 1280 px and 390 px, by mouse and by keyboard:
create a collection, index two folders and watch the jobs, list files, search with filters, open a hit,
page, share the URL, find the query among its hits on the map, delete the collection."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from tests.browser.conftest import HANDBOOK, Page

JOB_DONE = "document.querySelector('#job-status').textContent.match(/^(succeeded|failed|cancelled)/)"


def status(p: Page, sel: str) -> str:
    return p.page.locator(sel).inner_text()


def activate(p: Page, sel: str, by: str) -> None:
    """Press a control the way the user would: a click, or focus it and press Enter."""
    if by == "mouse":
        p.page.click(sel)
    else:
        p.page.focus(sel)
        p.page.keyboard.press("Enter")


def fill(p: Page, sel: str, text: str, by: str) -> None:
    if by == "mouse":
        p.page.click(sel)
    else:
        p.page.focus(sel)
    p.page.keyboard.press("Control+A")
    p.page.keyboard.press("Backspace")
    p.page.keyboard.type(text)


def open_options(p: Page, by: str) -> None:
    """Unfold the search options (a <details>: pressing its summary again would fold them)."""
    if not p.page.evaluate("document.querySelector('#options').open"):
        activate(p, "#options summary", by)


def index(p: Page, folder: str, by: str) -> str:
    fill(p, "#index-path", folder, by)
    if by == "mouse":
        p.page.click("#index-form button")
    else:
        p.page.keyboard.press("Enter")  # submits the form
    p.page.wait_for_function(JOB_DONE, timeout=180_000)
    text = status(p, "#job-status")
    assert text.startswith("succeeded"), text
    return text


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("by", ["mouse", "keyboard"])
def test_new_user_flow(open_page, server, width, by):
    name = f"{by}-{width}"
    for c in httpx.get(server + "/collections").json()["collections"]:  # a new user's empty server
        httpx.delete(f"{server}/collections/{c['name']}")
    p = open_page(width, name=f"flow-{by}")
    page = p.page
    # The empty state guides on the page itself.
    page.wait_for_selector("#empty-guide:not([hidden])")
    assert "Create a collection" in page.inner_text("#empty-guide")
    p.assert_no_overflow()
    p.shot("empty", "#collections")

    fill(p, "#new-name", name, by)
    activate(p, "#create-form button", by) if by == "mouse" else page.keyboard.press("Enter")
    row = page.locator(f"#collection-table tr[data-name='{name}']")
    row.wait_for()  # appears without a reload, and every view's collection list follows
    for select in ("#index-collection", "#collection", "#map-collection", "#sources-collection"):
        assert page.input_value(select) == name

    first = index(p, "example", by)
    assert "3 / 3 files" in first and "3 added" in first
    second = index(p, "handbook", by)
    assert re.search(r"(\d+) / \1 files", second) and "1 skipped" in second
    assert page.get_attribute("#job-progress", "value") == page.get_attribute("#job-progress", "max")
    page.click("#job-skipped summary") if by == "mouse" else (page.focus("#job-skipped summary"),
                                                               page.keyboard.press("Enter"))
    assert re.search(r"\S+ · \.png · 1 file: .+\s+logo\.png", page.inner_text("#job-skipped"))  # grouped
    assert row.locator("td").nth(0).inner_text() == str(3 + len(HANDBOOK))  # files column
    p.shot("indexed", "#index-title")

    # Documents and files, paged.
    activate(p, "#sources-form button", by)
    page.wait_for_selector("#sources li button")
    assert page.locator("#sources li").count() == 20
    assert page.inner_text("#sources-page") == f"1–20 of {3 + len(HANDBOOK)}"
    activate(p, "#sources-next", by)
    page.wait_for_function("document.querySelector('#sources-page').textContent.startsWith('21')")
    assert page.locator("#sources li").count() == 3 + len(HANDBOOK) - 20
    # Any of them opens as full text (no passage to mark: the viewer starts at the top).
    listed = page.locator("#sources li button").first
    listed_id = listed.get_attribute("title")  # the full path; the list shows it below its folder
    activate(p, "#sources li button", by)
    page.wait_for_function("document.querySelector('#viewer-status').textContent.includes('characters')")
    assert page.inner_text("#viewer-title") == listed_id and page.inner_text("#viewer-text").strip()
    assert page.locator("#viewer mark").count() == 0
    activate(p, "#viewer-close", by)

    # A document with metadata (sent through the API: the page indexes folders), found by its metadata.
    httpx.post(f"{server}/collections/{name}/documents", json={"documents": [
        {"id": "recipe-1", "text": "Sourdough bread needs a long, slow rise.", "metadata": {"topic": "baking"}}]},
        timeout=120).raise_for_status()
    fill(p, "#q", "how long does dough rise", by)
    open_options(p, by)
    fill(p, "#metadata", "topic=baking", by)
    activate(p, "#search-form button[type=submit]", by)
    page.wait_for_selector("#hits li")
    assert page.locator("#hits li .hit-id").all_inner_texts() == ["recipe-1"] and "meta=topic" in page.url
    # Its three numbers: the rank score, the cosine, the bm25 (the query's words matched).
    head = page.inner_text("#hits li .hit-head")
    assert re.search(r"score \d\.\d{4}", head) and re.search(r"cosine 0\.\d{4}", head) and "bm25 " in head
    fill(p, "#metadata", "", by)

    # Gibberish has nearest neighbours too; a minimum cosine says there is no good match.
    fill(p, "#q", "zxqv blorf", by)
    activate(p, "#search-form button[type=submit]", by)
    page.wait_for_selector("#hits li")
    cosines = [float(c.split()[1]) for c in page.locator("#hits li .hit-cosine").all_inner_texts()]
    assert cosines and max(cosines) < 0.3, cosines
    fill(p, "#min-similarity", "0.3", by)
    activate(p, "#search-form button[type=submit]", by)
    page.wait_for_function("document.querySelector('#search-status').textContent.startsWith('no hits')")
    assert "cosine of 0.3 or more" in status(p, "#search-status") and "min=0.3" in page.url
    fill(p, "#min-similarity", "", by)

    # Search with filters: only .txt under security/ of the handbook.
    fill(p, "#q", "how do I change my password", by)
    open_options(p, by)
    fill(p, "#path-glob", "security/*", by)
    fill(p, "#ext", "txt", by)
    page.select_option("#mode", "dense")
    activate(p, "#search-form button[type=submit]", by)
    page.wait_for_selector("#hits li")
    hits = page.locator("#hits li .hit-id")
    assert hits.count() == 1 and hits.first.inner_text() == "security/passwords.txt"  # below handbook/
    assert hits.first.get_attribute("title").endswith("/docs/handbook/security/passwords.txt")
    assert "glob=security" in page.url and "ext=txt" in page.url and "mode=dense" in page.url
    p.assert_no_overflow()
    p.shot("filtered", "#search-title")

    # Modified after a date to come: nothing yet, and the page says so.
    page.fill("#modified-after", "2999-01-01")
    activate(p, "#search-form button[type=submit]", by)
    page.wait_for_function("document.querySelector('#search-status').textContent.startsWith('no hits')")
    assert "after=2999-01-01" in page.url and page.locator("#hits li").count() == 0
    page.fill("#modified-after", "")
    # The filter language, raw: a where that keeps nothing, then one that is not JSON (said on the page).
    page.fill("#where", '{"$not": {"path": {"$glob": "security/**"}}}')
    activate(p, "#search-form button[type=submit]", by)
    page.wait_for_function("document.querySelector('#search-status').textContent.startsWith('no hits')")
    assert "where=" in page.url
    page.fill("#where", '{"kind": ')
    activate(p, "#search-form button[type=submit]", by)
    page.wait_for_function("document.querySelector('#search-status').textContent.startsWith('Where: not JSON')")
    page.fill("#where", "")
    activate(p, "#search-form button[type=submit]", by)
    page.wait_for_selector("#hits li")

    # Open the hit: its full text, the passage marked and scrolled into view.
    activate(p, "#hits li .hit-id", by)
    page.wait_for_selector("#viewer:not([hidden]) mark.span")
    assert "Passwords are stored" in page.inner_text("#viewer-text")
    assert page.inner_text("#viewer mark.span").strip() and page.locator("#viewer mark.span").is_visible()
    assert page.evaluate("(() => { const r = document.querySelector('#viewer mark.span').getBoundingClientRect();"
                         " return r.top >= 0 && r.bottom <= innerHeight; })()")
    p.shot("opened", "#viewer")
    activate(p, "#viewer-close", by)

    # A broad search, two per page, with a long token in a snippet: page forward, then share the URL.
    for sel in ("#path-glob", "#ext"):
        fill(p, sel, "", by)
    fill(p, "#k", "2", by)
    fill(p, "#q", f"booking code {HANDBOOK['travel.txt'].split()[-4]}", by)
    page.select_option("#mode", "hybrid")
    activate(p, "#search-form button[type=submit]", by)
    page.wait_for_function("document.querySelectorAll('#hits li').length === 2")
    assert page.locator("#hits li .hit-id").first.inner_text().endswith("travel.txt")
    p.assert_no_overflow()
    page1 = page.locator("#hits li .hit-id").all_inner_texts()
    activate(p, "#hits-next", by)
    page.wait_for_function("document.querySelector('#hits').start === 3")
    page2 = page.locator("#hits li .hit-id").all_inner_texts()
    assert len(page2) == 2 and not set(page1) & set(page2) and "offset=2" in page.url
    p.shot("page-2", "#search-title")
    activate(p, "#share", by)
    page.wait_for_function("document.querySelector('#search-status').textContent.startsWith('Link')")
    shared = status(p, "#search-status").split(": ", 1)[1]
    assert shared == page.url.split("#")[0]
    other = open_page(width, shared.removeprefix(p.base), name=f"shared-{by}")
    other.page.wait_for_function("document.querySelectorAll('#hits li').length === 2")
    assert other.page.locator("#hits li .hit-id").all_inner_texts() == page2
    assert other.page.input_value("#q") == page.input_value("#q") and other.page.input_value("#k") == "2"
    other.shot("shared", "#search-title")
    activate(p, "#hits-prev", by)
    page.wait_for_function("document.querySelector('#hits').start === 1")

    # More like this: the hits of a hit's own vector, itself left out; the link says so; back to the query.
    activate(p, "#hits li:first-child button.like", by)
    page.wait_for_selector("#like-banner:not([hidden])")
    page.wait_for_function("document.querySelector('#search-status').textContent.startsWith('hits')")
    like = page.locator("#hits li .hit-id").all_inner_texts()
    assert like and page1[0] not in like and "like=" in page.url and page1[0] in status(p, "#like-banner")
    activate(p, "#like-clear", by)
    page.wait_for_function("document.querySelector('#like-banner').hidden && "
                           "document.querySelector('#search-status').textContent.startsWith('hits 1')")
    assert page.locator("#hits li .hit-id").all_inner_texts() == page1 and "like=" not in page.url

    # The map: the query's point among its hits; the first hit on the map is the first hit of the search.
    activate(p, "#map-form button", by)
    page.wait_for_function("document.querySelector('#map-status').textContent.includes('drawn')")
    assert page.locator("#map-hits li").count() == 2
    first_id = page.locator("#hits li .hit-id").first.get_attribute("title")  # its full path
    assert page.locator("#map-hits li button").first.inner_text().startswith(
        "…/" + "/".join(first_id.split("/")[-2:]))
    canvas = page.locator("#map-canvas")
    if by == "mouse":
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        qx, qy = float(canvas.get_attribute("data-query-x")), float(canvas.get_attribute("data-query-y"))
        page.mouse.move(box["x"] + qx, box["y"] + qy)
        assert status(p, "#map-readout").startswith("Your query")
        assert "best hit is #1" in status(p, "#map-readout")
    else:
        canvas.focus()
        page.keyboard.press("ArrowRight")  # the first stop is hit #1
        assert status(p, "#map-readout").startswith("hit #1")
    p.shot("map", "#map")
    if by == "mouse":
        page.click("#map-hits li button")
    else:
        page.keyboard.press("Enter")
    page.wait_for_selector("#viewer:not([hidden]) mark.chunk")
    assert page.inner_text("#viewer-title") == first_id
    p.assert_no_overflow()

    # Delete: asks first; "cancel" keeps it, "OK" deletes it and the guide is back.
    p.accept_dialogs = False
    delete = f"#collection-table tr[data-name='{name}'] button"
    activate(p, delete, by)
    assert "cannot be undone" in p.dialogs[-1] and status(p, "#collections-status") == "Nothing deleted."
    p.accept_dialogs = True
    activate(p, delete, by)
    row.wait_for(state="detached")
    page.wait_for_selector("#empty-guide:not([hidden])")
    p.assert_no_overflow()
    p.shot("deleted", "#collections")


def test_map_by_touch(open_page, server):
    """A phone: a tap reads a point (there is no hover), a second tap on it opens it."""
    for c in httpx.get(server + "/collections").json()["collections"]:
        httpx.delete(f"{server}/collections/{c['name']}")
    job = httpx.post(server + "/collections/touch/index-folder", json={"path": "example"}).json()
    for _ in range(600):
        if httpx.get(f"{server}/jobs/{job['id']}").json()["state"] == "succeeded":
            break
        time.sleep(0.2)
    p = open_page(390, "/?c=touch&q=tyre+pressure&k=2", touch=True)
    page = p.page
    page.wait_for_selector("#hits li")
    page.tap("#map-form button")
    page.wait_for_function("document.querySelector('#map-status').textContent.includes('drawn')")
    canvas = page.locator("#map-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    qx, qy = float(canvas.get_attribute("data-query-x")), float(canvas.get_attribute("data-query-y"))
    page.touchscreen.tap(box["x"] + qx, box["y"] + qy)
    assert status(p, "#map-readout").startswith("Your query “tyre pressure”")
    hx, hy = json.loads(canvas.get_attribute("data-hits"))[0]
    page.touchscreen.tap(box["x"] + hx, box["y"] + hy)
    assert status(p, "#map-readout").startswith("hit #1") and page.locator("#viewer").is_hidden()
    page.touchscreen.tap(box["x"] + hx, box["y"] + hy)
    page.wait_for_selector("#viewer:not([hidden]) mark.chunk")
    assert page.inner_text("#viewer-title").endswith("bicycle-maintenance.txt")
    p.assert_no_overflow()
    p.shot("map-touch", "#viewer")
    httpx.delete(server + "/collections/touch")


def test_watch_a_job_and_cancel_it(open_page, server, browser_docs):
    """Live progress while a big folder is indexed (files, chunks, rate, ETA, the file in progress),
    then Cancel: the job ends cancelled, keeping what it committed, and the button goes away."""
    bulk = browser_docs / "bulk"
    for i in range(800):
        (bulk / f"part-{i // 100}").mkdir(parents=True, exist_ok=True)
        (bulk / f"part-{i // 100}" / f"memo-{i:03d}.txt").write_text(
            f"Memo {i}. The committee reviewed budget line {i} and asked for a second estimate. "
            f"Delivery of order {i * 7} moved to week {i % 52}; the warehouse confirmed the new date.")
    httpx.post(server + "/collections", json={"name": "bulk"}).raise_for_status()
    p = open_page(1280)
    page = p.page
    page.wait_for_selector("#collection-table tr[data-name='bulk']")
    page.select_option("#index-collection", "bulk")
    fill(p, "#index-path", "bulk", "mouse")
    page.click("#index-form button")
    page.wait_for_function("/^running: \\d+ \\/ 800 files · [\\d,]+ chunks embedded \\([\\d,]+ saved\\) · "
                           "[\\d.]+ [KM]?B \\/ [\\d.]+ [KM]?B · [\\d.]+ chunks\\/s · ETA \\d/"
                           ".test(document.querySelector('#job-status').textContent)", timeout=180_000)
    running = status(p, "#job-status")
    assert re.search(r"…/part-\d/memo-\d{3}\.txt", running), running  # the file in progress
    bar = page.locator("#job-progress")
    total = sum(f.stat().st_size for f in bulk.rglob("*.txt"))  # the bar measures bytes, not files
    assert bar.get_attribute("max") == str(total) and float(bar.get_attribute("value")) < total
    p.shot("running", "#index-title")
    page.click("#job-cancel")
    page.wait_for_function("document.querySelector('#job-status').textContent.startsWith('cancelled')",
                           timeout=120_000)
    assert page.locator("#job-cancel").is_hidden()
    files = httpx.get(server + "/collections/bulk").json()["files"]
    assert files < 800, files  # it stopped; what it committed stays
    page.wait_for_function(f"document.querySelector(\"#collection-table tr[data-name='bulk'] td\")"
                           f".textContent === '{files}'")
    p.shot("cancelled", "#index-title")
    httpx.delete(server + "/collections/bulk")
