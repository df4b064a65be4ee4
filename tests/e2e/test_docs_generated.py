"""The generated parts of docs/ (API, CLI and settings references) are what docs/generate.py prints now."""

from __future__ import annotations

import runpy

from tests.serving import REPO


def test_generated_docs_are_current():
    generate = runpy.run_path(str(REPO / "docs" / "generate.py"))  # a script, not an installed package
    stale = generate["stale"]()
    assert not stale, ("generated docs differ from the code: run `make docs` and commit "
                       + ", ".join(str(p.relative_to(REPO)) for p in stale))
