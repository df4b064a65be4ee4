"""The CLI with damaged collections and snapshots: clear lines, no tracebacks, nothing healthy hidden."""

from __future__ import annotations

import subprocess

from indexer.collection import Collection
from indexer.stores.embedded import EmbeddedBackend
from tests.indexer.stores.embedded import files
from tests.serving import SEMSEARCH, as_json, cli_env


def _make(data, embedder, *names):
    for name in names:
        with Collection.create(EmbeddedBackend(data), name, embedder) as c:
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
    assert len(lines) <= 3 and "damaged" in q.stderr
    assert "semsearch collections delete bad" in q.stderr.replace("\n", " ")

    refused = subprocess.run([*SEMSEARCH, "collections", "delete", "bad"], env=cli_env(data), input="n\n",
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and (data / "collections" / "bad").exists()
    assert as_json(run_cli("collections", "delete", "bad", "--yes", "--json")) == {"deleted": "bad"}
    assert as_json(run_cli("collections", "--json"))["damaged"] == []
    missing = run_cli("collections", "delete", "bad", "--yes", check=False)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_snapshot_create_list_restore(run_cli, embedder, tmp_path):
    data = run_cli.data_dir
    _make(data, embedder, "notes")
    snap = as_json(run_cli("snapshot", "create", "notes", "--json"))
    assert snap["collection"] == "notes" and snap["chunks"] == 1
    assert [s["name"] for s in as_json(run_cli("snapshot", "list", "notes", "--json"))["snapshots"]] == [snap["name"]]
    with Collection.open(EmbeddedBackend(data), "notes", embedder, create=False) as c:  # changed after the snapshot
        c.upsert_documents([{"id": "b", "text": "Dogs fetch."}])
    restored = run_cli("snapshot", "restore", "notes", snap["name"])
    assert "restored notes" in restored.stdout
    with Collection.open(EmbeddedBackend(data), "notes", embedder, create=False) as c:
        assert c.info().documents == 1
    # a snapshot file restored as another collection (e.g. on another machine)
    file = data / "snapshots" / "notes" / snap["name"]
    assert as_json(run_cli("snapshot", "restore", "copy", str(file), "--json"))["chunks"] == 1
    bad = run_cli("snapshot", "restore", "notes", "nope.snapshot", check=False)
    assert bad.returncode == 2 and "has no snapshot" in bad.stderr and "Traceback" not in bad.stderr
    # a tampered snapshot is named by `list` (the others still listed); a forged catalog is refused clearly
    manifest = {**files.snapshot_manifest(file), "chunks": "many"}
    files.forge_snapshot(file, file.with_name("notes-typed.snapshot"), manifest=manifest)
    listed = run_cli("snapshot", "list", "notes")
    assert snap["name"] in listed.stdout and "skipped notes-typed.snapshot: " in listed.stdout
    assert "'chunks'" in listed.stdout
    forged = tmp_path / "forged.snapshot"
    files.forge_snapshot(file, forged, catalog=b"not SQLite " * 100)
    refused = run_cli("snapshot", "restore", "notes", str(forged), check=False)
    assert refused.returncode == 2 and "not a readable semsearch catalog" in refused.stderr
    assert "Traceback" not in refused.stderr
