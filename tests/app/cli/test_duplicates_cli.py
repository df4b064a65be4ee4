"""The issue's check through the CLI (in process, typer's CliRunner, the real model): a folder of two
symlinked and one copied license gives one hit with its other paths, and the index summary says how
many files were stored as copies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import app.cli as cli
from tests.indexer.test_duplicates import license_folder

runner = CliRunner()


def test_a_folder_of_two_symlinked_and_one_copied_license_gives_one_hit_with_its_other_paths(
        tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.service.load_model", lambda settings, backend=None: embedder)
    monkeypatch.delenv("SEMSEARCH_DATA_DIR", raising=False)
    root = license_folder(tmp_path / "lic")
    g = ["--data-dir", str(tmp_path / "data"), "--server", "none"]
    indexed = runner.invoke(cli.app, [*g, "index", str(root)])
    assert indexed.exit_code == 0, indexed.output
    assert "5 added" in indexed.stdout and "(3 of them stored as copies" in indexed.stdout

    query = [*g, "query", "freedom to share and change a program", "--k", "5"]
    body = json.loads(runner.invoke(cli.app, [*query, "--json"]).stdout)
    licenses = [h for h in body["hits"] if "Penguins" not in h["snippet"]]
    assert [(h["path"], h["copies"]) for h in licenses] == [(str(root / "a/LICENSE"), 3)]
    assert licenses[0]["also_at"] == [str(root / p) for p in ("b/COPYING", "b/GPL", "z/GPL-3")]
    shown = runner.invoke(cli.app, query).stdout
    assert shown.count("a/LICENSE") == 1 and "also at 3 other paths" in shown and str(root / "z/GPL-3") in shown
