"""Browser tests: Playwright driving Debian's Chromium (/usr/bin/chromium, never a downloaded browser)
against a real ``semsearch serve`` with the real model. Every request that leaves the server is blocked,
so a page that needs the network fails. Screenshots go to tests/browser/screenshots/ (gitignored)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.serving import REPO, serve

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).parent / "screenshots"

# A second folder to index next to docker/example: a handbook with a subfolder, enough files to page
# through, one word long enough to overflow a narrow screen if the page let it, and a file that is skipped.
LONG_TOKEN = "supercalifragilistic" * 8
HANDBOOK = {
    "onboarding.md": "# Onboarding\n\nNew engineers get a laptop, a badge and a mentor in their first week.",
    "security/keys.md": "# API keys\n\nRotate the API keys every ninety days and never commit them to git.",
    "security/passwords.txt": "Passwords are stored with a slow hash. Reset a password from the login page.",
    "travel.txt": f"Book trains for trips under four hours. The booking code is {LONG_TOKEN} for the portal.",
    **{f"notes/note-{i:02d}.txt": f"Meeting note {i}: the team discussed release number {i} and its tests."
       for i in range(22)},
}


@pytest.fixture(scope="session")
def browser_docs(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("browser") / "data"
    root = data / "docs"
    shutil.copytree(REPO / "docker" / "example", root / "example")
    for rel, text in HANDBOOK.items():
        (root / "handbook" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "handbook" / rel).write_text(text)
    (root / "handbook" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    return root


@pytest.fixture(scope="session")
def server(browser_docs) -> Iterator[str]:
    with serve(browser_docs.parent) as running:
        yield running.url


# Per module, not per session: while a sync Playwright is live, asyncio sees a running loop in the main
# thread, which breaks every later test that calls asyncio.run / anyio.run (tests/e2e/test_mcp.py).
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (`make install-test` installs it as root)")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield b
        b.close()


class Page:
    """A Playwright page plus what the tests check on every page: console errors, failed or blocked
    requests, horizontal overflow; and numbered screenshots."""

    def __init__(self, page: Any, base: str, name: str, width: int) -> None:
        self.page, self.base, self.name, self.width = page, base, name, width
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.shots = 0
        self.accept_dialogs = True
        self.dialogs: list[str] = []

    def _dialog(self, d: Any) -> None:
        self.dialogs.append(d.message)
        d.accept() if self.accept_dialogs else d.dismiss()

    def shot(self, step: str, at: str | None = None) -> None:
        """A screenshot of the screen with ``at`` scrolled to its top (of the whole page without it)."""
        self.shots += 1
        SHOTS.mkdir(exist_ok=True)
        if at:
            self.page.eval_on_selector(at, "e => e.scrollIntoView({block: 'start'})")
        self.page.screenshot(path=str(SHOTS / f"{self.name}-{self.width}-{self.shots:02d}-{step}.png"),
                             full_page=at is None)

    def assert_no_overflow(self) -> None:
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= self.width, f"page is {width} px wide at a {self.width} px viewport"


@pytest.fixture
def open_page(browser, server, request) -> Iterator[Callable[..., Page]]:
    """open_page(width, path="/", touch=False) -> Page on a fresh context, the network blocked."""
    pages: list[Page] = []
    contexts: list[Any] = []

    def make(width: int, path: str = "/", *, touch: bool = False, name: str | None = None) -> Page:
        ctx = browser.new_context(viewport={"width": width, "height": 900}, has_touch=touch, is_mobile=touch,
                                  permissions=["clipboard-read", "clipboard-write"])
        contexts.append(ctx)
        page = ctx.new_page()
        wrapped = Page(page, server, name or request.node.name.split("[")[0].removeprefix("test_"), width)
        host = urlsplit(server).netloc

        def route(r: Any) -> None:
            if urlsplit(r.request.url).netloc == host:
                r.continue_()
            else:
                wrapped.blocked.append(r.request.url)
                r.abort()

        ctx.route("**/*", route)
        page.on("console", lambda m: wrapped.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: wrapped.errors.append(str(e)))
        page.on("requestfailed", lambda r: wrapped.errors.append(f"request failed: {r.url}"))
        page.on("dialog", wrapped._dialog)
        page.goto(server + path)
        pages.append(wrapped)
        return wrapped

    yield make
    for p in pages:
        assert not p.errors, f"console errors on {p.name}: {p.errors}"
        assert not p.blocked, f"requests that needed the network: {p.blocked}"
    for ctx in contexts:
        ctx.close()
