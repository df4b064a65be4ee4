"""The interfaces call the service, not each other: only the app factory imports a route module."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (imports inside functions count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)  # from app import routes
    return found


def test_only_the_app_factory_imports_route_modules():
    outside = [p for p in APP.rglob("*.py") if "routes" not in p.relative_to(APP).parts]
    offenders = {str(p.relative_to(APP.parent)): sorted(m for m in _imports(p) if m == "app.routes"
                                                         or m.startswith("app.routes."))
                 for p in outside if p != APP / "main.py"}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_cli_and_mcp_import_no_routes():
    files = [*(APP / "cli").rglob("*.py"), *APP.glob("mcp*.py")]
    assert len(files) > 5
    for path in files:
        assert not any(m == "app.routes" or m.startswith("app.routes.") for m in _imports(path)), path


STORES = ("indexer.stores.embedded", "indexer.stores.qdrant")


def test_only_the_settings_choose_a_store():
    """app/ reaches a store through the backend the settings build (``StoreBackend``), never its modules."""
    offenders = {str(p.relative_to(APP.parent)): sorted(m for m in _imports(p) if m.startswith(STORES))
                 for p in APP.rglob("*.py") if p != APP / "settings.py"}
    assert {k: v for k, v in offenders.items() if v} == {}
