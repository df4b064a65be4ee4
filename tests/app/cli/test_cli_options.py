"""Global options (--data-dir, --json, -v, --server) work before and after every command, and every
error is one line and an exit code. In process (typer's CliRunner) with the real model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import app.cli as cli
from tests.indexer.test_collection import make_folder
from tests.indexer.test_eval_runner import write_beir

runner = CliRunner()


@pytest.fixture
def setup(tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    # the session's model, loaded once
    monkeypatch.setattr("app.service.load_model", lambda settings, backend=None: embedder)
    monkeypatch.delenv("SEMSEARCH_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # the default ./data must stay empty: every command gets --data-dir
    return {"data": tmp_path / "store", "docs": make_folder(tmp_path / "docs"), "beir": write_beir(tmp_path / "beir")}


def both(cmd: list[str], globals_: list[str]) -> tuple[Any, Any]:
    """``semsearch GLOBALS CMD`` and ``semsearch CMD GLOBALS``."""
    return runner.invoke(cli.app, [*globals_, *cmd]), runner.invoke(cli.app, [*cmd, *globals_])


# Commands whose output is the same whenever they run (after the index step below).
SAME_OUTPUT = [
    ["query", "bake a loaf with a golden crust", "--k", "2"],
    ["embed", "hello world"],
    ["compare", "a cat sleeps", "a kitten naps"],
    ["collections"],
    ["collections", "list"],
    ["collections", "info", "default"],
    ["explain", "The cat sat."],
]


def test_global_options_before_or_after_every_command(setup: dict[str, Path]) -> None:
    g = ["--data-dir", str(setup["data"]), "--json", "--server", "none", "-v"]
    first, again = both(["index", str(setup["docs"])], g)
    assert first.exit_code == again.exit_code == 0, first.output + again.output
    assert json.loads(first.stdout)["files"]["added"] == json.loads(again.stdout)["files"]["unchanged"] > 0

    for cmd in SAME_OUTPUT:
        before, after = both(cmd, g)
        assert before.exit_code == after.exit_code == 0, (cmd, before.output, after.output)
        assert before.stdout == after.stdout, cmd
        json.loads(before.stdout)  # --json took effect in either position
    hits = json.loads(runner.invoke(cli.app, [*SAME_OUTPUT[0], *g]).stdout)["hits"]
    assert hits[0]["path"].endswith("bread.md")

    made = [runner.invoke(cli.app, [*g, "collections", "create", "one"]),
            runner.invoke(cli.app, ["collections", "create", "two", "--index-type", "hnsw", "--language", "fr", *g])]
    assert [json.loads(r.stdout)["index_type"] for r in made] == ["flat", "hnsw"]
    assert [json.loads(r.stdout)["language"] for r in made] == ["en", "fr"]
    gone = [runner.invoke(cli.app, [*g, "collections", "delete", "one", "--yes"]),
            runner.invoke(cli.app, ["collections", "delete", "two", "--yes", *g])]
    assert [json.loads(r.stdout) for r in gone] == [{"deleted": "one"}, {"deleted": "two"}]

    cats = str(setup["docs"] / "animals/cats.txt")
    removed = [runner.invoke(cli.app, [*g, "remove", cats]), runner.invoke(cli.app, ["remove", cats, *g])]
    assert json.loads(removed[0].stdout) == {"removed": 1}
    assert removed[1].exit_code == 2 and "is not in collection 'default'" in removed[1].stderr

    evals = both(["eval", str(setup["beir"]), "--mode", "dense"], g)
    assert [json.loads(r.stdout)["index"]["collection"] for r in evals] == ["beir-beir", "beir-beir"]
    bench = both(["bench", "--section", "nope"], g)
    assert [r.exit_code for r in bench] == [2, 2] and "--section must be one of" in bench[1].stderr

    assert sorted(p.name for p in (setup["data"] / "collections").iterdir()) == ["beir-beir", "default"]
    assert not (Path.cwd() / "data").exists()


def test_serve_takes_the_global_options_after_it_too(setup: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append(kw))
    for args in (["--data-dir", "d1", "serve", "--port", "8123"], ["serve", "--port", "8124", "--data-dir", "d2"]):
        assert runner.invoke(cli.app, args).exit_code == 0
    assert [c["port"] for c in calls] == [8123, 8124]
    import os

    assert os.environ["SEMSEARCH_DATA_DIR"] == "d2"  # what the workers read
    monkeypatch.delenv("SEMSEARCH_DATA_DIR")


def test_remove_of_a_missing_file_exits_2_with_and_without_json(setup: dict[str, Path]) -> None:
    d = ["--data-dir", str(setup["data"]), "--server", "none"]
    assert runner.invoke(cli.app, [*d, "index", str(setup["docs"]), "--json"]).exit_code == 0
    missing = str(setup["docs"] / "nowhere.txt")
    text, as_json = runner.invoke(cli.app, [*d, "remove", missing]), runner.invoke(cli.app, [*d, "remove", missing,
                                                                                             "--json"])
    assert text.exit_code == as_json.exit_code == 2
    assert text.stderr == as_json.stderr == f"error: {missing} is not in collection 'default'\n"
    assert as_json.stdout == ""


def test_delete_asks_first_and_refuses_without_a_terminal(setup: dict[str, Path]) -> None:
    d = ["--data-dir", str(setup["data"]), "--server", "none"]
    assert runner.invoke(cli.app, [*d, "collections", "create", "keep"]).exit_code == 0
    refused = runner.invoke(cli.app, [*d, "collections", "delete", "keep"])  # CliRunner's stdin is no tty
    assert refused.exit_code == 2 and "stdin is not a terminal (pass --yes)" in refused.stderr
    assert (setup["data"] / "collections" / "keep").is_dir()
    missing = runner.invoke(cli.app, [*d, "collections", "delete", "nope", "--yes"])
    assert missing.exit_code == 2 and "Collection 'nope' does not exist" in missing.stderr


@pytest.mark.slow  # a real process
def test_delete_on_a_terminal_deletes_only_on_yes(setup: dict[str, Path]) -> None:
    import os
    import pty
    import subprocess

    from tests.serving import SEMSEARCH, cli_env

    assert runner.invoke(cli.app, ["--data-dir", str(setup["data"]), "collections", "create", "keep"]).exit_code == 0

    def answer(text: str) -> subprocess.CompletedProcess[str]:
        tty, terminal = pty.openpty()  # a real terminal on stdin, as a user has
        try:
            proc = subprocess.Popen([*SEMSEARCH, "collections", "delete", "keep"], env=cli_env(setup["data"]),
                                    stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            os.write(tty, text.encode())
            out, err = proc.communicate(timeout=120)
        finally:
            os.close(tty)
            os.close(terminal)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    no = answer("n\n")
    assert no.returncode == 2 and "Delete collection 'keep' (0 files, 0 documents, 0 chunks)?" in no.stderr
    assert (setup["data"] / "collections" / "keep").is_dir()
    yes = answer("y\n")
    assert yes.returncode == 0 and yes.stdout == "deleted collection keep\n"
    assert not (setup["data"] / "collections" / "keep").exists()


def test_an_unexpected_error_is_one_line_and_the_traceback_only_with_v(setup: dict[str, Path],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(settings: Any, backend: str | None = None) -> Any:
        raise RuntimeError("the model file is truncated")

    monkeypatch.setattr("app.service.load_model", broken)
    quiet = runner.invoke(cli.app, ["embed", "x", "--server", "none"])
    assert quiet.exit_code == 1
    assert quiet.stderr == ("error: unexpected RuntimeError: the model file is truncated "
                            "(run with -v for the traceback)\n")
    loud = runner.invoke(cli.app, ["embed", "x", "--server", "none", "-v"])
    assert loud.exit_code == 1 and "Traceback (most recent call last)" in loud.stderr
    assert loud.stderr.rstrip().endswith("error: unexpected RuntimeError: the model file is truncated")


def test_the_index_summary_says_how_many_chunks_came_from_the_embedding_cache(setup: dict[str, Path]) -> None:
    g = ["--data-dir", str(setup["data"]), "--server", "none"]
    first = runner.invoke(cli.app, [*g, "index", str(setup["docs"]), "--collection", "one"])
    again = runner.invoke(cli.app, [*g, "index", str(setup["docs"]), "--collection", "two"])
    assert first.exit_code == again.exit_code == 0, first.output + again.output
    assert "(0 from the embedding cache: 0% hit rate)" in first.stdout
    assert "from the embedding cache: 100% hit rate)" in again.stdout
