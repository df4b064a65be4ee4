"""/docs and /redoc render with the network blocked; the favicon; the model's matrices read out by
keyboard and by touch, not only by mouse; nothing overflows a phone screen."""

from __future__ import annotations

import pytest


def test_swagger_ui_renders_offline(open_page):
    p = open_page(1280, "/docs")
    p.page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "semsearch" in p.page.inner_text(".swagger-ui .info .title")
    p.page.get_by_text("/collections/{name}/map", exact=True).first.wait_for()
    p.shot("swagger", "body")


def test_redoc_renders_offline(open_page):
    p = open_page(1280, "/redoc")
    p.page.wait_for_selector("redoc h1, [role=main] h1", timeout=60_000)
    assert "semsearch" in p.page.inner_text("h1")
    p.page.locator("h2", has_text="A 2-D projection of the collection").first.wait_for()
    p.shot("redoc", "body")


def test_favicon_is_served(server, open_page):
    p = open_page(390)
    href = p.page.get_attribute("link[rel=icon]", "href")
    r = p.page.request.get(server + href)
    assert r.status == 200 and r.headers["content-type"].startswith("image/svg")
    assert p.page.request.get(server + "/favicon.ico").status == 200


def explain(p):
    p.page.click("#explain-form button")
    p.page.wait_for_selector("#explain-out:not([hidden])", timeout=120_000)


@pytest.mark.parametrize("width", [1280, 390])
def test_model_readouts_by_keyboard(open_page, width):
    p = open_page(width)
    explain(p)
    page = p.page
    for canvas, readout in (("#attention-canvas", "#attention-readout"), ("#input-canvas", "#input-readout")):
        page.focus(canvas)
        page.keyboard.press("ArrowRight")
        first = page.inner_text(readout)
        page.keyboard.press("ArrowDown")
        second = page.inner_text(readout)
        assert "[CLS] (0)" in first and first != second, (first, second)
    page.fill("#align-text", "A kitten rested on the rug.")
    page.click("#align-form button")
    page.wait_for_selector("#align-out:not([hidden])")
    page.focus("#align-canvas")
    page.keyboard.press("End")
    assert "↔" in page.inner_text("#align-readout") and "cosine" in page.inner_text("#align-readout")
    p.assert_no_overflow()
    p.shot("model-keyboard", "#explain-out")


def test_model_readouts_by_touch(open_page):
    p = open_page(390, touch=True)
    explain(p)
    page = p.page
    canvas = page.locator("#attention-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    idle = page.inner_text("#attention-readout")
    page.touchscreen.tap(box["x"] + box["width"] - 5, box["y"] + box["height"] - 5)  # the last cell
    tapped = page.inner_text("#attention-readout")
    assert tapped != idle and "[SEP]" in tapped
    p.assert_no_overflow()
    p.shot("model-touch", "#attention-canvas")


def test_tab_reaches_every_control_with_a_visible_focus(open_page):
    p = open_page(390)
    page = p.page
    page.wait_for_selector("#empty-guide:not([hidden]), #collection-table:not([hidden])")
    page.evaluate("document.activeElement.blur()")
    seen: dict[str, str] = {}
    for _ in range(60):
        page.keyboard.press("Tab")
        info = page.evaluate("""() => { const e = document.activeElement, s = getComputedStyle(e);
            return [e.id || e.tagName + ':' + (e.textContent || '').trim().slice(0, 20),
                    s.outlineStyle + ' ' + s.outlineWidth]; }""")
        if not info[0].startswith("BODY"):  # between the last control and the first again
            seen.setdefault(info[0], info[1])
    for control in ("api-key", "new-name", "index-path", "sources-kind", "q", "mode", "map-colour",
                    "text-a", "explain-text", "align-text"):
        assert control in seen, f"Tab never reaches #{control}: {list(seen)}"
    hidden_focus = {k: v for k, v in seen.items() if v.startswith("none") or v.endswith(" 0px")}
    assert not hidden_focus, f"focus not visible on {hidden_focus}"
