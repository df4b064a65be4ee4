"""A collection made before chunks had metadata (schema 1) opens, is upgraded in place, and keeps working."""

from __future__ import annotations

import sqlite3

from indexer.collection import Collection
from indexer.search import Filters
from indexer.stores.embedded import EmbeddedBackend
from indexer.stores.embedded.catalog import SCHEMA_VERSION
from tests.indexer.stores.embedded import files


def test_schema_1_collection_opens_and_gains_chunk_metadata(tmp_path, embedder) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text("The lighthouse lamp is cleaned every Sunday.")
    with Collection.open(EmbeddedBackend(tmp_path / "data"), "old", embedder) as c:
        c.upsert_documents([{"id": "d1", "text": "Tide tables for the harbour.", "metadata": {"port": "Brest"}}])
        c.index_folder(root)
    path = files.collections_dir(tmp_path / "data") / "old" / files.CATALOG_FILE
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE chunks DROP COLUMN metadata")  # what version 1 wrote
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    con.commit()
    con.close()

    with Collection.open(EmbeddedBackend(tmp_path / "data"), "old", embedder) as c:
        assert c.search("lighthouse lamp", k=1)[0].path == str(root / "a.txt")
        hits = c.search("tide tables", k=5, filters=Filters(metadata={"port": "Brest"}))
        assert [h.id for h in hits] == ["d1"] and hits[0].metadata == {"port": "Brest"}
    con = sqlite3.connect(path)
    assert con.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == str(SCHEMA_VERSION)
    assert {r[1] for r in con.execute("PRAGMA table_info(chunks)")} >= {"metadata"}
    assert con.execute("SELECT DISTINCT metadata FROM chunks").fetchall() == [("{}",)]
    con.close()
