"""The CLI with damaged collections and snapshots: clear lines, no tracebacks, nothing healthy hidden."""

from __future__ import annotations

import subprocess

from indexer.collection import Collection
from tests.e2e.conftest import SEMSEARCH, as_json, cli_env


def _make(data, embedder, *names):
    for name in names:
        with Collection.create(data, name, embedder) as c:
            c.upsert_documents([{"id": "a", "text": f"Cats nap in {name}."}])


def test_damaged_collection_is_marked_refused_clearly_and_deletable(run_cli, embedder):
    data = run_cli.data_dir
    _make(data, embedder, "good", "bad")
    (data / "collections" / "bad" / "catalog.sqlite3").write_bytes(b"garbage" * 1000)

    listed = run_cli("collections", "--json")
    body = as_json(listed)
    assert [c["name"] for c in body["collections"]] == ["good"] and list(body["damaged"]) == ["bad"]
    human = run_cli("collections")
    assert "good" in human.stdout and "DAMAGED" in human.stdout

    q = run_cli("query", "cats", "--collection", "bad", check=False)
    assert q.returncode == 2 and "Traceback" not in q.stderr
    lines = [ln for ln in q.stderr.splitlines() if ln.strip()]
    assert len(lines) <= 3 and "damaged" in q.stderr and "semsearch delete bad" in q.stderr.replace("\n", " ")

    refused = subprocess.run([*SEMSEARCH, "delete", "bad"], env=cli_env(data), input="n\n", capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode != 0 and (data / "collections" / "bad").exists()
    assert as_json(run_cli("delete", "bad", "--yes", "--json")) == {"deleted": "bad"}
    assert as_json(run_cli("collections", "--json"))["damaged"] == {}
    missing = run_cli("delete", "bad", "--yes", check=False)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
