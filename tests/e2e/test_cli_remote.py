"""The fast CLI: with a server running for the same data folder and model, `query`, `embed`, `compare`
and `collections` ask it over HTTP and print exactly what they print without one."""

from __future__ import annotations

from tests.indexer.test_collection import make_folder
from tests.serving import as_json, free_port, serve

# The same command run without and with a server: stdout must be identical.
CASES = [
    ("query", "bake a loaf with a golden crust", "--json", "--k", "3"),
    ("query", "purring cats", "--mode", "dense", "--explain"),
    ("embed", "hello world", "a second text"),
    ("compare", "a cat sleeps", "a kitten naps", "--json"),
    ("compare", "a cat sleeps", "a kitten naps", "stock markets fell"),
    ("collections", "--json"),
    ("collections", "info", "default"),
]


def test_commands_ask_the_running_server_and_print_the_same(tmp_path, run_cli):
    root = make_folder(tmp_path / "docs")
    run_cli("index", str(root), "--json")
    here = {args: run_cli(*args, "-v", "--server", "none") for args in CASES}
    assert all("using server" not in p.stderr for p in here.values())
    assert "no server; loading the model" in here[CASES[0]].stderr

    with serve(run_cli.data_dir, cwd=tmp_path, SEMSEARCH_API_KEYS="s3cret") as server:
        url, found = server.url, server.client_env
        key = {**found, "SEMSEARCH_API_KEY": "s3cret"}
        for args in CASES:
            via = run_cli(*args, "-v", **key)  # found on SEMSEARCH_HOST:SEMSEARCH_PORT
            assert f"using server {url}" in via.stderr, args
            assert via.stdout == here[args].stdout, args
        named = run_cli("--server", url, "query", "purring cats", "--json", SEMSEARCH_API_KEY="s3cret")
        assert as_json(named)["hits"][0]["path"].endswith("cats.txt")

        # collections create / delete go through the server; its errors read like the library's
        made = as_json(run_cli("collections", "create", "fresh", "--index-type", "hnsw", "--json", **key))
        assert (made["name"], made["index_type"], made["chunks"]) == ("fresh", "hnsw", 0)
        assert run_cli("collections", "delete", "fresh", "--yes", **key).stdout.strip() == "deleted collection fresh"
        gone = run_cli("collections", "info", "fresh", check=False, **key)
        assert gone.returncode == 2 and "Collection 'fresh' does not exist" in gone.stderr

        wrong = run_cli("collections", check=False, **{**found, "SEMSEARCH_API_KEY": "nope"})
        assert wrong.returncode == 2 and "SEMSEARCH_API_KEY" in wrong.stderr and "Traceback" not in wrong.stderr

        # a server for another data folder is never asked
        other = run_cli("collections", "-v", "--data-dir", str(tmp_path / "other"), **key)
        assert "serves another data folder or model" in other.stderr and "no collections in" in other.stdout
    assert not (run_cli.data_dir / "collections" / "fresh").exists()


def test_an_unreachable_server_is_one_line_and_exit_3(run_cli):
    url = f"http://127.0.0.1:{free_port()}"
    proc = run_cli("collections", "--server", url, check=False)
    assert proc.returncode == 3
    assert proc.stderr.startswith(f"error: cannot reach the server at {url}") and "Traceback" not in proc.stderr
