"""The page over SEMSEARCH_STORE=postgres, unchanged: create a collection, index a folder and watch the job,
search with filters, open a hit and see its passage, list the files - against a server whose collections
and jobs live in a real PostgreSQL (tests/postgres_server.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.browser.conftest import HANDBOOK
from tests.browser.test_page_flows import activate, fill, index, open_options
from tests.serving import serve


@pytest.fixture(scope="module")
def server(browser_docs, postgres, tmp_path_factory) -> Iterator[str]:
    """This module's server: the same documents as the page tests, the collections in Postgres."""
    name = f"page_{uuid.uuid4().hex[:8]}"
    url = postgres.create_database(name)
    data = tmp_path_factory.mktemp("page-postgres") / "data"
    try:
        with serve(data, SEMSEARCH_STORE="postgres", SEMSEARCH_POSTGRES_URL=url,
                   SEMSEARCH_ALLOWED_ROOTS=str(browser_docs)) as running:
            yield running.url
    finally:
        postgres.drop_database(name)


def test_the_page_does_the_whole_job_over_postgres(open_page, browser_docs):
    p = open_page(1280, name="postgres")
    page = p.page
    page.wait_for_selector("#empty-guide:not([hidden])")  # a new database: no collections yet
    fill(p, "#new-name", "handbook", "mouse")
    activate(p, "#create-form button", "mouse")
    page.locator("#collection-table tr[data-name='handbook']").wait_for()
    page.select_option("#index-collection", "handbook")
    done = index(p, str(browser_docs / "handbook"), "mouse")
    assert "1 skipped" in done

    fill(p, "#q", "how do I change my password", "mouse")
    open_options(p, "mouse")
    fill(p, "#path-glob", "security/*", "mouse")
    fill(p, "#ext", "txt", "mouse")
    activate(p, "#search-form button[type=submit]", "mouse")
    page.wait_for_selector("#hits li")
    hits = page.locator("#hits li .hit-id")
    assert hits.count() == 1 and hits.first.inner_text() == "security/passwords.txt"
    activate(p, "#hits li .hit-id", "mouse")
    page.wait_for_selector("#viewer:not([hidden]) mark.span")
    assert "Passwords are stored" in page.inner_text("#viewer-text")
    activate(p, "#viewer-close", "mouse")

    page.select_option("#sources-collection", "handbook")
    activate(p, "#sources-form button", "mouse")
    page.wait_for_selector("#sources li button")
    assert page.inner_text("#sources-page").endswith(f"of {len(HANDBOOK)}")
    p.shot("postgres", "#sources")
