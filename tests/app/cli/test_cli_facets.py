"""``semsearch facets`` in process: the same counts as the HTTP body, a query narrows them, bounds are one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import app.cli as cli
from tests.indexer.test_collection import make_folder

runner = CliRunner()


@pytest.fixture
def g(tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr("app.service.load_model", lambda settings, backend=None: embedder)
    monkeypatch.chdir(tmp_path)
    opts = ["--data-dir", str(tmp_path / "store"), "--server", "none"]
    assert runner.invoke(cli.app, [*opts, "index", str(make_folder(tmp_path / "docs"))]).exit_code == 0
    return opts


def test_facets_count_files_by_folder_and_extension_and_over_a_query(g: list[str]) -> None:
    r = runner.invoke(cli.app, [*g, "--json", "facets", "folder"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    assert {v["value"]: v["count"] for v in body["values"]} == {"animals": 2, "cooking": 2, "space": 2, "code": 1}
    assert body["sources"] == 7
    r = runner.invoke(cli.app, [*g, "--json", "facets", "ext", "--path-glob", "cooking/**"])
    assert json.loads(r.stdout)["values"] == [{"value": ".md", "count": 1}, {"value": ".txt", "count": 1}]
    r = runner.invoke(cli.app, [*g, "--json", "facets", "folder", "--query", "bake bread", "--k", "1"])
    assert json.loads(r.stdout)["values"] == [{"value": "cooking", "count": 1}]
    r = runner.invoke(cli.app, [*g, "facets", "ext", "--top", "2"])
    assert r.exit_code == 0 and "7 files and documents" in r.stdout


def test_facet_bounds_are_one_line_errors(g: list[str]) -> None:
    for args, words in ((["facets", "colour"], "unknown facet field 'colour'"),
                        (["facets", "ext", "--top", "1000"], "over the limit of 100"),
                        (["facets", "folder", "--depth", "0"], "depth must be at least 1")):
        r = runner.invoke(cli.app, [*g, *args])
        assert r.exit_code != 0 and words in r.output, r.output
        assert "Traceback" not in r.output


def test_query_sort_lists_hits_by_path(g: list[str]) -> None:
    r = runner.invoke(cli.app, [*g, "--json", "query", "anything at all", "--mode", "dense", "--sort", "-path",
                                "--k", "3"])
    assert r.exit_code == 0, r.output
    paths = [h["path"] for h in json.loads(r.stdout)["hits"]]
    assert paths == sorted(paths, reverse=True) and paths[0].endswith("space/notes.html")
    r = runner.invoke(cli.app, [*g, "query", "x", "--sort", "size"])
    assert r.exit_code != 0 and "sort must be one of" in r.output
